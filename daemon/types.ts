/**
 * Domain types shared by the daemon, the socket and the CLI. Wire shapes (everything returned by
 * `runtime.status`, `matrix.get`, events) use snake_case, times as RFC 3339 strings, durations in ms
 * unless a field name says `_seconds`.
 */

import type { GatewayView } from "./http/view.js";
import type { DaemonProblem } from "./problems.js";

// ─── Configuration (resolved: defaults applied, durations normalised to milliseconds) ───────────

export type AdapterKind = "llama.cpp" | "llama-stub" | "command" | "remote";
export type SandboxKind = "none" | "bwrap" | "systemd-run";
/** `cpu` or `gpu:N`. */
export type HardwareId = string;

export interface InferenceProbeSpec {
  enabled: boolean;
  interval_ms: number;
  timeout_ms: number;
  /** Prompt for the one-token completion. */
  prompt: string;
}

export interface HealthSpec {
  /** Path probed on the backend, `/health` for llama.cpp. */
  path: string;
  interval_ms: number;
  timeout_ms: number;
  /** Consecutive failures in steady state before the runtime is restarted. */
  failure_threshold: number;
  /** Longest a start-up (loading) may take before it is a failure. */
  start_timeout_ms: number;
  /** Start-up polling begins at this interval and grows by 1.5x up to `start_poll_max_ms`. */
  start_poll_initial_ms: number;
  start_poll_max_ms: number;
  inference: InferenceProbeSpec;
}

export interface RestartBudgetSpec {
  max_restarts: number;
  window_seconds: number;
  /** Schedule one retry at `reset_at` when exhausted. */
  retry_at_reset: boolean;
}

export interface BackoffSpec {
  initial_ms: number;
  max_ms: number;
  factor: number;
  /** 0..1: the delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
  /** Uptime after which the backoff resets to `initial_ms`. */
  reset_after_ms: number;
}

export interface StopSpec {
  signal: NodeJS.Signals;
  grace_ms: number;
}

export interface LogSpec {
  max_bytes: number;
  files: number;
}

export interface SandboxSpec {
  kind: SandboxKind;
  /** systemd-run: MemoryMax (bytes); bwrap: ignored. */
  memory_max_bytes?: number;
  /** systemd-run: CPUQuota percent (100 = one core). */
  cpu_quota_percent?: number;
  /** bwrap: extra read-only binds. */
  ro_binds?: string[];
}

export interface RuntimeSpec {
  id: string;
  adapter: AdapterKind;
  /** Executable; for llama.cpp defaults to `LLAMA_SERVER_BIN` or `llama-server` on PATH; for the stub, the bundled one. */
  binary?: string;
  /** Model: a path to a GGUF file or the id of an entry in `models`. */
  model?: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  host: string;
  /** Fixed port; when absent one is allocated at each start and passed as `--port`. */
  port?: number;
  hardware: HardwareId;
  sandbox: SandboxSpec;
  auto_start: boolean;
  /** Context size used for memory estimates and passed as `-c` when set. */
  context?: number;
  /** Layers offloaded on `gpu:N` (`-ngl`); default all (999). */
  gpu_layers?: number;
  /** Parallel slots (`-np`); also the default lease capacity of the runtime's cell. */
  slots?: number;
  health: HealthSpec;
  restart_budget: RestartBudgetSpec;
  backoff: BackoffSpec;
  stop: StopSpec;
  logs: LogSpec;
  /** Stop after this long with no requests and no leases; started again on demand. */
  idle_ttl_ms?: number;
  /** remote adapter: base URL of an OpenAI-compatible endpoint. */
  url?: string;
  /** remote adapter: name of the environment variable holding the API key (the key is never logged). */
  api_key_env?: string;
}

export interface ModelSpec {
  id: string;
  path: string;
}

export interface ScheduleSpec {
  id: string;
  cron: string;
  action: "start" | "stop" | "restart";
  runtime: string;
  timezone?: string;
}

export interface PolicySpec {
  allow_fallback: boolean;
  allow_remote: boolean;
  allow_cpu: boolean;
  required_sandbox?: SandboxKind;
  /** A pinned cell must be healthy this long before users move back to it. */
  restore_after_ms: number;
}

export interface IpcSpec {
  max_connections: number;
  max_line_bytes: number;
  /** Events queued for one subscriber before the oldest are dropped and `events.lagged` is sent. */
  subscriber_queue: number;
  /** system mode: group given access to the socket (mode 0660). */
  socket_group?: string;
  /** Unsent output one connection may hold beyond the message in flight before it is cut off. */
  max_unsent_per_connection: number;
  /** Unsent output across all connections; past it the connection holding the most is cut off. */
  max_unsent_total: number;
  line_timeout_ms: number;
  idle_timeout_ms: number;
  max_batch: number;
  max_json_depth: number;
}

/** The OpenAI-compatible HTTP gateway (daemon/http/). */
export type { GatewayView };

export interface HttpSpec {
  /** Where it listens; undefined: off. */
  listen?: { host: string; port: number };
  /** `token`: every route but GET /health needs `Authorization: Bearer <token>`; `none`: loopback only. */
  auth: "token" | "none";
  /** Host header values accepted besides the loopback names (DNS-rebinding guard). */
  allowed_hosts: string[];
  /** Origins answered with CORS headers (and preflight); empty: no CORS. */
  cors_origins: string[];
  max_body_bytes: number;
  headers_timeout_ms: number;
  /** Longest gap between two chunks of a request body. */
  body_timeout_ms: number;
  /** Longest wait for a stopped or idle runtime to become ready. */
  start_timeout_ms: number;
  /** Requests per model waiting for its runtime to start; more answer 503. */
  queue: number;
  /** Longest silence from a backend (no byte) before the request fails. */
  upstream_timeout_ms: number;
}

export interface DaemonConfig {
  /** Where the config came from: a file path, or "<embedded default>". */
  source: string;
  node_id?: string;
  log_level: "trace" | "debug" | "info" | "warn" | "error" | "fatal";
  timezone?: string;
  telemetry: { health_interval_ms: number; sample_interval_ms: number };
  ipc: IpcSpec;
  policy: PolicySpec;
  http: HttpSpec;
  models: ModelSpec[];
  model_dirs: string[];
  runtimes: RuntimeSpec[];
  schedule: ScheduleSpec[];
}

// ─── Supervision ────────────────────────────────────────────────────────────────────────────

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

// ─── Matrix ───────────────────────────────────────────────────────────────────────────────────

export interface Throughput {
  generated_tokens_per_second?: number;
  prompt_tokens_per_second?: number;
  /** Window the rates were computed over. */
  window_seconds?: number;
  /** Why rates are missing for a live runtime: its scrape failed ("llama: backend refuses our key (401)"). */
  note?: string;
}

export interface CellLoad {
  requests_processing?: number;
  requests_deferred?: number;
  slots_busy?: number;
  slots_total?: number;
  cpu_percent?: number;
  rss_bytes?: number;
  gpu_util_percent?: number;
  vram_share?: number;
  leases_held: number;
  lease_capacity: number;
}

export interface FitVerdict {
  fits: boolean | "unknown";
  need_bytes?: number;
  available_bytes?: number;
  reason: string;
}

export interface MatrixCell {
  key: string; // `${model}@${hardware}/${sandbox}`
  model: string;
  hardware: HardwareId;
  sandbox: SandboxKind;
  available: boolean;
  unavailable_reason?: string;
  runtimes: string[];
  status: StatusObject;
  health?: LatencySummary;
  throughput: Throughput;
  load: CellLoad;
  fit: FitVerdict;
  updated: string;
}
