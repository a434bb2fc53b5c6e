/**
 * Requests in flight per runtime, so a reload can wait for the ones that may still talk to the old process
 * (they looked the runtime up before the new one took over) before it stops that process.
 */
export class InFlightRequests {
  private readonly open = new Map<string, Set<symbol>>();
  private readonly waiters = new Set<() => void>();

  /** A request to the runtime begins; the returned function ends it (once). */
  begin(id: string): () => void {
    const token = Symbol(id);
    let set = this.open.get(id);
    if (set === undefined) {
      set = new Set();
      this.open.set(id, set);
    }
    set.add(token);
    return () => {
      const current = this.open.get(id);
      if (current === undefined || !current.delete(token)) return;
      if (current.size === 0) this.open.delete(id);
      // Copied (a waiter removes itself), and only when someone waits: nearly never, on every request.
      if (this.waiters.size > 0) for (const w of [...this.waiters]) w();
    };
  }

  count(id: string): number {
    return this.open.get(id)?.size ?? 0;
  }

  /**
   * Resolves true once every request to `id` open NOW has ended (later ones do not hold it up), or false
   * after `timeoutMs`.
   */
  drained(id: string, timeoutMs: number): Promise<boolean> {
    const pending = new Set(this.open.get(id) ?? []);
    if (pending.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        const still = this.open.get(id);
        for (const t of pending) if (still === undefined || !still.has(t)) pending.delete(t);
        if (pending.size > 0) return;
        finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      timer.unref?.();
      this.waiters.add(check);
    });
  }
}
