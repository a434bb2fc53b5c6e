import type { DaemonConfig, RuntimeSpec } from "../base/spec.js";
import { DEFAULT_LIMITS } from "../base/wire-limits.js";

/** The per-runtime blocks that `defaults:` in the file can set. */
export type RuntimeDefaults = Pick<RuntimeSpec, "health" | "restart_budget" | "backoff" | "stop" | "logs">;

export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export const BUILTIN_RUNTIME_DEFAULTS: RuntimeDefaults = {
  health: {
    path: "/health",
    interval_ms: 5_000,
    timeout_ms: 2_000,
    failure_threshold: 3,
    start_timeout_ms: 120_000,
    start_poll_initial_ms: 10,
    start_poll_max_ms: 50,
    inference: { enabled: false, interval_ms: 30_000, timeout_ms: 10_000, prompt: "Hi" },
  },
  restart_budget: { max_restarts: 3, window_seconds: 600, retry_at_reset: true },
  backoff: { initial_ms: 500, max_ms: 30_000, factor: 2, jitter: 0.2, reset_after_ms: 60_000 },
  stop: { signal: "SIGTERM", grace_ms: 10_000 },
  logs: { max_bytes: 10 * 1024 * 1024, files: 5 },
};

/** Runtime keys that are not blocks; applied when the file leaves them out. */
export const BUILTIN_RUNTIME_SCALARS = {
  host: "127.0.0.1",
  hardware: "cpu",
  auto_start: true,
} as const satisfies Partial<RuntimeSpec>;

/** The gateway's documented default port (`http.listen: 127.0.0.1:8765`). */
export const DEFAULT_HTTP_PORT = 8765;

export type DaemonDefaults = Pick<DaemonConfig, "log_level" | "telemetry" | "ipc" | "policy" | "http">;

export const BUILTIN_DAEMON_DEFAULTS: DaemonDefaults = {
  log_level: "info",
  telemetry: { health_interval_ms: 5_000, sample_interval_ms: 5_000 },
  ipc: {
    max_connections: 2048,
    max_line_bytes: 1024 * 1024,
    subscriber_queue: 1000,
    // The socket server's own defaults, so the config and a bare RpcServer agree.
    max_unsent_per_connection: DEFAULT_LIMITS.maxOutboundBytes,
    max_unsent_total: DEFAULT_LIMITS.maxTotalOutboundBytes,
    line_timeout_ms: DEFAULT_LIMITS.partialLineTimeoutMs,
    idle_timeout_ms: DEFAULT_LIMITS.idleTimeoutMs,
    max_batch: DEFAULT_LIMITS.maxBatch,
    max_json_depth: DEFAULT_LIMITS.maxJsonDepth,
  },
  policy: { allow_fallback: true, allow_remote: false, allow_cpu: true, restore_after_ms: 30_000 },
  http: {
    listen: { host: "127.0.0.1", port: DEFAULT_HTTP_PORT },
    auth: "token",
    metrics_auth: "token",
    allowed_hosts: [],
    cors_origins: [],
    max_body_bytes: 4 * 1024 * 1024,
    max_upload_bytes: 25 * 1024 * 1024,
    headers_timeout_ms: 10_000,
    body_timeout_ms: 10_000,
    start_timeout_ms: 120_000,
    queue: 64,
    upstream_timeout_ms: 300_000,
  },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Right-most wins. Plain objects merge key by key; arrays and scalars replace; `undefined` never overrides.
 * Inputs are not mutated.
 */
export function deepMerge<T>(base: T, ...overrides: Array<DeepPartial<T> | undefined>): T {
  let result: unknown = base;
  for (const override of overrides) result = mergeTwo(result, override);
  return result as T;
}

function mergeTwo(base: unknown, override: unknown): unknown {
  if (override === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value !== undefined) out[key] = mergeTwo(base[key], value);
  }
  return out;
}
