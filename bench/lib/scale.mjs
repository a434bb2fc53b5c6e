/**
 * BENCH_SCALE scales every count and duration (default 1 = the full-size bench of issue 7). Counts never
 * drop below a floor that still gives a median and a p95 worth printing.
 */
const raw = process.env.BENCH_SCALE ?? "1";
const parsed = Number(raw);
if (!Number.isFinite(parsed) || parsed <= 0 || parsed > 10) {
  throw new Error(`BENCH_SCALE must be a number in (0, 10], got ${JSON.stringify(raw)}`);
}

export const SCALE = parsed;

/** `full × SCALE`, rounded, at least `min`. */
export function count(full, min = 2) {
  return Math.max(min, Math.round(full * SCALE));
}

/** Milliseconds: `fullMs × SCALE`, at least `minMs`. */
export function duration(fullMs, minMs = 1000) {
  return Math.max(minMs, Math.round(fullMs * SCALE));
}
