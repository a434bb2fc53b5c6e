/**
 * Wire shapes of the runtime methods (`runtime.status`, `runtime.start|stop|restore|logs`, `config.reload`,
 * `daemon.hello`) and of runtime events. snake_case, times as RFC 3339 strings, durations in ms unless a
 * field name says `_seconds`. Types and pure predicates only: the CLI loads this at run time.
 */
import type { AdapterKind, HardwareId, SandboxKind } from "../../base/spec.js";
import type { GatewayView } from "./gateway.js";
import type { PRODUCT } from "./jsonrpc.js";

export type RuntimeState =
  | "stopped"
  | "starting"
  | "ready"
  | "degraded"
  | "backoff"
  | "exhausted"
  | "stopping"
  | "failed"
  | "idle";

/** The seed's runtime status vocabulary. */
export type StatusCode = "starting" | "ready" | "degraded" | "error" | "offline";
/** The node entry's vocabulary (reference sheet). */
export type NodeStatusCode = "ok" | "degraded" | "error" | "offline";
export type Severity = "info" | "warn" | "error";

export interface StatusObject<C extends string = StatusCode> {
  code: C;
  severity: Severity;
  severity_label: "Info" | "Warn" | "Error";
  label: string;
  detail?: string[];
  aria_hint: string;
}

export interface RestartBudgetView {
  max_restarts: number;
  window_seconds: number;
  used: number;
  remaining: number;
  /** When the oldest attempt leaves the window (a slot frees); absent when nothing is used. */
  reset_at?: string;
}

export interface LatencySummary {
  window_seconds: number;
  requests: number;
  errors: number;
  error_rate: number;
  p50_ms?: number;
  p95_ms?: number;
  ewma_ms?: number;
  last_error?: string;
  last_ok_at?: string;
}

export interface RuntimeView {
  id: string;
  adapter: AdapterKind;
  state: RuntimeState;
  /** Why it is in this state (e.g. "exit code 1 during start-up"). */
  reason?: string;
  status: StatusObject;
  desired: "running" | "stopped";
  pid?: number;
  port?: number;
  endpoint?: string;
  model?: string;
  hardware: HardwareId;
  sandbox: SandboxKind;
  started_at?: string;
  ready_at?: string;
  uptime_seconds?: number;
  restarts_total: number;
  last_exit?: { code: number | null; signal: string | null; at: string };
  next_retry_at?: string;
  restart_budget: RestartBudgetView;
  health: LatencySummary;
  inference?: LatencySummary;
  /** Last log lines, kept for failure states. */
  last_log_lines?: string[];
}

export interface NodeEntry {
  target: string;
  status: StatusObject<NodeStatusCode>;
  generated: string;
  http: {
    routes: number;
    hits: number;
    errors: number;
    avg_ewma_ms?: number;
    error_rate?: number;
    slow_routes?: string[];
    /** The OpenAI-compatible HTTP gateway: where it listens and its per model × cell × route figures. */
    gateway?: GatewayView;
  };
  runtime: {
    total: number;
    updated: string;
    states?: Partial<Record<RuntimeState, number>>;
    severity?: Partial<Record<Severity, number>>;
    alerts?: string[];
    restart_pressure?: string[];
    by_accelerator?: Record<string, { total: number; states?: Partial<Record<RuntimeState, number>> }>;
  };
}

export interface StatusSummary {
  ready: number;
  total: number;
  /** Smallest `remaining` over all runtimes; absent when there are none. */
  min_restarts_left?: number;
  /** Earliest `reset_at` over all runtimes. */
  next_reset?: string;
  attention_required: boolean;
  /** Why attention is required, one line each. */
  attention?: string[];
}

export interface RuntimeStatusResult {
  generated: string;
  node: NodeEntry;
  summary: StatusSummary;
  runtimes: RuntimeView[];
  /** Daemon-level problems (state or log writes failing); the daemon always sends it, [] when none. */
  problems?: DaemonProblem[];
}

export interface DaemonProblem {
  /** Stable code: STATE_WRITE_FAILED, LOG_WRITE_FAILED. */
  code: string;
  /** Names the cause and the path, e.g. "cannot write …/state.json: no space left on device (ENOSPC)". */
  message: string;
  path?: string;
  /** When this problem (this key) started; unchanged while it persists with new messages. */
  since: string;
}

/** No automatic restart is possible now. A budget of 0 means restarts are disabled, not exhausted. */
export function budgetExhausted(view: RestartBudgetView): boolean {
  return view.max_restarts > 0 && view.remaining === 0;
}

/** One restart (or none) left out of several: worth a warning before it runs out. */
export function budgetLow(view: RestartBudgetView): boolean {
  return view.max_restarts > 1 && view.remaining <= 1;
}

export interface HelloResult {
  protocol: number;
  product: typeof PRODUCT;
  version: string;
  node_id: string;
  pid: number;
  started_at: string;
  socket: string;
  methods: string[];
}

export interface RestoreResult {
  id: string;
  accepted: true;
  restarted: boolean;
  budget_reset: boolean;
  state: RuntimeState;
  restart_budget: RestartBudgetView;
  /** With `wait`: how it ended. */
  outcome?: "ready" | "failed" | "exhausted" | "timeout";
  detail?: string;
}

export interface StartStopResult {
  id: string;
  state: RuntimeState;
  outcome?: "ready" | "stopped" | "failed" | "exhausted" | "timeout";
  detail?: string;
  /** runtime.start of a failed or exhausted runtime: it spent one restart; `restart_budget` is what is left. */
  restart_spent?: true;
  restart_budget?: RestartBudgetView;
}

export interface LogsResult {
  id: string;
  file: string;
  lines: string[];
  /** With `follow`: lines arrive as `logs.line` notifications carrying this id. */
  subscription?: string;
}

export interface ReloadResult {
  source: string;
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
}
