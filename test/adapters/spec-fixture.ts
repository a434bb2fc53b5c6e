import type { HardwareTarget, LaunchContext } from "../../adapters/types.js";
import type { RuntimeSpec } from "../../base/spec.js";

/** A complete, resolved RuntimeSpec with small defaults; tests override what they exercise. */
export function runtimeSpec(overrides: Partial<RuntimeSpec> = {}): RuntimeSpec {
  return {
    id: "rt",
    adapter: "llama.cpp",
    args: [],
    env: {},
    host: "127.0.0.1",
    hardware: "cpu",
    sandbox: { kind: "none" },
    auto_start: false,
    health: {
      path: "/health",
      interval_ms: 1000,
      timeout_ms: 1000,
      failure_threshold: 3,
      start_timeout_ms: 10_000,
      start_poll_initial_ms: 50,
      start_poll_max_ms: 500,
      inference: { enabled: true, interval_ms: 5000, timeout_ms: 2000, prompt: "Say ok" },
    },
    restart_budget: { max_restarts: 3, window_seconds: 600, retry_at_reset: true },
    backoff: { initial_ms: 100, max_ms: 1000, factor: 2, jitter: 0, reset_after_ms: 1000 },
    stop: { signal: "SIGTERM", grace_ms: 1000 },
    logs: { max_bytes: 1024 * 1024, files: 2 },
    ...overrides,
  };
}

export const CPU: HardwareTarget = { id: "cpu", kind: "cpu" };

export function gpu(index: number, vendor: HardwareTarget["vendor"] = "nvidia"): HardwareTarget {
  return { id: `gpu:${index}`, kind: "gpu", index, vendor };
}

export function launchContext(overrides: Partial<LaunchContext> = {}): LaunchContext {
  return {
    port: 18080,
    host: "127.0.0.1",
    hardware: CPU,
    stubEntry: "/opt/rmx/dist/adapters/llama-stub/main.js",
    ...overrides,
  };
}
