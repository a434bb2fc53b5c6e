/**
 * Simulated timers for pure cores that take a timer host (the probe wheel's WheelTimers, the GET
 * client's DeadlineTimers): nothing fires until time is advanced, then every due timer fires in time
 * order (ties in the order they were set), each seeing its own due time as now.
 */
interface SimTimer {
  at: number;
  fire: () => void;
  seq: number;
  refed: boolean;
}

export class SimTimers {
  t = 0;
  private seq = 0;
  private readonly queue = new Map<number, SimTimer>();

  now(): number {
    return this.t;
  }
  set(fire: () => void, delayMs: number): unknown {
    const id = ++this.seq;
    this.queue.set(id, { at: this.t + Math.max(0, delayMs), fire, seq: id, refed: true });
    return id;
  }
  clear(handle: unknown): void {
    this.queue.delete(handle as number);
  }
  ref(handle: unknown, ref: boolean): void {
    const timer = this.queue.get(handle as number);
    if (timer !== undefined) timer.refed = ref;
  }
  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.queue.size;
  }
  /** Whether an armed timer would hold the process open. */
  holding(): boolean {
    return [...this.queue.values()].some((t) => t.refed);
  }
  /** Fires timers in time order until `until` (synchronously). */
  advanceTo(until: number): void {
    for (let due = this.takeDue(until); due !== undefined; due = this.takeDue(until)) due.fire();
    this.t = until;
  }
  /** The same, awaiting the microtasks (and I/O callbacks) each timer queued before the next. */
  async runUntil(until: number): Promise<void> {
    for (let due = this.takeDue(until); due !== undefined; due = this.takeDue(until)) {
      due.fire();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.t = until;
  }

  /** Removes and returns the first timer due by `until`, with the clock moved to its time. */
  private takeDue(until: number): SimTimer | undefined {
    let first: [number, SimTimer] | undefined;
    for (const e of this.queue)
      if (
        first === undefined ||
        e[1].at < first[1].at ||
        (e[1].at === first[1].at && e[1].seq < first[1].seq)
      )
        first = e;
    if (first === undefined || first[1].at > until) return undefined;
    this.queue.delete(first[0]);
    this.t = first[1].at;
    return first[1];
  }
}
