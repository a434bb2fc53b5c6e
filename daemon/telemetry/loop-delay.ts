/**
 * Event-loop delay for every reader from one timer. rmxd had three native monitorEventLoopDelay
 * histograms (the hardware sampler at 10 ms, the matrix tick and /metrics at 20 ms): 200 wake-ups a
 * second and ~1 MiB, about 0.45 % of a core on their own in a process that does nothing else. This one
 * timer wakes every `resolutionMs` (500 ms: a stall of any length still makes it late by that much; at
 * 100 ms its 10 wakes a second alone cost 0.11 % of a core, a third of the daemon's quiet budget)
 * and records how late it fired into each open window: a small log-bucket histogram per reader, so each
 * keeps its own span (since start, since the last tick, since the last scrape).
 */

import { monotonicMs } from "../../base/monotonic.js";
import type { LoopDelay } from "../../ipc/protocol/hardware.js";

export const LOOP_DELAY_RESOLUTION_MS = 500;

/** Bucket i > 0 holds delays in [FIRST·RATIO^(i-1), FIRST·RATIO^i) ms; bucket 0 those below FIRST. */
const FIRST_MS = 0.01;
const RATIO = 1.05;
const BUCKETS = 1 + Math.ceil(Math.log(600_000 / FIRST_MS) / Math.log(RATIO));

const round2 = (ms: number) => Math.round(ms * 100) / 100;

export class LoopDelayWindow {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  private max = 0;

  record(ms: number): void {
    const i =
      ms < FIRST_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / FIRST_MS) / Math.log(RATIO)));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** The delay below which `p` % of the recorded ones are (a bucket's upper bound: within 5 %), in ms. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.max, i === 0 ? FIRST_MS : FIRST_MS * RATIO ** i);
    }
    return this.max;
  }

  summary(): LoopDelay {
    return {
      p50_ms: round2(this.percentile(50)),
      p99_ms: round2(this.percentile(99)),
      max_ms: round2(this.max),
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
  }
}

export class LoopDelayMonitor {
  private readonly windows = new Set<LoopDelayWindow>();
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(private readonly resolutionMs = LOOP_DELAY_RESOLUTION_MS) {}

  /** A window recording from now (a new one, or one closed before: it goes on); the timer runs while any is open. */
  open(window = new LoopDelayWindow()): LoopDelayWindow {
    this.windows.add(window);
    if (this.timer === undefined) {
      this.last = monotonicMs();
      this.timer = setInterval(() => this.tick(), this.resolutionMs);
      this.timer.unref();
    }
    return window;
  }

  close(window: LoopDelayWindow): void {
    this.windows.delete(window);
    if (this.windows.size > 0 || this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = monotonicMs();
    const late = Math.max(0, now - this.last - this.resolutionMs);
    this.last = now;
    for (const window of this.windows) window.record(late);
  }
}

/** The daemon's one monitor: every reader opens its window on it. */
export const sharedLoopDelay = new LoopDelayMonitor();
