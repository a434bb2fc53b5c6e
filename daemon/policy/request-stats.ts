/**
 * Latency and error statistics of requests routed to cells, per cell and route, over a sliding window.
 * Memory is bounded: at most `maxSamples` per (cell, route) series (oldest dropped) and at most
 * `maxSeries` series (the one idle longest is evicted). Percentiles are nearest-rank.
 */
import type { Clock } from "../../base/clock.js";
import { type HttpBlock, RouteStats } from "../health/routes.js";
import { percentile } from "../health/window.js";

interface Sample {
  at: number;
  ms: number;
  ok: boolean;
}

interface Series {
  cell: string;
  route: string;
  samples: Sample[];
  lastAt: number;
}

export interface CellRequestStats {
  total: number;
  errors: number;
  error_rate: number;
  p50_ms?: number;
  p95_ms?: number;
}

export class RequestStats {
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 300_000,
    private readonly limits: { maxSamples: number; maxSeries: number } = { maxSamples: 1024, maxSeries: 512 },
  ) {}

  record(cellKey: string, route: string, ms: number, ok: boolean): void {
    const now = this.clock.now();
    const key = `${cellKey}\u0000${route}`;
    let s = this.series.get(key);
    if (s === undefined) {
      if (this.series.size >= this.limits.maxSeries) this.evictOldest();
      s = { cell: cellKey, route, samples: [], lastAt: now };
      this.series.set(key, s);
    }
    s.samples.push({ at: now, ms: Math.max(0, ms), ok });
    s.lastAt = now;
    if (s.samples.length > this.limits.maxSamples)
      s.samples.splice(0, s.samples.length - this.limits.maxSamples);
  }

  forCell(cellKey: string): CellRequestStats {
    this.prune();
    const samples: Sample[] = [];
    for (const s of this.series.values()) if (s.cell === cellKey) samples.push(...s.samples);
    const errors = samples.filter((x) => !x.ok).length;
    const sorted = samples.map((x) => x.ms).sort((a, b) => a - b);
    const stats: CellRequestStats = {
      total: samples.length,
      errors,
      error_rate: samples.length === 0 ? 0 : errors / samples.length,
    };
    const p50 = percentile(sorted, 50);
    const p95 = percentile(sorted, 95);
    if (p50 !== undefined) stats.p50_ms = p50;
    if (p95 !== undefined) stats.p95_ms = p95;
    return stats;
  }

  /** Routes whose p95 in the window is at least `thresholdMs`, slowest first: "/route on cell (2400 ms)". */
  slowRoutes(thresholdMs = 1500, max = 8): string[] {
    this.prune();
    const slow: { line: string; p95: number }[] = [];
    for (const s of this.series.values()) {
      const p95 = percentile(
        s.samples.map((x) => x.ms).sort((a, b) => a - b),
        95,
      );
      if (p95 !== undefined && p95 >= thresholdMs) {
        slow.push({ line: `${s.route} on ${s.cell} (${Math.round(p95)} ms)`, p95 });
      }
    }
    return slow
      .sort((a, b) => b.p95 - a.p95 || (a.line < b.line ? -1 : 1))
      .slice(0, Math.max(0, max))
      .map((x) => x.line);
  }

  /** Number of (cell, route) series held; for memory-bound checks. */
  get seriesCount(): number {
    return this.series.size;
  }

  private prune(): void {
    const cutoff = this.clock.now() - this.windowMs;
    for (const [key, s] of this.series) {
      const firstFresh = s.samples.findIndex((x) => x.at > cutoff);
      if (firstFresh < 0) this.series.delete(key);
      else if (firstFresh > 0) s.samples.splice(0, firstFresh);
    }
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
    if (oldestKey !== undefined) this.series.delete(oldestKey);
  }
}

/** Routed requests, counted per cell (routing's latency checks) and per route (the node entry's `http` block). */
export class RoutedRequests {
  private readonly cells: RequestStats;
  private readonly routes: RouteStats;

  constructor(clock: Clock) {
    this.cells = new RequestStats(clock);
    this.routes = new RouteStats(clock);
  }

  record(cellKey: string, route: string, ms: number, ok: boolean): void {
    this.cells.record(cellKey, route, ms, ok);
    this.routes.record(`${route} on ${cellKey}`, ms, ok);
  }

  p95(cellKey: string): number | undefined {
    return this.cells.forCell(cellKey).p95_ms;
  }

  http(windowMs: number): HttpBlock {
    return this.routes.snapshot(windowMs);
  }
}
