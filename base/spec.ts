/**
 * The resolved configuration's shapes (defaults applied, durations in milliseconds): what config/ produces
 * and what adapters/ and daemon/ consume. The bottom layer: imports nothing.
 */

export type AdapterKind =
  | "llama.cpp"
  | "llama-stub"
  | "command"
  | "remote"
  | "whisper.cpp"
  | "vllm"
  | "onnxruntime";
export type SandboxKind = "none" | "bwrap" | "systemd-run";
/** `cpu`, `gpu:N`, or `gpu:0,1` (a GPU list, vLLM's tensor parallelism). */
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
  /** whisper.cpp: compute threads (`-t`). */
  threads?: number;
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
export interface HttpSpec {
  /** Where it listens; undefined: off. */
  listen?: { host: string; port: number };
  /** `token`: every route but GET /health needs `Authorization: Bearer <token>`; `none`: loopback only. */
  auth: "token" | "none";
  /** `none`: GET /metrics without the token (a local Prometheus scraping without credentials). */
  metrics_auth: "token" | "none";
  /** Host header values accepted besides the loopback names (DNS-rebinding guard). */
  allowed_hosts: string[];
  /** Origins answered with CORS headers (and preflight); empty: no CORS. */
  cors_origins: string[];
  max_body_bytes: number;
  /** Largest multipart upload (POST /v1/audio/transcriptions); OpenAI's own limit is 25 MB. */
  max_upload_bytes: number;
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
