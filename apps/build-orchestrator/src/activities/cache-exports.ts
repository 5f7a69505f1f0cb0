/**
 * The layer cache exports of one worker, by cache ref (one per rule).
 * - **Owed**: from the end of a build's solve until its export (or its cleanup, if it never gets there) has run. A
 *   build of the same rule waits for it before it solves: two solves of one graph at once on one BuildKit share their
 *   steps, and the new build's progress would miss the CACHED marks of steps the export had already resolved.
 * - **Newest**: the build of the rule that started building last here. Each export overwrites the rule's cache in the
 *   registry, so an older build's export would be replaced moments later by the newer one's: it is skipped (in a burst
 *   of pushes to one rule, that is all exports but the last).
 * - **Quiet period**: an export waits a moment before it starts (`quietPeriod`), ended early by a newer build of the
 *   rule starting here. In a burst the next build starts only once this one's slot is free, which is when its export
 *   is due: without the wait, half the exports of a one-worker burst ran, each a solve and a push competing with the
 *   next builds for the machine.
 */
export class CacheExports {
  private readonly owed = new Map<string, { buildId: string; done: Promise<void>; settle: () => void }>();
  private readonly newest = new Map<string, string>();
  private readonly quiet = new Map<string, Set<() => void>>();

  /** A build of the rule starts building: it is now the newest, and ends the quiet period of older builds' exports. */
  building(cacheRef: string, buildId: string): void {
    this.newest.set(cacheRef, buildId);
    for (const wake of this.quiet.get(cacheRef) ?? []) wake();
  }

  /**
   * Resolves after `ms`, or as soon as a newer build of the rule starts building here (ask `worthExporting` then), or
   * when `signal` aborts. At once when the export is not worth making already.
   */
  async quietPeriod(cacheRef: string, buildId: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || !this.worthExporting(cacheRef, buildId)) return;
    let wake: () => void = () => undefined;
    const newer = new Promise<void>((resolve) => (wake = resolve));
    const waiting = this.quiet.get(cacheRef) ?? new Set<() => void>();
    this.quiet.set(cacheRef, waiting.add(wake));
    try {
      await waitAtMost(newer, ms, signal);
    } finally {
      waiting.delete(wake);
      if (waiting.size === 0 && this.quiet.get(cacheRef) === waiting) this.quiet.delete(cacheRef);
    }
  }

  /** Whether the build's export is still worth making: no newer build of the rule has started building here. */
  worthExporting(cacheRef: string, buildId: string): boolean {
    return (this.newest.get(cacheRef) ?? buildId) === buildId;
  }

  /** The build's solve ended and its export is to come. */
  owe(cacheRef: string, buildId: string): void {
    let settle: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.owed.get(cacheRef)?.settle();
    this.owed.set(cacheRef, { buildId, done, settle });
  }

  /** What a build of the rule waits for before it solves: another build's export still owed (null when none). */
  owedBefore(cacheRef: string, buildId: string): Promise<void> | null {
    const owed = this.owed.get(cacheRef);
    return owed && owed.buildId !== buildId ? owed.done : null;
  }

  /** The build's export ran, was skipped, or never will (its cleanup). */
  settled(buildId: string): void {
    for (const [ref, owed] of this.owed)
      if (owed.buildId === buildId) {
        this.owed.delete(ref);
        owed.settle();
      }
    for (const [ref, newest] of this.newest) if (newest === buildId) this.newest.delete(ref);
  }
}

/** Resolves when `promise` does, after `ms`, or when `signal` aborts, whichever comes first. */
export async function waitAtMost(promise: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  let timer: NodeJS.Timeout | undefined;
  let stop: () => void = () => undefined;
  try {
    await Promise.race([
      promise,
      new Promise<void>((resolve) => {
        stop = () => resolve();
        timer = setTimeout(stop, ms);
        signal?.addEventListener('abort', stop, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
  }
}
