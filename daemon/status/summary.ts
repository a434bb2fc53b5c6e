// Imported by the CLI: keep to types and the tiny budget predicates.

import type { RuntimeView, StatusSummary } from "../../ipc/protocol/runtime.js";
import { budgetExhausted } from "../../ipc/protocol/runtime.js";

/**
 * Down although it should be running, and not on its way back: `stopping` is a restart in progress
 * and `idle` is unloaded on purpose (starts on demand), so neither counts.
 */
export function offlineWhileWanted(rt: Pick<RuntimeView, "state" | "desired">): boolean {
  return rt.desired === "running" && rt.state === "stopped";
}

/** Why a runtime needs a person, or undefined when it does not. */
export function attentionLine(rt: RuntimeView): string | undefined {
  if (rt.state === "failed") return rt.reason ? `${rt.id} failed: ${rt.reason}` : `${rt.id} failed`;
  if (rt.state === "exhausted") return `${rt.id} restart budget exhausted`;
  if (offlineWhileWanted(rt)) return `${rt.id} is stopped but desired running`;
  if (budgetExhausted(rt.restart_budget)) return `${rt.id} has no automatic restarts left`;
  return undefined;
}

/**
 * Header numbers for `rmx status`. `next_reset` is the earliest `reset_at` still in the future at
 * `now` (a view computed a moment ago may carry one that has just passed).
 */
export function summarize(runtimes: readonly RuntimeView[], now: number): StatusSummary {
  const summary: StatusSummary = {
    ready: runtimes.filter((rt) => rt.state === "ready").length,
    total: runtimes.length,
    attention_required: false,
  };
  if (runtimes.length > 0) {
    summary.min_restarts_left = Math.min(...runtimes.map((rt) => rt.restart_budget.remaining));
  }
  let next: { ms: number; iso: string } | undefined;
  for (const rt of runtimes) {
    const iso = rt.restart_budget.reset_at;
    if (iso === undefined) continue;
    const ms = Date.parse(iso);
    if (Number.isFinite(ms) && ms > now && (next === undefined || ms < next.ms)) next = { ms, iso };
  }
  if (next !== undefined) summary.next_reset = next.iso;
  const attention = runtimes.map(attentionLine).filter((line): line is string => line !== undefined);
  if (attention.length > 0) {
    summary.attention_required = true;
    summary.attention = attention;
  }
  return summary;
}
