import { rfc3339 } from "../../base/clock.js";
import type { HardwareId } from "../../base/spec.js";
import type {
  NodeEntry,
  NodeStatusCode,
  RestartBudgetView,
  RuntimeState,
  RuntimeView,
  Severity,
  StatusObject,
} from "../../ipc/protocol/runtime.js";
import { budgetExhausted, budgetLow } from "../../ipc/protocol/runtime.js";
import {
  maxNodeCode,
  nodeCodeLabel,
  nodeCodeRank,
  nodeSeverity,
  severityLabel,
  stateVocabulary,
} from "./labels.js";
import { offlineWhileWanted } from "./summary.js";

export type FormatTime = (iso: string) => string;

export const MAX_REASONS = 8;
export const MAX_REASON_CHARS = 240;
/** HTTP error rate over the window above which the node is degraded (5xx and transport errors only). */
export const HTTP_ERROR_RATE_DEGRADED = 0.05;
/** Average of the per-route EWMAs above which the node is degraded. */
export const HTTP_LATENCY_DEGRADED_MS = 1500;
/** Event delivery lag above which the node is degraded. */
export const BUS_LAG_DEGRADED_MS = 1000;
export const NOMINAL_REASON = "Running within expected ranges";
export const NOMINAL_LABEL = "Ready - Runtime telemetry nominal";
/** Log lines shown under a failed runtime. */
export const FAILED_LOG_LINES = 5;

function cut(text: string): string {
  if (text.length <= MAX_REASON_CHARS) return text;
  let end = MAX_REASON_CHARS - 1;
  // Do not split a surrogate pair.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** Trimmed, non-empty, each at most 240 characters, de-duplicated, at most 8: what every status shows. */
export function finalizeReasons(reasons: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of reasons) {
    const reason = cut(raw.trim());
    if (reason === "" || out.includes(reason)) continue;
    out.push(reason);
    if (out.length === MAX_REASONS) break;
  }
  return out;
}

/** "{id} restart budget exhausted ({used}/{max} used; resets at {time})" */
export function exhaustedLine(id: string, budget: RestartBudgetView, formatTime: FormatTime): string {
  const resets = budget.reset_at === undefined ? "" : `; resets at ${formatTime(budget.reset_at)}`;
  return `${id} restart budget exhausted (${budget.used}/${budget.max_restarts} used${resets})`;
}

/** "{id} restart budget low ({remaining} of {max} remaining; window {w}s; resets at {time})" */
export function lowLine(id: string, budget: RestartBudgetView, formatTime: FormatTime): string {
  const resets = budget.reset_at === undefined ? "" : `; resets at ${formatTime(budget.reset_at)}`;
  return (
    `${id} restart budget low (${budget.remaining} of ${budget.max_restarts} remaining; ` +
    `window ${budget.window_seconds}s${resets})`
  );
}

/**
 * One line per runtime under restart pressure. "Exhausted": no restart left (a budget of 0 means
 * restarts are disabled and is not pressure). "Low": at most one restart left of a budget larger
 * than one, so a single-restart budget is never "low", only full or exhausted.
 */
export function restartPressureLines(
  runtimes: readonly { id: string; budget: RestartBudgetView }[],
  formatTime: FormatTime,
): string[] {
  const lines: string[] = [];
  for (const { id, budget } of runtimes) {
    if (budgetExhausted(budget)) lines.push(exhaustedLine(id, budget, formatTime));
    else if (budgetLow(budget)) lines.push(lowLine(id, budget, formatTime));
  }
  return lines;
}

// ─── One runtime ──────────────────────────────────────────────────────────────────────────────

export interface RuntimeStatusInput {
  id: string;
  state: RuntimeState;
  reason?: string;
  budget: RestartBudgetView;
  nextRetryAt?: string;
  lastLogLines?: string[];
  /** What the backend printed last before its last run ended (sanitized, ≤ 3 lines); shown while not ready. */
  backendLines?: string[];
  formatTime: FormatTime;
}

// ANSI escapes and control characters from backend logs would garble terminals and screen readers.
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

function cleanLogLine(line: string): string {
  return line.replace(ANSI, "").replace(/\t/g, " ").replace(CONTROL, "");
}

