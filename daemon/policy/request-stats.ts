/**
 * The one record of every routed request (the gateway's, chat.respond's, transcriptions'), per (model,
 * cell, route) series: counts by error class since the series appeared, and a fixed-size ring of the
 * latest requests (sample-ring.ts) for windowed latency and time-to-first-token percentiles, computed only
 * when read. It feeds routing's per-cell p95, `runtime.status` (the node entry's `http` block and the
 * gateway's series), and the matrix cells' request telemetry. O(1) per record; memory bounded: at most
 * `maxSamples` per series, at most `maxSeries` series (the one hit longest ago is evicted), and a series
 * with no request in the window is dropped at the next read.
 */
import type { Clock } from "../../base/clock.js";
import type { ErrorClass, GatewaySeriesView } from "../../ipc/protocol/gateway.js";
import type { CellRequestTelemetry } from "../../ipc/protocol/matrix.js";
import { type HttpBlock, RouteStats, SLOW_ROUTE_MS } from "../health/routes.js";
import { p50p95, percentileOf, SampleRing } from "./sample-ring.js";

export type { CellRequestTelemetry };

/** One request as its router saw it. `cell` "" when it never reached a cell (a bad body, an unknown model). */
export interface RequestRecord {
  model: string;
  cell: string;
  route: string;
  ms: number;
  /** Time to the first byte of the answer (for streams: the first token); absent on an error. */
  ttftMs?: number;
  /** Absent: it succeeded. */
  error?: ErrorClass;
}

/** A request the gateway answered, with the HTTP status it answered (499: the client went away first). */
export interface ObservedRequest extends RequestRecord {
  code: number;
}

interface Series {
  model: string;
  cell: string;
  route: string;
  /** The node entry's route key: "/v1/chat/completions on llama-8b@gpu:0". */
  routeKey: string;
  total: number;
  errors: number;
  byClass: Partial<Record<ErrorClass, number>>;
  ring: SampleRing;
  lastAt: number;
}

export interface CellRequestStats {
  total: number;
  errors: number;
  error_rate: number;
  p50_ms?: number;
  p95_ms?: number;
}

export interface RequestStatsLimits {
  maxSamples: number;
  maxSeries: number;
  /** A series whose windowed p95 is at least this is annotated slow (SLOW_ROUTE_MS by default). */
  slowMs?: number;
}

/** A cell key's model: `llama-8b@gpu:0/none` → `llama-8b`. */
export function modelOfCell(cellKey: string): string {
  const at = cellKey.lastIndexOf("@");
  return at < 0 ? cellKey : cellKey.slice(0, at);
}

const CELL_PERCENTILES_MS = 1000;

type Percentiles = Pick<
  CellRequestTelemetry,
  "p50_ms" | "p95_ms" | "ttft_p50_ms" | "ttft_p95_ms" | "slow" | "slow_reason"
>;

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

