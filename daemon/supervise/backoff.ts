import type { BackoffSpec } from "../../base/spec.js";

/**
 * Delay before restart number `consecutiveFailures` (1-based): `initial_ms × factor^(n-1)`, capped at
 * `max_ms`, then multiplied by a jitter factor in [1 - jitter, 1 + jitter] so a fleet of crashing
 * runtimes does not restart in lockstep. Whole milliseconds, rounded down, never negative.
 * Counts below 1 (or not finite) are treated as 1: a caller that forgot to count still waits.
 */
export function backoffDelay(spec: BackoffSpec, consecutiveFailures: number, random: () => number): number {
  const initial = finiteOr(spec.initial_ms, 0);
  const max = finiteOr(spec.max_ms, 0);
  if (initial <= 0 || max <= 0) return 0;
  const n = Number.isFinite(consecutiveFailures) ? Math.max(1, Math.floor(consecutiveFailures)) : 1;
  // A factor below 1 would shrink delays as failures pile up; treat it as constant backoff.
  const factor = Math.max(1, finiteOr(spec.factor, 1));
  const base = Math.min(max, initial * factor ** (n - 1));
  const jitter = Math.min(1, Math.max(0, finiteOr(spec.jitter, 0)));
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
  return Math.max(0, Math.floor(base * (1 - jitter + 2 * jitter * unit)));
}

/** A runtime that stayed up this long is healthy again: the next failure starts from `initial_ms`. */
export function shouldResetBackoff(spec: BackoffSpec, uptimeMs: number): boolean {
  return uptimeMs >= spec.reset_after_ms;
}

function finiteOr(value: number, fallback: number): number {
  return Number.isFinite(value) ? value : fallback;
}
