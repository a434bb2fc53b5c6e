/**
 * One timer for every steady probe of the daemon. A timer per runtime and probe wakes the event loop once
 * per probe (50 runtimes every 5 s: 10 wakes a second, each paying Node's timer-list bookkeeping for its
 * odd duration); the wheel keeps the due jobs in one list behind one timer, and a wake runs every job due
 * within `batchMs` of it. A job therefore runs at most `batchMs` early, never late (beyond the timer's own
 * lateness), and jobs that ran together fall due together next time: probes started within a few ms of
 * each other share every wake from then on.
 */
import { performance } from "node:perf_hooks";

/** How far ahead of its due time a job may run to share a wake with an earlier one. */
export const PROBE_BATCH_MS = 10;

export interface WheelTimers {
  now(): number;
  set(fire: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: WheelTimers = {
  now: () => performance.now(),
  set: (fire, delayMs) => setTimeout(fire, delayMs),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A scheduled run; `cancel` is idempotent and a no-op once the job has run. */
export interface WheelJob {
  cancel(): void;
}

interface Entry extends WheelJob {
  due: number;
  run: () => void;
  done: boolean;
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
    readonly batchMs = PROBE_BATCH_MS,
  ) {}

  /** Runs `run` once, `delayMs` from now (up to `batchMs` sooner to share a wake). */
  schedule(delayMs: number, run: () => void): WheelJob {
    const entry: Entry = {
      due: this.timers.now() + Math.max(0, delayMs),
      run,
      done: false,
      cancel: () => {
        if (entry.done) return;
        entry.done = true;
        this.entries = this.entries.filter((e) => e !== entry);
        if (this.entries.length === 0) this.disarm();
      },
    };
    this.entries.push(entry);
    if (entry.due < this.armedFor) this.arm(entry.due);
    return entry;
  }

  /** Jobs waiting (tests). */
  get size(): number {
    return this.entries.length;
  }

  private arm(at: number): void {
    this.disarm();
    this.armedFor = at;
    this.timer = this.timers.set(() => this.wake(), Math.max(0, at - this.timers.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private wake(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const horizon = this.timers.now() + this.batchMs;
    const due: Entry[] = [];
    const waiting: Entry[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.entries) {
      if (entry.due <= horizon) due.push(entry);
      else {
        waiting.push(entry);
        if (entry.due < next) next = entry.due;
      }
    }
    this.entries = waiting;
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
    if (due.length > 0) this.wakes++;
    for (const entry of due) {
      entry.done = true;
      try {
        entry.run();
      } catch {
        // A job's own failure is its owner's to report (the prober catches); the others still run.
      }
    }
  }
}

/** The daemon's one wheel (probes.ts); tests of the wheel itself make their own with fake timers. */
export const sharedProbeWheel = new ProbeWheel();
