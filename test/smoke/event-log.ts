/**
 * Every event of one subscription, kept in order, so a step can mark a point, act, and then wait for the
 * first matching event after the mark: nothing published between the action and the wait is missed.
 */
import type { EventNotificationParams } from "../../ipc/protocol/jsonrpc.js";

interface Waiter {
  from: number;
  match: (e: EventNotificationParams) => boolean;
  resolve: (e: EventNotificationParams) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class EventLog {
  private readonly events: EventNotificationParams[] = [];
  private readonly waiters = new Set<Waiter>();
  private closedWith: Error | undefined;

  push(event: EventNotificationParams): void {
    this.events.push(event);
    const index = this.events.length - 1;
    for (const w of [...this.waiters]) {
      if (index >= w.from && w.match(event)) this.settle(w, () => w.resolve(event));
    }
  }

  /** The connection ended: pending and later waits fail at once instead of at their deadline. */
  close(error: Error): void {
    this.closedWith ??= error;
    for (const w of [...this.waiters]) this.settle(w, () => w.reject(error));
  }

  /** A position: `waitFor(…, mark)` only looks at events that arrived after it. */
  mark(): number {
    return this.events.length;
  }

  /** Events since `from` (for failure messages and pid collection). */
  since(from = 0): EventNotificationParams[] {
    return this.events.slice(from);
  }

  waitFor(
    match: (e: EventNotificationParams) => boolean,
    opts: { from: number; timeoutMs: number; what: string },
  ): Promise<EventNotificationParams> {
    const found = this.events.slice(opts.from).find(match);
    if (found !== undefined) return Promise.resolve(found);
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        from: opts.from,
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.settle(waiter, () =>
            reject(new Error(`no ${opts.what} within ${Math.round(opts.timeoutMs / 1000)} s`)),
          );
        }, opts.timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private settle(w: Waiter, done: () => void): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    done();
  }
}
