import { rfc3339 } from "../../base/clock.js";
import type { RestartBudgetView } from "../../ipc/protocol/runtime.js";

/**
 * Sliding-log restart budget: at most `max_restarts` attempts in any `window_seconds`. Unlike a fixed
 * window (systemd), a slot frees exactly when an attempt leaves the window, so `reset_at` is a real
 * promise the supervisor can schedule a retry on. Pure: every function takes `now` and returns a new log.
 */
export interface BudgetLog {
  /** Epoch ms of each automatic restart attempt, ascending. */
  attempts: number[];
  /** Epoch ms of each `reset_budget`, ascending; kept for the audit trail. */
  resets: number[];
  /**
   * Set while the runtime is `exhausted` (the budget denied its last restart): persisted with the log so a
   * daemon restart brings it back `exhausted` instead of spawning it. Cleared by a spawn, a stop or a reset.
   */
  exhausted_at?: number;
  /**
   * Manual restores accepted while the process was still being stopped: each holds a slot now (so the next
   * restore is judged against it and the answer reports it) and is stamped at the respawn. Not persisted.
   */
  pending?: number;
}

export interface BudgetLimits {
  max_restarts: number;
  window_seconds: number;
}

/** Resets kept for the audit trail. */
export const KEPT_RESETS = 20;
/**
 * Attempts kept even when older ones are still inside the window: bounds the log when a caller records
 * past exhaustion, while leaving room for a config reload that raises `max_restarts`.
 */
export const MIN_KEPT_ATTEMPTS = 100;

export const emptyBudgetLog = (): BudgetLog => ({ attempts: [], resets: [] });

function maxOf(limits: BudgetLimits): number {
  const max = Math.floor(limits.max_restarts);
  return Number.isFinite(max) && max > 0 ? max : 0;
}

