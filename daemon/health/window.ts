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

/** The first columns' length; they double up to `maxSamples` (most windows never see 512 samples). */
const INITIAL_CAPACITY = 16;
/** `status` column: no HTTP status (a refused connection, a timeout). */
const NO_STATUS = -1;

/**
 * Latency and error summary over the last `windowMs`, for one probe stream. Samples sit in a fixed ring
 * (O(1) record, bounded memory); every summary is computed from the samples still in the window, so an
 * error stops counting once it ages out: nothing latches. Only `last_ok_at` outlives the window, as a
 * timestamp ("last good probe 10 min ago"), never as a finding.
 *
 * The ring is columns (typed arrays, and one of error texts), not a sample object per probe: recording
 * writes numbers in place and allocates nothing once the columns have grown to their size (each probe of
 * 50 runtimes made a sample and a copy of it, most of a probe's garbage).
 */
export class LatencyWindow {
  private at: Float64Array;
  private ms: Float64Array;
  private ok: Uint8Array;
  private status: Int32Array;
  private errors: (string | undefined)[];
  /** Where the next sample goes, and how many the ring holds (≤ its capacity). */
  private next = 0;
  private filled = 0;
  private readonly maxSamples: number;
  private lastOk: number | undefined;
  private last: number | undefined;
  private readonly alpha: number;

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock,
    opts: { maxSamples?: number; ewmaAlpha?: number } = {},
  ) {
    this.maxSamples = Math.max(1, Math.floor(opts.maxSamples ?? DEFAULT_MAX_SAMPLES));
    const capacity = Math.min(this.maxSamples, INITIAL_CAPACITY);
    this.at = new Float64Array(capacity);
    this.ms = new Float64Array(capacity);
    this.ok = new Uint8Array(capacity);
    this.status = new Int32Array(capacity);
    this.errors = new Array<string | undefined>(capacity).fill(undefined);
    const alpha = opts.ewmaAlpha ?? DEFAULT_EWMA_ALPHA;
    this.alpha = alpha > 0 && alpha <= 1 ? alpha : DEFAULT_EWMA_ALPHA;
  }

  record(sample: Omit<Sample, "at">): void {
    this.note(sample.ok, sample.ms, sample.status, sample.error);
  }

  /** `record` without a sample object (the probes' path). */
  note(ok: boolean, ms: number, status: number | undefined, error: string | undefined): void {
    const at = this.clock.now();
    if (this.filled === this.at.length && this.filled < this.maxSamples) this.grow();
    const i = this.next;
    this.at[i] = at;
    this.ms[i] = ms;
    this.ok[i] = ok ? 1 : 0;
    this.status[i] = status ?? NO_STATUS;
    this.errors[i] = error;
    this.next = i + 1 === this.at.length ? 0 : i + 1;
    if (this.filled < this.at.length) this.filled++;
    this.last = at;
    if (ok) this.lastOk = at;
  }

  /** Doubles the columns (only while the ring is full and short of `maxSamples`: `next` is 0 then). */
  private grow(): void {
    const capacity = Math.min(this.maxSamples, this.at.length * 2);
    const at = new Float64Array(capacity);
    const ms = new Float64Array(capacity);
    const ok = new Uint8Array(capacity);
    const status = new Int32Array(capacity);
    at.set(this.at);
    ms.set(this.ms);
    ok.set(this.ok);
    status.set(this.status);
    this.at = at;
    this.ms = ms;
    this.ok = ok;
    this.status = status;
    const errors = new Array<string | undefined>(capacity).fill(undefined);
    for (let i = 0; i < this.filled; i++) errors[i] = this.errors[i];
    this.errors = errors;
    this.next = this.filled;
  }

  lastSampleAt(): number | undefined {
    return this.last;
  }

  summary(): LatencySummary {
    const summary: LatencySummary = {
      window_seconds: this.windowMs / 1000,
      requests: 0,
      errors: 0,
      error_rate: 0,
    };
    if (this.lastOk !== undefined) summary.last_ok_at = rfc3339(this.lastOk);
    // Oldest first; one at exactly `now - windowMs` has left the window.
    const cutoff = this.clock.now() - this.windowMs;
    const n = this.at.length;
    const first = this.filled < n ? 0 : this.next;
    const ewma = new EwmaFold(this.alpha);
    const latencies: number[] = [];
    let lastError: string | undefined;
    for (let k = 0; k < this.filled; k++) {
      const i = (first + k) % n;
      if ((this.at[i] as number) <= cutoff) continue;
      const ms = this.ms[i] as number;
      latencies.push(ms);
      ewma.add(ms);
      if (this.ok[i] === 0) {
        summary.errors++;
        const status = this.status[i] as number;
        lastError = this.errors[i] ?? (status !== NO_STATUS ? `HTTP ${status}` : "probe failed");
      }
    }
    summary.requests = latencies.length;
    if (latencies.length === 0) return summary;
    summary.error_rate = summary.errors / latencies.length;
    const sorted = latencies.sort((a, b) => a - b);
    summary.p50_ms = percentile(sorted, 50);
    summary.p95_ms = percentile(sorted, 95);
    summary.ewma_ms = ewma.value();
    if (lastError !== undefined) summary.last_error = lastError;
    return summary;
  }
}
