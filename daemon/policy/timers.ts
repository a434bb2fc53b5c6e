/** The timer scheduler the timer-driven cores use; injected so tests drive time with a ManualClock. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
}

/** Node clamps longer delays to 1 ms, so longer waits are armed in steps of at most this. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Real timers, unref'd: a pending expiry must not keep a finished process alive. */
export const realTimers: Timers = {
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout(h) {
    clearTimeout(h as NodeJS.Timeout);
  },
};

/** Delay for a deadline `dueAt`, never negative and never above what setTimeout honours. */
export function delayUntil(dueAt: number, now: number): number {
  return Math.min(Math.max(dueAt - now, 0), MAX_TIMER_MS);
}
