/**
 * One timer for every steady probe of the daemon. A timer per runtime and probe wakes the event loop once
 * per probe (50 runtimes every 5 s: 10 wakes a second, each paying Node's timer-list bookkeeping for its
 * odd duration); the wheel keeps the due jobs in one list behind one timer.
 *
 * A job may run a little early: its slack is 1 % of its delay, at most `earlyMs` (50 ms for a 5 s probe,
 * 1 ms for a 100 ms one). The wheel wakes half a slack before the earliest job is due and runs every job
 * whose slack has begun: the jobs due within the next half slack share that wake, and jobs that ran
 * together fall due together next time, so probes started within a few ms of each other share every wake
 * from then on. A job never runs late (beyond the timer's own lateness).
 *
 * Running early also keeps connections: a backend's keep-alive timeout is commonly the probe interval
 * itself (5 s: llama-server's cpp-httplib and node's http both), counted from its last answer, and by a
 * clock that can be some ms behind under load. A probe sent a full interval after the previous one
 * (later, by the timer's lateness) lost that race for one probe in five to ten on a loaded machine and
 * paid a new connection, which costs more than the probe; 25 ms early, it finds the socket open.
 */
import { monotonicMs } from "../../base/monotonic.js";

/** The most a job may run ahead of its due time. */
export const PROBE_EARLY_MS = 50;
/** …and at most this share of its delay. */
export const PROBE_EARLY_SHARE = 0.01;

export interface WheelTimers {
  now(): number;
  set(fire: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: WheelTimers = {
  now: monotonicMs,
  set: (fire, delayMs) => setTimeout(fire, delayMs),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A scheduled run; `cancel` is idempotent and a no-op once the job has run. */
export interface WheelJob {
  cancel(): void;
}

/** A class, not a literal with a `cancel` closure: one object per scheduled probe, not two. */
class Entry implements WheelJob {
  done = false;

  constructor(
    readonly wheel: ProbeWheel,
    public due: number,
    /** The earliest it may run: due minus its slack. */
    public from: number,
    public run: () => void,
  ) {}

  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.wheel.remove(this);
  }
}

export class ProbeWheel {
  private entries: Entry[] = [];
  private timer: unknown;
  /** When the armed timer fires (wheel time); Infinity when none is armed. */
  private armedFor = Number.POSITIVE_INFINITY;
  /** Wakes that ran at least one job (tests, benches). */
  wakes = 0;

  constructor(
    private readonly timers: WheelTimers = realTimers,
    readonly earlyMs = PROBE_EARLY_MS,
    readonly earlyShare = PROBE_EARLY_SHARE,
  ) {}

  /** How early a job scheduled `delayMs` ahead may run. */
  slack(delayMs: number): number {
    return Math.min(this.earlyMs, Math.max(0, delayMs) * this.earlyShare);
  }

  /**
   * Runs `run` once, `delayMs` from now, or up to its slack sooner (see the module comment). `spare`: a job
   * of this wheel that has run or was cancelled, whose owner no longer needs it: it is scheduled again
   * (the same object returned), so a probe re-armed every interval makes no new one.
   */
  schedule(delayMs: number, run: () => void, spare?: WheelJob): WheelJob {
    const due = this.timers.now() + Math.max(0, delayMs);
    const slack = this.slack(delayMs);
    let entry: Entry;
    if (spare instanceof Entry && spare.wheel === this && spare.done) {
      entry = spare;
      entry.due = due;
      entry.from = due - slack;
      entry.run = run;
      entry.done = false;
    } else entry = new Entry(this, due, due - slack, run);
    this.entries.push(entry);
    const wakeAt = due - slack / 2;
    if (wakeAt < this.armedFor) this.arm(wakeAt);
    return entry;
  }

  /** A cancelled job leaves the list (Entry.cancel). */
  remove(entry: Entry): void {
    this.entries = this.entries.filter((e) => e !== entry);
    if (this.entries.length === 0) this.disarm();
  }

  /** Jobs waiting (tests). */
  get size(): number {
    return this.entries.length;
  }

  private arm(at: number): void {
    this.disarm();
    this.armedFor = at;
    this.timer = this.timers.set(this.fire, Math.max(0, at - this.timers.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  /** The timer's callback, made once. */
  private readonly fire = () => this.wake();

  /** The jobs of the wake in progress: one array for every wake (a wake never nests in another). */
  private readonly dueNow: Entry[] = [];

  private wake(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.timers.now();
    const { entries, dueNow } = this;
    // Partition in place: the waiting stay in `entries`, in order; the due go to `dueNow`.
    let kept = 0;
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      if (entry.from <= now) dueNow.push(entry);
      else {
        entries[kept++] = entry;
        const wakeAt = entry.due - (entry.due - entry.from) / 2;
        if (wakeAt < next) next = wakeAt;
      }
    }
    entries.length = kept;
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
    if (dueNow.length > 0) this.wakes++;
    for (let i = 0; i < dueNow.length; i++) {
      const entry = dueNow[i] as Entry;
      if (entry.done) continue; // cancelled by a job that ran before it in this wake
      entry.done = true;
      try {
        entry.run();
      } catch {
        // A job's own failure is its owner's to report (the prober catches); the others still run.
      }
    }
    dueNow.length = 0;
  }
}

/** The daemon's one wheel (probes.ts); tests of the wheel itself make their own with fake timers. */
export const sharedProbeWheel = new ProbeWheel();
