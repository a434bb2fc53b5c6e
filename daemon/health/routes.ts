import type { Clock } from "../../base/clock.js";
import type { NodeEntry } from "../../ipc/protocol/runtime.js";
import { DEFAULT_EWMA_ALPHA, EwmaFold } from "./window.js";

export interface RouteStatsOptions {
  /** Time resolution of the counters; a window boundary is exact to this many ms. Default 1000. */
  bucketMs?: number;
  /** Longest window a snapshot can ask for; older buckets are dropped. Default 15 min. */
  retentionMs?: number;
  /** Distinct route keys kept; the least recently hit is evicted beyond this. Default 256. */
  maxRoutes?: number;
  /** A route whose EWMA is over this is listed in `slow_routes`. Default 1500. */
  slowThresholdMs?: number;
  /** At most this many slow routes, slowest first. Default 8. */
  maxSlowRoutes?: number;
  ewmaAlpha?: number;
}

export const SLOW_ROUTE_MS = 1500;

interface Bucket {
  start: number;
  hits: number;
  errors: number;
  /** Zero-started EWMA accumulator of this bucket's latencies, and (1 - alpha)^hits. */
  sum: number;
  decay: number;
}

interface Route {
  buckets: Bucket[];
  lastAt: number;
}

export type HttpBlock = NodeEntry["http"];

/**
 * Per-route counters for the HTTP requests the daemon routes, as the node entry's `http` block.
 * Counts are windowed (time buckets), so a burst of errors stops counting once it is older than the
 * window: the reference counted since start-up and latched. Route keys are free strings, e.g.
 * "/v1/chat/completions on llama-8b@gpu:0". O(1) record; memory bounded by routes × buckets.
 */
export class RouteStats {
  private readonly routes = new Map<string, Route>();
  private readonly bucketMs: number;
  private readonly retentionMs: number;
  private readonly maxRoutes: number;
  private readonly slowMs: number;
  private readonly maxSlow: number;
  private readonly alpha: number;

  constructor(
    private readonly clock: Clock,
    opts: RouteStatsOptions = {},
  ) {
    this.bucketMs = Math.max(1, Math.floor(opts.bucketMs ?? 1000));
    this.retentionMs = Math.max(this.bucketMs, opts.retentionMs ?? 15 * 60_000);
    this.maxRoutes = Math.max(1, Math.floor(opts.maxRoutes ?? 256));
    this.slowMs = opts.slowThresholdMs ?? SLOW_ROUTE_MS;
    this.maxSlow = Math.max(0, Math.floor(opts.maxSlowRoutes ?? 8));
    const alpha = opts.ewmaAlpha ?? DEFAULT_EWMA_ALPHA;
    this.alpha = alpha > 0 && alpha <= 1 ? alpha : DEFAULT_EWMA_ALPHA;
  }

  record(route: string, ms: number, ok: boolean): void {
    const now = this.clock.now();
    let entry = this.routes.get(route);
    if (entry === undefined) {
      if (this.routes.size >= this.maxRoutes) this.evictStalest();
      entry = { buckets: [], lastAt: now };
      this.routes.set(route, entry);
    }
    entry.lastAt = now;
    const start = Math.floor(now / this.bucketMs) * this.bucketMs;
    let bucket = entry.buckets[entry.buckets.length - 1];
    // A clock that stepped backwards lands in the newest bucket rather than reordering history.
    if (bucket === undefined || start > bucket.start) {
      bucket = { start, hits: 0, errors: 0, sum: 0, decay: 1 };
      entry.buckets.push(bucket);
    }
    bucket.hits++;
    if (!ok) bucket.errors++;
    bucket.sum = bucket.sum * (1 - this.alpha) + this.alpha * ms;
    bucket.decay *= 1 - this.alpha;
    this.dropExpired(entry, now);
  }

  snapshot(windowMs: number): HttpBlock {
    const now = this.clock.now();
    const cutoff = now - Math.min(Math.max(0, windowMs), this.retentionMs);
    const block: HttpBlock = { routes: 0, hits: 0, errors: 0 };
    const ewmas: { route: string; ms: number }[] = [];
    for (const [route, entry] of this.routes) {
      this.dropExpired(entry, now);
      if (entry.buckets.length === 0) {
        this.routes.delete(route);
        continue;
      }
      const ewma = new EwmaFold(this.alpha);
      let hits = 0;
      for (const bucket of entry.buckets) {
        // In the window when its last possible millisecond is; a sample at exactly `cutoff` is out.
        if (bucket.start + this.bucketMs - 1 <= cutoff) continue;
        hits += bucket.hits;
        block.errors += bucket.errors;
        ewma.addGroup(bucket.sum, bucket.decay);
      }
      const ms = ewma.value();
      if (hits === 0 || ms === undefined) continue;
      block.routes++;
      block.hits += hits;
      ewmas.push({ route, ms });
    }
    if (block.hits === 0) return block;
    block.error_rate = block.errors / block.hits;
    block.avg_ewma_ms = round1(ewmas.reduce((total, r) => total + r.ms, 0) / ewmas.length);
    const slow = ewmas
      .filter((r) => r.ms > this.slowMs)
      .sort((a, b) => b.ms - a.ms)
      .slice(0, this.maxSlow)
      .map((r) => `${r.route} (${Math.round(r.ms)} ms)`);
    if (slow.length > 0) block.slow_routes = slow;
    return block;
  }

  private dropExpired(entry: Route, now: number): void {
    const cutoff = now - this.retentionMs;
    let drop = 0;
    while (drop < entry.buckets.length && (entry.buckets[drop] as Bucket).start + this.bucketMs - 1 <= cutoff)
      drop++;
    if (drop > 0) entry.buckets.splice(0, drop);
  }

  private evictStalest(): void {
    let stalest: string | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [route, entry] of this.routes) {
      if (entry.lastAt < oldest) {
        oldest = entry.lastAt;
        stalest = route;
      }
    }
    if (stalest !== undefined) this.routes.delete(stalest);
  }
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}
