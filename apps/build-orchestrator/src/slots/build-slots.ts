import type { ActivitySlotInfo, CustomSlotSupplier, SlotPermit } from '@temporalio/worker';

/**
 * This worker's build capacity. A build takes a slot when its clone task is polled and keeps it until it is done
 * (its layer cache export, which only pushes to the registry, runs outside the slots) or its workspace is cleaned, so at most `capacity` builds hold a clone here at once. While every slot is taken this
 * worker stops polling the clone queue: further builds stay `queued` in Temporal, where any worker with room
 * (this one later, or another) picks them up.
 */
export class BuildSlots {
  /** Slots reserved for clone tasks (polling or running). */
  private reserved = 0;
  /** Builds whose clone succeeded here and whose cleanup has not run. */
  private readonly held = new Set<string>();
  private waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.held.size;
  }

  /** Called by the clone activity on success: the build keeps a slot beyond its clone task. */
  hold(buildId: string): void {
    this.held.add(buildId);
  }

  /** Called when the build is done (its cache export begins, or its cleanup): the slot is free again. */
  release(buildId: string): void {
    if (this.held.delete(buildId)) this.wake();
  }

  private free(): boolean {
    return this.reserved + this.held.size < this.capacity;
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  /** The Temporal slot supplier of the clone queue's worker. */
  supplier(): CustomSlotSupplier<ActivitySlotInfo> {
    return {
      type: 'custom',
      reserveSlot: async (_ctx, signal): Promise<SlotPermit> => {
        while (!this.free()) {
          await new Promise<void>((resolve, reject) => {
            const onAbort = () => {
              this.waiters = this.waiters.filter((w) => w !== done);
              reject(Object.assign(new Error('slot reservation aborted'), { name: 'AbortError' }));
            };
            const done = () => {
              signal.removeEventListener('abort', onAbort);
              resolve();
            };
            if (signal.aborted) return onAbort();
            signal.addEventListener('abort', onAbort, { once: true });
            this.waiters.push(done);
          });
        }
        this.reserved++;
        return {};
      },
      tryReserveSlot: (): SlotPermit | null => {
        if (!this.free()) return null;
        this.reserved++;
        return {};
      },
      markSlotUsed: () => undefined,
      releaseSlot: () => {
        this.reserved--;
        this.wake();
      },
    };
  }
}