/** The status object of one runtime, in the seed's vocabulary, from its supervisor state. */
export function runtimeStatus(input: RuntimeStatusInput): StatusObject {
  const { id, state, budget, nextRetryAt, formatTime } = input;
  const vocabulary = stateVocabulary(state);
  const reason = input.reason === undefined ? "" : cut(input.reason.trim());
  const label = state === "exhausted" || reason === "" ? vocabulary.label : `${vocabulary.label} - ${reason}`;
  const lines: string[] = [];
  if (state === "exhausted") {
    lines.push(exhaustedLine(id, budget, formatTime));
    if (nextRetryAt !== undefined) lines.push(`Automatic retry at ${formatTime(nextRetryAt)}`);
    if (reason !== "") lines.push(`Last failure: ${reason}`);
  } else if (state === "failed") {
    lines.push(reason);
    const logs = (input.lastLogLines ?? []).map(cleanLogLine).filter((line) => line.trim() !== "");
    for (const line of logs.slice(-FAILED_LOG_LINES)) lines.push(`log: ${line}`);
  } else {
    lines.push(reason);
    if (state === "backoff" && nextRetryAt !== undefined)
      lines.push(`Next retry at ${formatTime(nextRetryAt)}`);
  }
  // `failed` shows the log's last lines already.
  if (state !== "ready" && state !== "failed")
    for (const line of input.backendLines ?? []) lines.push(`backend: ${line}`);
  const detail = finalizeReasons(lines);
  const status: StatusObject = {
    code: vocabulary.code,
    severity: vocabulary.severity,
    severity_label: severityLabel(vocabulary.severity),
    label,
    aria_hint:
      detail.length === 0
        ? `Runtime ${id} status ${label}.`
        : `Runtime ${id} status ${label}. ${detail.join("; ")}`,
  };
  if (detail.length > 0) status.detail = detail;
  return status;
}

// ─── The node entry ───────────────────────────────────────────────────────────────────────────

/** One current observation that raises the node status; `ok` is the absence of findings. */
export interface Finding {
  code: Exclude<NodeStatusCode, "ok">;
  reason: string;
}

export interface NodeEntryInput {
  target: string;
  now: number;
  runtimes: readonly RuntimeView[];
  http?: NodeEntry["http"];
  busLagMs?: number;
  /** Accelerator label for `by_accelerator` ("CPU", "GPU (CUDA)", …); defaults to `acceleratorLabel`. */
  hardwareOf?: (rt: RuntimeView) => string;
  formatTime: FormatTime;
}

/** Fallback accelerator label when the hardware inventory is not at hand. */
export function acceleratorLabel(hardware: HardwareId): string {
  if (hardware === "cpu") return "CPU";
  if (/^gpu:\d+(,\d+)*$/.test(hardware)) return "GPU";
  return hardware;
}

function runtimeFindings(rt: RuntimeView, formatTime: FormatTime): Finding[] {
  const reason = rt.reason?.trim() ?? "";
  const because = reason === "" ? "" : `: ${reason}`;
  switch (rt.state) {
    case "failed":
      return [{ code: "error", reason: `${rt.id} failed${because}` }];
    case "exhausted":
      return [{ code: "error", reason: exhaustedLine(rt.id, rt.restart_budget, formatTime) }];
    case "degraded":
      return [{ code: "degraded", reason: `${rt.id} degraded${because}` }];
    case "backoff": {
      const retry = rt.next_retry_at === undefined ? "" : `, next retry ${formatTime(rt.next_retry_at)}`;
      return [{ code: "degraded", reason: `${rt.id} restarting (backoff${retry})${because}` }];
    }
    default:
      return offlineWhileWanted(rt)
        ? [{ code: "degraded", reason: `${rt.id} stopped while desired running` }]
        : [];
  }
}

/** Every current finding, from the inputs alone: nothing is carried over from an earlier entry. */
export function nodeFindings(input: Omit<NodeEntryInput, "target" | "hardwareOf">): Finding[] {
  const { runtimes, http, busLagMs, formatTime } = input;
  const findings: Finding[] = runtimes.flatMap((rt) => runtimeFindings(rt, formatTime));
  const wanted = runtimes.filter((rt) => rt.desired === "running");
  if (wanted.length > 0 && wanted.every(offlineWhileWanted)) {
    findings.push({ code: "offline", reason: `All runtimes offline (${wanted.length} desired running)` });
  }
  for (const rt of runtimes) {
    const budget = rt.restart_budget;
    if (budgetExhausted(budget))
      findings.push({ code: "error", reason: exhaustedLine(rt.id, budget, formatTime) });
    else if (budgetLow(budget))
      findings.push({ code: "degraded", reason: lowLine(rt.id, budget, formatTime) });
  }
  if (http !== undefined && http.hits > 0) {
    const rate = http.error_rate ?? http.errors / http.hits;
    if (rate > HTTP_ERROR_RATE_DEGRADED) {
      const percent = Math.round(rate * 1000) / 10;
      findings.push({
        code: "degraded",
        reason: `HTTP error rate ${percent}% (${http.errors} of ${http.hits} requests in the window)`,
      });
    }
    if (http.avg_ewma_ms !== undefined && http.avg_ewma_ms > HTTP_LATENCY_DEGRADED_MS) {
      findings.push({
        code: "degraded",
        reason: `HTTP latency ${Math.round(http.avg_ewma_ms)} ms on average (over ${HTTP_LATENCY_DEGRADED_MS} ms)`,
      });
    }
  }
  if (busLagMs !== undefined && busLagMs > BUS_LAG_DEGRADED_MS) {
    findings.push({ code: "degraded", reason: `Event bus lagging ${Math.round(busLagMs)} ms` });
  }
  return findings;
}

