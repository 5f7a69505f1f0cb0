/**
 * The layer cache exports of one worker, by cache ref (one per rule).
 * - **Owed**: from the end of a build's solve until its export (or its cleanup, if it never gets there) has run. A
 *   build of the same rule waits for it before it solves: two solves of one graph at once on one BuildKit share their
 *   steps, and the new build's progress would miss the CACHED marks of steps the export had already resolved.
 * - **Newest**: the build of the rule that started building last here. Each export overwrites the rule's cache in the
 *   registry, so an older build's export would be replaced moments later by the newer one's: it is skipped (in a burst
 *   of pushes to one rule, that is all exports but the last).
 */
export class CacheExports {
  private readonly owed = new Map<string, { buildId: string; done: Promise<void>; settle: () => void }>();
  private readonly newest = new Map<string, string>();

  /** A build of the rule starts building: it is now the newest. */
  building(cacheRef: string, buildId: string): void {
    this.newest.set(cacheRef, buildId);
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
