/**
 * One in flight per key: concurrent callers of a heavy probe (nvidia-smi, a full inventory) share the
 * running call's result instead of each starting a process. 150 pipelined `hardware.get {refresh:true}`
 * used to start 151 nvidia-smi at once. A call that starts after the shared one settled runs afresh, so
 * results are never older than the request.
 */
export class Coalescer<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  /** Calls that joined a running one instead of starting their own (for tests and diagnostics). */
  joined = 0;

  run(key: string, start: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running !== undefined) {
      this.joined += 1;
      return running;
    }
    const call = start().finally(() => {
      this.inFlight.delete(key);
    });
    this.inFlight.set(key, call);
    return call;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
