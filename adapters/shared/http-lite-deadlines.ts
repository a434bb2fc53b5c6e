/**
 * The deadlines of the GET client's exchanges (http-lite.ts) behind one timer. A timer per exchange
 * cost a Timeout, its closure, and Node's per-duration timer list made and dropped again on every probe
 * (probes rarely overlap, so the list emptied each time); here an exchange is an entry in a short list.
 *
 * The timer is armed for the earliest deadline and is not cleared when its exchange ends early (the
 * common case): it fires then, finds nothing due, and re-arms for the earliest still pending, if any.
 * That is at most one spare wake per timeout period (2 s for a probe), against a setTimeout and a
 * clearTimeout per exchange. While nothing is pending the timer is unref'd, so it never holds the
 * process open; while something is, it is ref'd, as the per-exchange timers were.
 */
import { monotonicMs } from "../../base/monotonic.js";

export interface Expiring {
  /** monotonicMs() at which it expires. */
  readonly deadline: number;
  expire(): void;
}

/**
 * Node's timers run on the event loop's cached clock, which can lag the monotonic clock by a fraction of a
 * millisecond: a timer may fire that much before the deadline it was armed for. An entry within this of
 * its deadline is due (a per-exchange setTimeout fired the same way).
 */
const EARLY_MS = 1;

export interface DeadlineTimers {
  now(): number;
  set(fire: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
  /** Whether the armed timer may hold the process open. */
  ref(handle: unknown, ref: boolean): void;
}

const realTimers: DeadlineTimers = {
  now: monotonicMs,
  set: (fire, delayMs) => setTimeout(fire, delayMs),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
  ref: (handle, ref) => {
    if (ref) (handle as NodeJS.Timeout).ref();
    else (handle as NodeJS.Timeout).unref();
  },
};

export class Deadlines {
  private readonly pending: Expiring[] = [];
  private timer: unknown;
  /** The deadline the armed timer is for; Infinity when none is armed. */
  private armedFor = Number.POSITIVE_INFINITY;
  private refed = false;
  /** Timers armed (tests: a run of sequential exchanges arms few). */
  arms = 0;

  constructor(private readonly timers: DeadlineTimers = realTimers) {}

  get size(): number {
    return this.pending.length;
  }

  add(entry: Expiring): void {
    this.pending.push(entry);
    if (entry.deadline < this.armedFor) this.arm(entry.deadline);
    else this.setRef(true);
  }

  /** `entry` ended before its deadline; a no-op if it is not pending. */
  remove(entry: Expiring): void {
    const { pending } = this;
    const i = pending.indexOf(entry);
    if (i < 0) return;
    const last = pending.pop() as Expiring;
    if (i < pending.length) pending[i] = last;
    if (pending.length === 0) this.setRef(false);
  }

  private arm(at: number): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.armedFor = at;
    this.arms++;
    this.timer = this.timers.set(this.fire, Math.max(0, at - this.timers.now()));
    this.refed = true;
  }

  private setRef(ref: boolean): void {
    if (this.timer === undefined || this.refed === ref) return;
    this.refed = ref;
    this.timers.ref(this.timer, ref);
  }

  /** The timer's callback, made once. */
  private readonly fire = () => this.wake();

  private wake(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    this.refed = false;
    const now = this.timers.now();
    const { pending } = this;
    const due: Expiring[] = [];
    let kept = 0;
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < pending.length; i++) {
      const entry = pending[i] as Expiring;
      if (entry.deadline <= now + EARLY_MS) due.push(entry);
      else {
        pending[kept++] = entry;
        if (entry.deadline < next) next = entry.deadline;
      }
    }
    pending.length = kept;
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
    for (const entry of due) {
      try {
        entry.expire();
      } catch {
        // An entry's own failure is its owner's (an exchange never throws); the others still expire.
      }
    }
  }
}