export class RequestStats {
  private readonly series = new Map<string, Series>();
  private readonly routes: RouteStats;
  private readonly slowMs: number;
  /** Requests recorded so far: a memo taken at the same count is exact. */
  private records = 0;
  private readonly cellMemo = new Map<string, { at: number; records: number; percentiles: Percentiles }>();
  /** The series recorded last, while the map holds it. */
  private last: Series | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 300_000,
    private readonly limits: RequestStatsLimits = { maxSamples: 1024, maxSeries: 512 },
  ) {
    this.routes = new RouteStats(clock);
    this.slowMs = limits.slowMs ?? SLOW_ROUTE_MS;
  }

  /** chat.respond's shape: a cell key, a route, and whether it succeeded. */
  record(cellKey: string, route: string, ms: number, ok: boolean): void {
    this.observe({
      model: modelOfCell(cellKey),
      cell: cellKey,
      route,
      ms,
      ...(ok ? {} : { error: "upstream" }),
    });
  }

  observe(r: RequestRecord): void {
    const now = this.clock.now();
    // The series of the request before, when this one is of it too (the usual case under load): no key
    // string is built and hashed. It is dropped with the map's entry (prune, evict), never used stale.
    const last = this.last;
    let s =
      last !== undefined && last.model === r.model && last.cell === r.cell && last.route === r.route
        ? last
        : undefined;
    if (s === undefined) {
      const key = `${r.model}\u0000${r.cell}\u0000${r.route}`;
      s = this.series.get(key);
      if (s === undefined) s = this.addSeries(key, r, now);
      this.last = s;
    }
    this.records++;
    s.lastAt = now;
    s.total++;
    const klass = r.error;
    const ok = klass === undefined;
    if (!ok) {
      s.errors++;
      s.byClass[klass] = (s.byClass[klass] ?? 0) + 1;
    }
    s.ring.push(now, r.ms, ok, ok ? r.ttftMs : undefined);
    if (r.cell !== "") this.routes.record(s.routeKey, r.ms, ok);
  }

  private addSeries(key: string, r: RequestRecord, now: number): Series {
    if (this.series.size >= this.limits.maxSeries) this.evictOldest();
    const s: Series = {
      model: r.model,
      cell: r.cell,
      route: r.route,
      routeKey: `${r.route} on ${r.cell}`,
      total: 0,
      errors: 0,
      byClass: {},
      ring: new SampleRing(this.limits.maxSamples),
      lastAt: now,
    };
    this.series.set(key, s);
    return s;
  }

  /** A cell over its routes in the window: every request's latency (failed ones too, as routing sees them). */
  forCell(cellKey: string): CellRequestStats {
    const since = this.prune();
    const ms: number[] = [];
    let total = 0;
    let errors = 0;
    for (const s of this.series.values()) {
      if (s.cell !== cellKey) continue;
      const c = s.ring.collect(ms, "ms", since, false);
      total += c.seen;
      errors += c.failed;
    }
    const stats: CellRequestStats = { total, errors, error_rate: total === 0 ? 0 : errors / total };
    if (ms.length === 0) return stats;
    const sorted = Float64Array.from(ms).sort();
    stats.p50_ms = sorted[Math.max(0, Math.ceil(0.5 * sorted.length) - 1)] as number;
    stats.p95_ms = sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)] as number;
    return stats;
  }

  p95(cellKey: string): number | undefined {
    return this.forCell(cellKey).p95_ms;
  }

  /** Routes whose p95 in the window is at least `thresholdMs`, slowest first: "/route on cell (2400 ms)". */
  slowRoutes(thresholdMs = SLOW_ROUTE_MS, max = 8): string[] {
    const since = this.prune();
    const slow: { line: string; p95: number }[] = [];
    for (const s of this.series.values()) {
      if (s.cell === "") continue;
      const ms: number[] = [];
      s.ring.collect(ms, "ms", since, false);
      const p95 = percentileOf(ms, 95);
      if (p95 !== undefined && p95 >= thresholdMs)
        slow.push({ line: `${s.routeKey} (${Math.round(p95)} ms)`, p95 });
    }
    return slow
      .sort((a, b) => b.p95 - a.p95 || (a.line < b.line ? -1 : 1))
      .slice(0, Math.max(0, max))
      .map((x) => x.line);
  }

  /** Per (model, cell, route): counts since the series appeared, percentiles of the window's successes. */
  view(): GatewaySeriesView[] {
    const since = this.prune();
    const out: GatewaySeriesView[] = [];
    for (const s of this.series.values()) {
      const v: GatewaySeriesView = {
        model: s.model,
        cell: s.cell,
        route: s.route,
        ...this.telemetry([s], since),
      };
      out.push(v);
    }
    return out.sort((a, b) => (a.model + a.cell + a.route < b.model + b.cell + b.route ? -1 : 1));
  }

  /**
   * A matrix cell's requests over all its routes; undefined when none is recorded. Counts are exact; the
   * percentiles at most CELL_PERCENTILES_MS old (exact while nothing was recorded since): the matrix
   * composes on every build of routing's candidates, and sorting the rings that often is not worth it.
   */
  cellTelemetry(cellKey: string): CellRequestTelemetry | undefined {
    const since = this.prune();
    const series: Series[] = [];
    for (const s of this.series.values()) if (s.cell === cellKey) series.push(s);
    if (series.length === 0) return undefined;
    const now = this.clock.now();
    const memo = this.cellMemo.get(cellKey);
    const fresh =
      memo !== undefined &&
      now >= memo.at &&
      (memo.records === this.records
        ? now - memo.at < this.windowMs / 10
        : now - memo.at < CELL_PERCENTILES_MS);
    let percentiles: Percentiles;
    if (fresh) percentiles = memo.percentiles;
    else {
      percentiles = this.percentiles(series, since);
      if (this.cellMemo.size >= this.limits.maxSeries) this.cellMemo.clear();
      this.cellMemo.set(cellKey, { at: now, records: this.records, percentiles });
    }
    return { ...this.counts(series), ...percentiles };
  }

  /** The node entry's `http` block over `windowMs`. */
  http(windowMs: number): HttpBlock {
    return this.routes.snapshot(windowMs);
  }

  /** Number of series held; for memory-bound checks. */
  get seriesCount(): number {
    return this.series.size;
  }

  private telemetry(series: readonly Series[], since: number): CellRequestTelemetry {
    return { ...this.counts(series), ...this.percentiles(series, since) };
  }

  private counts(series: readonly Series[]): CellRequestTelemetry {
    let total = 0;
    let errors = 0;
    const byClass: Partial<Record<ErrorClass, number>> = {};
    for (const s of series) {
      total += s.total;
      errors += s.errors;
      for (const [k, n] of Object.entries(s.byClass) as [ErrorClass, number][])
        byClass[k] = (byClass[k] ?? 0) + n;
    }
    const t: CellRequestTelemetry = { total, errors, error_rate: total === 0 ? 0 : round4(errors / total) };
    if (errors > 0) t.errors_by_class = byClass;
    return t;
  }

  /** Latency and time-to-first-token percentiles of the window's successes, and the slow annotation. */
  private percentiles(series: readonly Series[], since: number): Percentiles {
    const ms: number[] = [];
    const ttft: number[] = [];
    for (const s of series) {
      s.ring.collect(ms, "ms", since, true);
      s.ring.collect(ttft, "ttft", since, true);
    }
    const t: Percentiles = {};
    const lat = p50p95(ms);
    const first = p50p95(ttft);
    if (lat.p50 !== undefined) t.p50_ms = lat.p50;
    if (lat.p95 !== undefined) t.p95_ms = lat.p95;
    if (first.p50 !== undefined) t.ttft_p50_ms = first.p50;
    if (first.p95 !== undefined) t.ttft_p95_ms = first.p95;
    if (lat.p95 !== undefined && lat.p95 >= this.slowMs) {
      t.slow = true;
      t.slow_reason = `p95 ${Math.round(lat.p95)} ms is at or over the ${this.slowMs} ms slow-route threshold (last ${Math.round(this.windowMs / 60_000)} min)`;
    }
    return t;
  }

  /** Drops series with no request in the window; returns the window's start. */
  private prune(): number {
    const cutoff = this.clock.now() - this.windowMs;
    for (const [key, s] of this.series)
      if (s.ring.newestAt <= cutoff) {
        this.series.delete(key);
        if (s === this.last) this.last = undefined;
      }
    return cutoff;
  }

  private evictOldest(): void {
    let oldestKey: string | undefined;
    let oldestAt = Number.POSITIVE_INFINITY;
    for (const [key, s] of this.series) {
      if (s.lastAt < oldestAt) {
        oldestAt = s.lastAt;
        oldestKey = key;
      }
    }
    if (oldestKey === undefined) return;
    if (this.series.get(oldestKey) === this.last) this.last = undefined;
    this.series.delete(oldestKey);
  }
}
