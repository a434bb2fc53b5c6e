/**
 * Gateway telemetry per (model, cell, route): totals, errors by class, the error rate, latency p50/p95 and
 * time to first byte p50/p95 (for streams: the first token). Bounded: the latest `maxSamples` latencies per
 * series, at most `maxSeries` series (the least recently hit is evicted). Counts are since start-up.
 */
import type { ErrorClass, GatewaySeriesView } from "../../ipc/protocol/gateway.js";

export type { GatewaySeriesView };

interface Series {
  model: string;
  cell: string;
  route: string;
  total: number;
  errors: Partial<Record<ErrorClass, number>>;
  latency: Ring;
  ttft: Ring;
  lastAt: number;
}

class Ring {
  private readonly values: number[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(v: number): void {
    if (this.values.length < this.size) this.values.push(v);
    else this.values[this.next] = v;
    this.next = (this.next + 1) % this.size;
  }
  percentile(p: number): number | undefined {
    if (this.values.length === 0) return undefined;
    const sorted = [...this.values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
    return Math.round((sorted[rank - 1] as number) * 100) / 100;
  }
}

export interface GatewaySample {
  model: string;
  cell: string;
  route: string;
  ms: number;
  ttfbMs?: number;
  error?: ErrorClass;
}

export class GatewayStats {
  private readonly series = new Map<string, Series>();
  private seq = 0;

  constructor(private readonly limits = { maxSamples: 512, maxSeries: 256 }) {}

  record(s: GatewaySample): void {
    const key = `${s.model}\u0000${s.cell}\u0000${s.route}`;
    let entry = this.series.get(key);
    if (entry === undefined) {
      if (this.series.size >= this.limits.maxSeries) this.evict();
      entry = {
        model: s.model,
        cell: s.cell,
        route: s.route,
        total: 0,
        errors: {},
        latency: new Ring(this.limits.maxSamples),
        ttft: new Ring(this.limits.maxSamples),
        lastAt: 0,
      };
      this.series.set(key, entry);
    }
    entry.lastAt = ++this.seq;
    entry.total++;
    if (s.error !== undefined) entry.errors[s.error] = (entry.errors[s.error] ?? 0) + 1;
    else {
      entry.latency.push(s.ms);
      if (s.ttfbMs !== undefined) entry.ttft.push(s.ttfbMs);
    }
  }

  get seriesCount(): number {
    return this.series.size;
  }

  view(): GatewaySeriesView[] {
    const out: GatewaySeriesView[] = [];
    for (const s of this.series.values()) {
      const errors = Object.values(s.errors).reduce((a, b) => a + (b ?? 0), 0);
      const v: GatewaySeriesView = {
        model: s.model,
        cell: s.cell,
        route: s.route,
        total: s.total,
        errors,
        error_rate: s.total === 0 ? 0 : Math.round((errors / s.total) * 10_000) / 10_000,
      };
      if (errors > 0) v.errors_by_class = { ...s.errors };
      const put = (k: "p50_ms" | "p95_ms" | "ttft_p50_ms" | "ttft_p95_ms", x: number | undefined) => {
        if (x !== undefined) v[k] = x;
      };
      put("p50_ms", s.latency.percentile(50));
      put("p95_ms", s.latency.percentile(95));
      put("ttft_p50_ms", s.ttft.percentile(50));
      put("ttft_p95_ms", s.ttft.percentile(95));
      out.push(v);
    }
    return out.sort((a, b) => (a.model + a.cell + a.route < b.model + b.cell + b.route ? -1 : 1));
  }

  private evict(): void {
    let oldest: string | undefined;
    let at = Number.POSITIVE_INFINITY;
    for (const [k, s] of this.series) {
      if (s.lastAt < at) {
        at = s.lastAt;
        oldest = k;
      }
    }
    if (oldest !== undefined) this.series.delete(oldest);
  }
}
