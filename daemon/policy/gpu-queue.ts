/**
 * One on-demand start at a time per GPU, first come first served: the plan (swap.ts) and the start it leads
 * to run under the turn, so two starts cannot both see "fits" against the same free memory. A start on
 * several GPUs (`gpu:0,1`) holds all of them; it is granted when none of its GPUs is held and no earlier
 * waiter shares one of them (no overtaking, and no deadlock: turns are granted whole, never piece by piece).
 */

export type Release = () => void;

interface Waiter {
  gpus: readonly string[];
  grant: (release: Release) => void;
}

export class GpuQueue {
  private readonly held = new Set<string>();
  private readonly waiting: Waiter[] = [];

  /**
   * Resolves with the function that ends the turn (once), or undefined when `signal` aborts first (the waiter
   * leaves the queue, and the ones behind it may go on).
   */
  turn(gpus: readonly string[], signal?: AbortSignal): Promise<Release | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        gpus: [...new Set(gpus)],
        grant: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        resolve(undefined);
        this.pump();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
      this.pump();
    });
  }

  /** GPUs whose turn is held now, and how many starts wait (for status and tests). */
  view(): { held: string[]; waiting: number } {
    return { held: [...this.held].sort(), waiting: this.waiting.length };
  }

  private pump(): void {
    const blocked = new Set(this.held);
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i] as Waiter;
      if (w.gpus.some((g) => blocked.has(g))) {
        // Whoever comes later and shares a GPU with this waiter queues behind it.
        for (const g of w.gpus) blocked.add(g);
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      for (const g of w.gpus) {
        this.held.add(g);
        blocked.add(g);
      }
      let released = false;
      w.grant(() => {
        if (released) return;
        released = true;
        for (const g of w.gpus) this.held.delete(g);
        this.pump();
      });
    }
  }
}
