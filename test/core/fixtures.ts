import { rfc3339 } from "../../base/clock.js";
import { runtimeStatus } from "../../daemon/status/compose.js";
import type { RestartBudgetView, RuntimeState, RuntimeView } from "../../ipc/protocol/runtime.js";

export const T0 = Date.UTC(2025, 8, 29, 12, 0, 5);
/** "12:09:41" from an RFC 3339 string, like the CLI's local-time formatter but zone-free. */
export const hhmmss = (iso: string): string => iso.slice(11, 19);

export function budget(
  max: number,
  used: number,
  resetAtMs?: number,
  windowSeconds = 600,
): RestartBudgetView {
  const view: RestartBudgetView = {
    max_restarts: max,
    window_seconds: windowSeconds,
    used,
    remaining: max - used,
  };
  if (resetAtMs !== undefined) view.reset_at = rfc3339(resetAtMs);
  return view;
}

export function runtime(
  id: string,
  state: RuntimeState,
  extra: Partial<Omit<RuntimeView, "id" | "state" | "status">> = {},
): RuntimeView {
  const restart_budget = extra.restart_budget ?? budget(3, 0);
  const view: RuntimeView = {
    id,
    adapter: "llama.cpp",
    state,
    desired: "running",
    hardware: "cpu",
    sandbox: "none",
    restarts_total: 0,
    health: { window_seconds: 60, requests: 0, errors: 0, error_rate: 0 },
    ...extra,
    restart_budget,
    status: runtimeStatus({ id, state, reason: extra.reason, budget: restart_budget, formatTime: hhmmss }),
  };
  return view;
}

/** Freezes a JSON-like value all the way down, so any mutation by the code under test throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
