import type { Clock } from "../../base/clock.js";
import { rfc3339 } from "../../base/clock.js";
import type { LatencySummary } from "../../ipc/protocol/runtime.js";

export type ProbeKind = "ok" | "loading" | "refused" | "timeout" | "http_error" | "error" | "auth";

export interface Sample {
  at: number;
  ms: number;
  ok: boolean;
  error?: string;
  status?: number;
}

/**
 * Whether a probe outcome counts against the error rate. Only the backend's own failures do: 5xx,
 * timeouts and connection errors. A 4xx is the caller's mistake and a 503 "loading" is start-up, so
 * neither may degrade a runtime (the reference counted every 404 forever). An `http_error` without a
 * status could not be classified and counts. A refused key (`auth`) is ours to fix, and counts.
 */
export function isErrorOutcome(kind: ProbeKind, status?: number): boolean {
  switch (kind) {
    case "ok":
    case "loading":
      return false;
    case "refused":
    case "timeout":
    case "error":
    case "auth":
      return true;
    case "http_error":
      return status === undefined || status >= 500;
  }
}

/** Nearest-rank percentile of an ascending list; `p` in percent (0–100). Undefined when empty. */
export function percentile(sortedMs: readonly number[], p: number): number | undefined {
  const n = sortedMs.length;
  if (n === 0) return undefined;
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return sortedMs[rank - 1];
}

/**
 * Bias-corrected EWMA fold: started from 0 and divided by the weight actually applied, so it is exact
 * for one sample and can be folded over any slice of history (and over pre-folded groups).
 */
export class EwmaFold {
  private sum = 0;
  private decay = 1;
  constructor(private readonly alpha: number) {}

  add(value: number): void {
    this.sum = this.sum * (1 - this.alpha) + this.alpha * value;
    this.decay *= 1 - this.alpha;
  }

  /** Folds a group that was itself accumulated from zero: its `sum` and `decay` = (1 - alpha)^count. */
  addGroup(sum: number, decay: number): void {
    this.sum = this.sum * decay + sum;
    this.decay *= decay;
  }

  value(): number | undefined {
    return this.decay >= 1 ? undefined : this.sum / (1 - this.decay);
  }
}

export const DEFAULT_MAX_SAMPLES = 512;
export const DEFAULT_EWMA_ALPHA = 0.3;

/**
 * Latency and error summary over the last `windowMs`, for one probe stream. Samples sit in a fixed ring
 * (O(1) record, bounded memory); every summary is computed from the samples still in the window, so an
 * error stops counting once it ages out: nothing latches. Only `last_ok_at` outlives the window, as a
 * timestamp ("last good probe 10 min ago"), never as a finding.
 */
export class LatencyWindow {
  private readonly ring: (Sample | undefined)[];
  private next = 0;
  private lastOk: number | undefined;
  private last: number | undefined;
  private readonly alpha: number;

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock,
    opts: { maxSamples?: number; ewmaAlpha?: number } = {},
  ) {
    const size = Math.max(1, Math.floor(opts.maxSamples ?? DEFAULT_MAX_SAMPLES));
    this.ring = new Array<Sample | undefined>(size).fill(undefined);
    const alpha = opts.ewmaAlpha ?? DEFAULT_EWMA_ALPHA;
    this.alpha = alpha > 0 && alpha <= 1 ? alpha : DEFAULT_EWMA_ALPHA;
  }

  record(sample: Omit<Sample, "at">): void {
    const at = this.clock.now();
    this.ring[this.next] = { ...sample, at };
    this.next = (this.next + 1) % this.ring.length;
    this.last = at;
    if (sample.ok) this.lastOk = at;
  }

  lastSampleAt(): number | undefined {
    return this.last;
  }

  /** Samples in the window, oldest first. One at exactly `now - windowMs` has left it. */
  private live(): Sample[] {
    const cutoff = this.clock.now() - this.windowMs;
    const out: Sample[] = [];
    for (let i = 0; i < this.ring.length; i++) {
      const sample = this.ring[(this.next + i) % this.ring.length];
      if (sample !== undefined && sample.at > cutoff) out.push(sample);
    }
    return out;
  }

  summary(): LatencySummary {
    const live = this.live();
    const summary: LatencySummary = {
      window_seconds: this.windowMs / 1000,
      requests: live.length,
      errors: 0,
      error_rate: 0,
    };
    if (this.lastOk !== undefined) summary.last_ok_at = rfc3339(this.lastOk);
    if (live.length === 0) return summary;
    const ewma = new EwmaFold(this.alpha);
    let lastError: string | undefined;
    for (const sample of live) {
      ewma.add(sample.ms);
      if (!sample.ok) {
        summary.errors++;
        lastError = sample.error ?? (sample.status !== undefined ? `HTTP ${sample.status}` : "probe failed");
      }
    }
    summary.error_rate = summary.errors / live.length;
    const sorted = live.map((s) => s.ms).sort((a, b) => a - b);
    summary.p50_ms = percentile(sorted, 50);
    summary.p95_ms = percentile(sorted, 95);
    summary.ewma_ms = ewma.value();
    if (lastError !== undefined) summary.last_error = lastError;
    return summary;
  }
}
