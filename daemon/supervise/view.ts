/**
 * The RuntimeView a client sees, composed from the machine and a few observed facts. Pure: no I/O, no
 * clock reads; the supervisor gathers the facts and passes `now`.
 */
import { rfc3339 } from "../../base/clock.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { LatencySummary, RestartBudgetView, RuntimeView } from "../../ipc/protocol/runtime.js";
import { runtimeStatus } from "../status/compose.js";
import type { Machine } from "./state.js";

export interface ViewFacts {
  spec: RuntimeSpec;
  machine: Machine;
  budget: RestartBudgetView;
  now: number;
  pid?: number;
  port?: number;
  endpoint?: string;
  health: LatencySummary;
  inference: LatencySummary;
  /** The runtime's last log lines, gathered only when `showsLogLines(machine)`. */
  lastLogLines?: string[];
  formatTime: (iso: string) => string;
}

/** Lines of log a view carries. */
export const VIEW_LOG_LINES = 10;

/** States whose view carries the last log lines (they explain why the runtime is not running). */
export function showsLogLines(m: Machine): boolean {
  return m.state === "failed" || m.state === "exhausted" || m.state === "backoff";
}

export function composeView(f: ViewFacts): RuntimeView {
  const m = f.machine;
  const id = f.spec.id;
  const nextRetryAt = m.nextRetryAt !== undefined ? rfc3339(m.nextRetryAt) : undefined;
  const lastLogLines = showsLogLines(m) ? (f.lastLogLines ?? []) : undefined;
  const status = runtimeStatus({
    id,
    state: m.state,
    ...(m.reason !== undefined ? { reason: m.reason } : {}),
    budget: f.budget,
    ...(nextRetryAt ? { nextRetryAt } : {}),
    // Our own marker line for a failure repeats the reason the detail already leads with.
    ...(lastLogLines ? { lastLogLines: lastLogLines.filter((l) => l !== `--- rmxd: ${m.reason}`) } : {}),
    ...(m.lastErrors && m.state !== "ready" ? { backendLines: m.lastErrors.lines } : {}),
    formatTime: f.formatTime,
  });
  const view: RuntimeView = {
    id,
    adapter: f.spec.adapter,
    state: m.state,
    status,
    desired: m.desired,
    hardware: f.spec.hardware,
    sandbox: f.spec.sandbox.kind,
    restarts_total: m.restartsTotal,
    restart_budget: f.budget,
    health: f.health,
  };
  if (m.reason !== undefined) view.reason = m.reason;
  if (f.pid !== undefined) view.pid = f.pid;
  if (f.port !== undefined) view.port = f.port;
  if (f.endpoint !== undefined) view.endpoint = f.endpoint;
  if (f.spec.model !== undefined) view.model = f.spec.model;
  if (m.alive && m.startedAt !== undefined) {
    view.started_at = rfc3339(m.startedAt);
    view.uptime_seconds = Math.max(0, Math.round((f.now - m.startedAt) / 1000));
  }
  if (m.alive && m.readyAt !== undefined) view.ready_at = rfc3339(m.readyAt);
  if (m.lastExit)
    view.last_exit = { code: m.lastExit.code, signal: m.lastExit.signal, at: rfc3339(m.lastExit.at) };
  if (nextRetryAt) view.next_retry_at = nextRetryAt;
  if (f.spec.health.inference.enabled) view.inference = f.inference;
  if (lastLogLines && lastLogLines.length > 0) view.last_log_lines = lastLogLines;
  return view;
}
