/**
 * Is the daemon busy? A pure rule over CPU-time samples (process.cpuUsage()'s user + system µs and a
 * clock in ms, both injected): busy from the first sample whose interval used at least `busyFraction`
 * of a core, counting only after `graceMs` from the start (start-up's spawns and first probes are busy
 * by nature). One-way: once busy, always busy.
 */
export interface BusyRule {
  /** How often the shell samples, ms. */
  sampleMs: number;
  /** Share of one core in one interval that counts as busy (0.15 = 15 %). */
  busyFraction: number;
  /** Samples before this long after the start only move the baseline, ms. */
  graceMs: number;
}

/**
 * Measured on a 2-core machine: a quiet daemon with 50 probed runtimes uses ~0.3 % of a core; its
 * start-up 39 % in the second "ready" falls in, then 5 %, 7 %, 1 %; a gateway serving one request at a
 * time ~40 %, a status-call loop ~100 %. 15 % leaves a slower machine's start-up room, and a few
 * requests a second (what a person at a chat window makes) never reach it: those run unoptimized, at a
 * cost of a fraction of a millisecond on answers that take a model hundreds.
 */
export const BUSY_RULE: BusyRule = { sampleMs: 1000, busyFraction: 0.15, graceMs: 5000 };

export interface BusySample {
  /** Share of a core the last interval used. */
  fraction: number;
  /** That interval's length, ms. */
  intervalMs: number;
}

export class BusyDetector {
  private lastAtMs: number;
  private lastCpuMicros: number;
  private readonly startedAtMs: number;
  private busyAt: BusySample | undefined;

  constructor(
    private readonly rule: BusyRule,
    startedAtMs: number,
    startCpuMicros: number,
  ) {
    this.startedAtMs = startedAtMs;
    this.lastAtMs = startedAtMs;
    this.lastCpuMicros = startCpuMicros;
  }

  /** The interval that made it busy, if one has. */
  get busy(): BusySample | undefined {
    return this.busyAt;
  }

  /** Feeds one sample; returns the interval that made it busy when this one did, else undefined. */
  observe(nowMs: number, cpuMicros: number): BusySample | undefined {
    if (this.busyAt !== undefined) return undefined;
    const intervalMs = nowMs - this.lastAtMs;
    const usedMicros = cpuMicros - this.lastCpuMicros;
    this.lastAtMs = nowMs;
    this.lastCpuMicros = cpuMicros;
    if (nowMs - this.startedAtMs < this.rule.graceMs || intervalMs <= 0) return undefined;
    const fraction = usedMicros / 1000 / intervalMs;
    if (fraction < this.rule.busyFraction) return undefined;
    this.busyAt = { fraction, intervalMs };
    return this.busyAt;
  }
}
