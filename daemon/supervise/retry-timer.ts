/**
 * A runtime's pending retry: a timer, or for a retry due at once a queued microtask — or, on the crash
 * path, not even that (`fireIfDueNow`: the exit's own call dispatches it, so nothing is queued before the
 * fork). Long horizons are re-armed in ≤ 24.8-day steps (setTimeout's limit).
 */
import type { Clock } from "../../base/clock.js";

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class RetryTimer {
  /** A timer, or the token of a queued microtask for a retry due now. */
  private pending: NodeJS.Timeout | symbol | undefined;

  /** `fire`: the retry is due (the supervisor dispatches `retry_due` unless it is gone). */
  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** Replaces any pending retry with one at `at` (epoch ms). */
  arm(at: number): void {
    this.cancel();
    const delay = Math.max(0, Math.min(at - this.clock.now(), MAX_TIMEOUT_MS));
    if (delay === 0) {
      // A restart without delay (the crash loop's path): after this dispatch, not a timer turn later.
      const token = Symbol("retry");
      this.pending = token;
      queueMicrotask(() => {
        if (this.pending !== token) return; // cancelled, or fired at once, meanwhile
        this.pending = undefined;
        this.fire();
      });
      return;
    }
    const timer = setTimeout(() => {
      this.pending = undefined;
      if (this.clock.now() < at) this.arm(at);
      else this.fire();
    }, delay);
    timer.unref?.();
    this.pending = timer;
  }

  /** Fires a retry queued for now at once instead of on its microtask; false when none is queued. */
  fireIfDueNow(): boolean {
    if (typeof this.pending !== "symbol") return false;
    this.pending = undefined; // the queued microtask finds its token gone
    this.fire();
    return true;
  }

  cancel(): void {
    if (this.pending !== undefined && typeof this.pending !== "symbol") clearTimeout(this.pending);
    this.pending = undefined;
  }
}
