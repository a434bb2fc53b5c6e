import type { HardwareTarget, LaunchContext } from "../../adapters/types.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";

/** A complete, resolved RuntimeSpec with small timeouts and the inference probe on; tests override what they exercise. */
export function runtimeSpec(overrides: Partial<RuntimeSpec> = {}): RuntimeSpec {
  return defaultRuntimeSpec(
    "rt",
    { adapter: "llama.cpp", ...overrides },
    {
      health: {
        interval_ms: 1000,
        timeout_ms: 1000,
        start_timeout_ms: 10_000,
        start_poll_initial_ms: 50,
        start_poll_max_ms: 500,
        inference: { enabled: true, interval_ms: 5000, timeout_ms: 2000, prompt: "Say ok" },
      },
      backoff: { initial_ms: 100, max_ms: 1000, jitter: 0, reset_after_ms: 1000 },
      stop: { grace_ms: 1000 },
      logs: { max_bytes: 1024 * 1024, files: 2 },
    },
  );
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
