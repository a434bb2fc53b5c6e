/**
 * The fixed-size core of request telemetry: the latest `size` requests of one series in typed arrays
 * (when, how long, whether it succeeded, time to first token), allocated once. `push` is O(1) and
 * allocates nothing; percentiles are computed only when read.
 */
export class SampleRing {
  private readonly at: Float64Array;
  private readonly ms: Float64Array;
  /** NaN: the request had no first token (an error). */
  private readonly ttft: Float64Array;
  private readonly ok: Uint8Array;
  private next = 0;
  private filled = 0;

  constructor(readonly size: number) {
    const n = Math.max(1, Math.floor(size));
    this.at = new Float64Array(n);
    this.ms = new Float64Array(n);
    this.ttft = new Float64Array(n);
    this.ok = new Uint8Array(n);
  }

  get length(): number {
    return this.filled;
  }

  /** Clock time of the newest sample, or -Infinity when empty. */
  get newestAt(): number {
    if (this.filled === 0) return Number.NEGATIVE_INFINITY;
    return this.at[(this.next - 1 + this.at.length) % this.at.length] as number;
  }

  push(at: number, ms: number, ok: boolean, ttftMs: number | undefined): void {
    const i = this.next;
    this.at[i] = at;
    this.ms[i] = Math.max(ms, 0);
    this.ttft[i] = ttftMs === undefined ? Number.NaN : ttftMs;
    this.ok[i] = ok ? 1 : 0;
    this.next = i + 1 === this.at.length ? 0 : i + 1;
    if (this.filled < this.at.length) this.filled++;
  }

  /**
   * Appends the samples newer than `since` to `into`: their latencies (`field` "ms") or times to first
   * token ("ttft", only those that have one); `okOnly` keeps the successful ones. Returns how many of the
   * window's samples failed (of all, whatever `okOnly`).
   */
  collect(
    into: number[],
    field: "ms" | "ttft",
    since: number,
    okOnly: boolean,
  ): { seen: number; failed: number } {
    const n = this.at.length;
    let seen = 0;
    let failed = 0;
    for (let k = 0; k < this.filled; k++) {
      const i = (this.next - 1 - k + n) % n;
      if ((this.at[i] as number) <= since) break;
      seen++;
      const ok = this.ok[i] === 1;
      if (!ok) failed++;
      if (okOnly && !ok) continue;
      const v = field === "ms" ? (this.ms[i] as number) : (this.ttft[i] as number);
      if (!Number.isNaN(v)) into.push(v);
    }
    return { seen, failed };
  }
}

/** Ascending, in a typed array: its native numeric sort is several times faster than a comparator's. */
function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

function rankOf(n: number, p: number): number {
  return Math.min(n, Math.max(1, Math.ceil((p / 100) * n))) - 1;
}

/** Nearest-rank percentile; `p` in percent. Undefined when empty. */
export function percentileOf(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const s = sorted(values);
  return s[rankOf(s.length, p)];
}

/** Nearest-rank p50 and p95, rounded to 0.01 ms; `{}` when empty. */
export function p50p95(values: readonly number[]): { p50?: number; p95?: number } {
  if (values.length === 0) return {};
  const s = sorted(values);
  const at = (p: number) => Math.round((s[rankOf(s.length, p)] as number) * 100) / 100;
  return { p50: at(50), p95: at(95) };
}