/**
 * The node status from its findings: the code is the most serious finding (never lowered by a
 * milder one); reasons list the most serious first, so the label names what set the code.
 */
export function nodeStatus(findings: readonly Finding[]): StatusObject<NodeStatusCode> {
  let code: NodeStatusCode = "ok";
  for (const finding of findings) code = maxNodeCode(code, finding.code);
  const ordered = findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => nodeCodeRank(b.finding.code) - nodeCodeRank(a.finding.code) || a.index - b.index)
    .map(({ finding }) => finding.reason);
  const reasons = finalizeReasons(ordered);
  const detail = reasons.length > 0 ? reasons : [NOMINAL_REASON];
  const label = code === "ok" ? NOMINAL_LABEL : `${nodeCodeLabel(code)} - ${reasons[0] ?? "no detail"}`;
  const severity = nodeSeverity(code);
  return {
    code,
    severity,
    severity_label: severityLabel(severity),
    label,
    detail,
    aria_hint: `Runtime status ${label}. ${detail.join("; ")}`,
  };
}

function countBy<K extends string>(keys: readonly K[]): Partial<Record<K, number>> {
  const counts: Partial<Record<K, number>> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

/** Not serving and not meant to be down: stopped or idle on request (or idle by TTL) is no alert. */
function needsAlert(rt: RuntimeView): boolean {
  if (rt.state === "ready" || rt.state === "idle") return false;
  return !(rt.desired === "stopped" && (rt.state === "stopped" || rt.state === "stopping"));
}

/** The node's `runtime.health` entry, composed from current inputs only. */
export function composeNodeEntry(input: NodeEntryInput): NodeEntry {
  const { target, now, runtimes, formatTime } = input;
  const generated = rfc3339(now);
  const http: NodeEntry["http"] = input.http
    ? { ...input.http, ...(input.http.slow_routes ? { slow_routes: [...input.http.slow_routes] } : {}) }
    : { routes: 0, hits: 0, errors: 0 };
  const runtime: NodeEntry["runtime"] = { total: runtimes.length, updated: generated };
  if (runtimes.length > 0) {
    runtime.states = countBy<RuntimeState>(runtimes.map((rt) => rt.state));
    runtime.severity = countBy<Severity>(runtimes.map((rt) => stateVocabulary(rt.state).severity));
    const alerts = runtimes.filter(needsAlert).map((rt) => `${rt.id}: ${rt.status.label}`);
    if (alerts.length > 0) runtime.alerts = alerts;
    const pressure = restartPressureLines(
      runtimes.map((rt) => ({ id: rt.id, budget: rt.restart_budget })),
      formatTime,
    );
    if (pressure.length > 0) runtime.restart_pressure = pressure;
    const hardwareOf = input.hardwareOf ?? ((rt: RuntimeView) => acceleratorLabel(rt.hardware));
    const groups = new Map<string, RuntimeState[]>();
    for (const rt of runtimes) {
      const key = hardwareOf(rt);
      groups.set(key, [...(groups.get(key) ?? []), rt.state]);
    }
    runtime.by_accelerator = Object.fromEntries(
      [...groups].map(([key, states]) => [key, { total: states.length, states: countBy(states) }]),
    );
  }
  return {
    target,
    status: nodeStatus(nodeFindings(input)),
    generated,
    http,
    runtime,
  };
}

/** Node id: RMX_NODE_ID, then ARW_NODE_ID (the seed's name), then the hostname, each trimmed; else "local". */
export function nodeTarget(env: NodeJS.ProcessEnv, hostname: string): string {
  for (const candidate of [env.RMX_NODE_ID, env.ARW_NODE_ID, hostname]) {
    const value = candidate?.trim();
    if (value) return value;
  }
  return "local";
}