function windowMsOf(limits: BudgetLimits): number {
  const ms = limits.window_seconds * 1000;
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** Attempts still inside the window at `now`; one at exactly `now - window` has left it. */
function inWindow(attempts: readonly number[], limits: BudgetLimits, now: number): number[] {
  const cutoff = now - windowMsOf(limits);
  return attempts.filter((at) => at > cutoff);
}

function insertSorted(values: readonly number[], value: number): number[] {
  const out = [...values];
  let i = out.length;
  // Clocks can step backwards; keep the log sorted so it stays valid for parseBudgetLog.
  while (i > 0 && (out[i - 1] as number) > value) i--;
  out.splice(i, 0, value);
  return out;
}

export function pruneBudget(log: BudgetLog, limits: BudgetLimits, now: number): BudgetLog {
  const keep = Math.max(maxOf(limits), MIN_KEPT_ATTEMPTS);
  const pruned: BudgetLog = {
    attempts: inWindow(log.attempts, limits, now).slice(-keep),
    resets: log.resets.slice(-KEPT_RESETS),
  };
  if (log.exhausted_at !== undefined) pruned.exhausted_at = log.exhausted_at;
  if (log.pending) pruned.pending = log.pending;
  return pruned;
}

const pendingOf = (log: BudgetLog): number => log.pending ?? 0;

/** Slots taken at `now`: stamped attempts still in the window plus reserved (pending) restores. */
function takenSlots(log: BudgetLog, limits: BudgetLimits, now: number): number {
  return inWindow(log.attempts, limits, now).length + pendingOf(log);
}

export function usedSlots(log: BudgetLog, limits: BudgetLimits, now: number): number {
  return Math.min(takenSlots(log, limits, now), maxOf(limits));
}

export function canRestart(log: BudgetLog, limits: BudgetLimits, now: number): boolean {
  return takenSlots(log, limits, now) < maxOf(limits);
}

/** Holds a slot for a restore whose spawn comes later (after the running process has exited). */
export function reserveAttempt(log: BudgetLog): BudgetLog {
  return { ...log, pending: pendingOf(log) + 1 };
}

/** The reserved restores' spawn happens now: each accepted restore is stamped here, where it spawns. */
export function commitReserved(log: BudgetLog, limits: BudgetLimits, now: number): BudgetLog {
  let out = dropReserved(log);
  for (let i = 0; i < pendingOf(log); i++) out = recordAttempt(out, limits, now);
  return out;
}

/** The reserved restores will not spawn (a stop came first): their slots free. */
export function dropReserved(log: BudgetLog): BudgetLog {
  if (log.pending === undefined) return log;
  const { pending: _, ...rest } = log;
  return rest;
}

/**
 * Stamps a spawn that counts against the budget (at the spawn, not at the crash that led to it), which
 * also ends any exhaustion. The caller checks `canRestart` first; recording past it keeps it exhausted.
 */
export function recordAttempt(log: BudgetLog, limits: BudgetLimits, now: number): BudgetLog {
  return pruneBudget({ ...clearExhausted(log), attempts: insertSorted(log.attempts, now) }, limits, now);
}

/** The budget denied a restart at `now`: remembered (and persisted) until a spawn, stop or reset. */
export function markExhausted(log: BudgetLog, now: number): BudgetLog {
  return log.exhausted_at !== undefined ? log : { ...log, exhausted_at: now };
}

export function clearExhausted(log: BudgetLog): BudgetLog {
  if (log.exhausted_at === undefined) return log;
  const { exhausted_at: _, ...rest } = log;
  return rest;
}

export function resetBudget(log: BudgetLog, now: number): BudgetLog {
  // Clears the attempts and any exhaustion; the reset itself stays on the audit trail.
  return { attempts: [], resets: insertSorted(log.resets, now).slice(-KEPT_RESETS) };
}

/**
 * When the next slot frees: the oldest in-window attempt + window, which is the seed's rule whenever the
 * log holds at most `max` attempts. After a reload lowered `max` below the in-window count, it is the
 * moment the count drops below `max` (attempt[count - max] + window), so `canRestart` is true from then on.
 */
export function budgetResetAt(log: BudgetLog, limits: BudgetLimits, now: number): number | undefined {
  // A reserved restore counts as stamped now, its earliest possible spawn.
  const live = [...inWindow(log.attempts, limits, now), ...Array<number>(pendingOf(log)).fill(now)];
  const max = maxOf(limits);
  if (live.length === 0 || max === 0) return undefined;
  const anchor = live.length >= max ? live[live.length - max] : live[0];
  return (anchor as number) + windowMsOf(limits);
}

export function budgetView(log: BudgetLog, limits: BudgetLimits, now: number): RestartBudgetView {
  const max = maxOf(limits);
  const used = usedSlots(log, limits, now);
  const view: RestartBudgetView = {
    max_restarts: max,
    window_seconds: limits.window_seconds,
    used,
    remaining: max - used,
  };
  const resetAt = used > 0 ? budgetResetAt(log, limits, now) : undefined;
  if (resetAt !== undefined) view.reset_at = rfc3339(resetAt);
  return view;
}

function parseTimes(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: number[] = [];
  for (const item of value) {
    if (typeof item !== "number" || !Number.isFinite(item) || item < 0) return undefined;
    if (out.length > 0 && item < (out[out.length - 1] as number)) return undefined;
    out.push(item);
  }
  return out;
}

/** How far ahead of the clock a persisted time may be and still be trusted (clocks of one host drift a little). */
export const BUDGET_CLOCK_SKEW_MS = 30_000;

const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** An instant for a message; times past the Date range (8.64e15 ms) are shown as numbers. */
const timeText = (ms: number): string => (ms <= 8.64e15 ? rfc3339(ms) : `${ms} ms`);

/**
 * Loads a persisted log entry by entry, for the supervisor: malformed entries are dropped, and so are
 * times beyond `now + skew` (a stamp a year ahead would otherwise keep the runtime exhausted for a year).
 * Never fails; `dropped` says what was dropped and why, for a warning.
 */
export function sanitizeBudgetLog(
  value: unknown,
  now: number,
  skewMs = BUDGET_CLOCK_SKEW_MS,
): { log: BudgetLog; dropped: string[] } {
  const dropped: string[] = [];
  if (value === undefined) return { log: emptyBudgetLog(), dropped };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    dropped.push(`budget is not an object (${JSON.stringify(value)}); starting from an empty log`);
    return { log: emptyBudgetLog(), dropped };
  }
  const record = value as Record<string, unknown>;
  const horizon = now + skewMs;
  const times = (key: "attempts" | "resets"): number[] => {
    const raw = record[key];
    if (raw === undefined) return [];
    if (!Array.isArray(raw)) {
      dropped.push(`budget.${key} is not an array (${JSON.stringify(raw)})`);
      return [];
    }
    const out: number[] = [];
    for (const item of raw) {
      if (!isTime(item)) dropped.push(`budget.${key} entry ${JSON.stringify(item)} is not an epoch-ms time`);
      else if (item > horizon)
        dropped.push(`budget.${key} entry ${timeText(item)} is in the future (now ${rfc3339(now)})`);
      else out.push(item);
    }
    return out.sort((a, b) => a - b);
  };
  const log: BudgetLog = { attempts: times("attempts"), resets: times("resets").slice(-KEPT_RESETS) };
  const exhausted = record.exhausted_at;
  if (exhausted !== undefined) {
    if (!isTime(exhausted)) dropped.push(`budget.exhausted_at ${JSON.stringify(exhausted)} is not a time`);
    else if (exhausted > horizon)
      dropped.push(`budget.exhausted_at ${timeText(exhausted)} is in the future (now ${rfc3339(now)})`);
    else log.exhausted_at = exhausted;
  }
  return { log, dropped };
}

/**
 * Validates a persisted log: epoch-ms numbers, finite, ascending. `resets` may be absent (treated as
 * none). Returns a fresh copy, or undefined when anything is malformed so the caller starts clean.
 */
export function parseBudgetLog(value: unknown): BudgetLog | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const attempts = parseTimes(record.attempts);
  if (attempts === undefined) return undefined;
  const resets = record.resets === undefined ? [] : parseTimes(record.resets);
  if (resets === undefined) return undefined;
  const log: BudgetLog = { attempts, resets: resets.slice(-KEPT_RESETS) };
  if (record.exhausted_at !== undefined) {
    if (!isTime(record.exhausted_at)) return undefined;
    log.exhausted_at = record.exhausted_at;
  }
  return log;
}
