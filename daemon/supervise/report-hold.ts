/**
 * Holding a runtime's reports while a crash's exit and the respawn it leads to run: the events and log
 * lines they make wait, in order, and their persists become one, made when the hold ends — after the fork,
 * which then has nothing before it but the decision and the write-ahead record, and once the new process
 * has had its start to itself.
 */

export class ReportHold {
  private held: { asked: boolean; written: Promise<void>; reports: (() => void)[] } | undefined;

  /**
   * Runs `work` held; when it returns, the one persist asked for (`persist()`: the record as it is then
   * holds every change the held ones would have written) and then the reports. Nested calls run inside.
   * `quiet`, asked once the work is done: a wait the hold lasts on for (the new process's start, after a
   * fork: EXEC_QUIET_MS), reports and persists made meanwhile joining it; undefined, none. Returns the
   * release when it waits (rejected if a report throws, as the release made at once throws), else undefined.
   */
  run(
    work: () => void,
    persist: () => Promise<void>,
    quiet?: () => Promise<void> | undefined,
  ): Promise<void> | undefined {
    if (this.held !== undefined) {
      work();
      return undefined;
    }
    let settle!: (written: Promise<void>) => void;
    const written = new Promise<void>((resolve) => {
      settle = resolve;
    });
    written.catch(() => undefined); // as a persist's own: the store logs a failure
    const held = { asked: false, written, reports: [] as (() => void)[] };
    this.held = held;
    let wait: Promise<void> | undefined;
    const release = () => {
      this.held = undefined;
      settle(held.asked ? persist() : Promise.resolve()); // first: the durable record starts soonest
      for (const report of held.reports) report();
    };
    try {
      work();
      wait = quiet?.();
    } finally {
      if (wait === undefined) release();
    }
    return wait?.then(release);
  }

  /** While held: notes a persist and returns the promise of the one made after; else undefined. */
  persistLater(): Promise<void> | undefined {
    if (this.held === undefined) return undefined;
    this.held.asked = true;
    return this.held.written;
  }

  /** Publishes or logs now, or when the hold ends. */
  report(work: () => void): void {
    if (this.held !== undefined) this.held.reports.push(work);
    else work();
  }
}
