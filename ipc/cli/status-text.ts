/** The text of `rmx runtime status`: header, one line per runtime, the node's health line. */
import { statusHeader } from "../../daemon/status/summary.js";
import { budgetLine } from "../../daemon/supervise/budget.js";
import type { RuntimeStatusResult, RuntimeView } from "../../daemon/types.js";
import type { Palette } from "./format.js";
import { alignColumns, formatDuration, paintTone, stateMark } from "./format.js";

const DOWN_STATES: ReadonlySet<string> = new Set(["failed", "exhausted", "backoff"]);

function runtimeCells(rt: RuntimeView, palette: Palette, formatTime: (iso: string) => string): string[] {
  const mark = stateMark(rt.state);
  return [
    `  ${paintTone(palette, mark.tone, mark.symbol)} ${rt.id}`,
    // The state word is always there: meaning never rests on colour or symbol alone.
    paintTone(palette, mark.tone, rt.state),
    rt.status.label,
    rt.uptime_seconds === undefined ? "" : `up ${formatDuration(rt.uptime_seconds)}`,
    budgetLine(rt.restart_budget, formatTime),
  ];
}

export function renderStatus(
  result: RuntimeStatusResult,
  palette: Palette,
  formatTime: (iso: string) => string,
): string[] {
  const problems = result.problems ?? [];
  const base = statusHeader(result.summary, result.generated, formatTime);
  // A daemon problem (state or logs not written) is in the header: it affects every runtime below.
  const header =
    problems.length === 0
      ? base
      : `${base} — ${problems.length} daemon ${problems.length === 1 ? "problem" : "problems"}`;
  const lines = [result.summary.attention_required || problems.length > 0 ? palette.bold(header) : header];
  for (const p of problems)
    lines.push(`  ${palette.red("problem:")} ${p.code} since ${formatTime(p.since)}: ${p.message}`);
  if (result.runtimes.length === 0) lines.push("  (no runtimes configured)");
  else lines.push(...alignColumns(result.runtimes.map((rt) => runtimeCells(rt, palette, formatTime))));
  // Why a runtime is down, whole (the label cuts it, and says only "exhausted" when exhausted): the backend's
  // own last error lines are part of it.
  for (const rt of result.runtimes)
    if (rt.reason !== undefined && DOWN_STATES.has(rt.state)) lines.push(`  ${rt.id}: ${rt.reason}`);
  for (const reason of result.summary.attention ?? [])
    lines.push(`  ${palette.yellow("attention:")} ${reason}`);
  lines.push(`Node ${result.node.target}: ${result.node.status.label}`);
  return lines;
}
