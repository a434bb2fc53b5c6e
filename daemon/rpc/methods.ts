/** The daemon's socket methods: params validated by schema, each handler a thin call into the daemon. */
import type { MethodTable } from "../../ipc/server.js";
import { paramSchemas } from "../../ipc/schemas.js";
import type { Daemon } from "../daemon.js";
import { matrixMethods } from "./matrix-methods.js";
import { policyMethods } from "./policy-methods.js";
import { RmxError } from "../errors.js";
import type { RuntimeState } from "../types.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";

const SETTLED: readonly RuntimeState[] = ["ready", "failed", "exhausted", "stopped", "idle"];

async function settle(
  rt: RuntimeSupervisor,
  timeoutMs: number,
): Promise<{ outcome: "ready" | "failed" | "exhausted" | "stopped" | "timeout"; detail?: string }> {
  try {
    // A restore passes through stopping/starting; wait for the next settled state after the current one.
    const state = await rt.waitForState(SETTLED, timeoutMs);
    const view = rt.view();
    const outcome = state === "idle" ? "stopped" : (state as "ready" | "failed" | "exhausted" | "stopped");
    return view.reason !== undefined ? { outcome, detail: view.reason } : { outcome };
  } catch {
    return { outcome: "timeout", detail: `not settled within ${timeoutMs} ms (state ${rt.state})` };
  }
}

export function buildMethods(daemon: Daemon): MethodTable {
  const s = paramSchemas;
  const table: MethodTable = {
    "runtime.status": { params: s["runtime.status"], handler: () => daemon.status() },
    "runtime.restore": {
      params: s["runtime.restore"],
      handler: async (p: { id: string; restart: boolean; reset_budget: boolean; wait: boolean; timeout_ms?: number }) => {
        const rt = daemon.getRuntime(p.id);
        const outcome = rt.restore({ restart: p.restart, reset_budget: p.reset_budget });
        const result: Record<string, unknown> = {
          id: rt.id,
          accepted: true,
          restarted: outcome.restarted,
          budget_reset: outcome.budget_reset,
          state: rt.state,
          restart_budget: rt.budget(),
        };
        if (p.wait && outcome.restarted) {
          const settled = await settleAfterRestart(rt, p.timeout_ms ?? 120_000);
          Object.assign(result, settled, { state: rt.state, restart_budget: rt.budget() });
        }
        return result;
      },
    },
    "runtime.start": {
      params: s["runtime.start"],
      handler: async (p: { id: string; wait?: boolean; timeout_ms?: number }) => {
        const rt = daemon.getRuntime(p.id);
        const r = rt.start();
        if (r.effects.some((e) => e.type === "denied")) {
          const budget = rt.budget();
          throw new RmxError("BUDGET_EXHAUSTED", `Restart budget exhausted (${budget.used}/${budget.max_restarts} used)`, {
            id: rt.id,
            restart_budget: budget,
          });
        }
        const result: Record<string, unknown> = { id: rt.id, state: rt.state };
        if (p.wait) Object.assign(result, await settle(rt, p.timeout_ms ?? 120_000), { state: rt.state });
        return result;
      },
    },
    "runtime.stop": {
      params: s["runtime.stop"],
      handler: async (p: { id: string; wait?: boolean; timeout_ms?: number }) => {
        const rt = daemon.getRuntime(p.id);
        rt.stop();
        const result: Record<string, unknown> = { id: rt.id, state: rt.state };
        if (p.wait) {
          try {
            await rt.waitForState(["stopped"], p.timeout_ms ?? 60_000);
            Object.assign(result, { state: rt.state, outcome: "stopped" });
          } catch {
            Object.assign(result, { state: rt.state, outcome: "timeout" });
          }
        }
        return result;
      },
    },
    "runtime.logs": {
      params: s["runtime.logs"],
      handler: async (p: { id: string; lines: number; follow: boolean }, ctx) => {
        const rt = daemon.getRuntime(p.id);
        const lines = await rt.log.tail(p.lines);
        const result: Record<string, unknown> = { id: rt.id, file: rt.log.path, lines };
        if (p.follow) {
          const subscription = `logs-${rt.id}-${ctx.connectionId}-${Date.now().toString(36)}`;
          const off = rt.log.onLine((line) => ctx.notify("logs.line", { subscription, id: rt.id, line }));
          ctx.onClose(off);
          result.subscription = subscription;
        }
        return result;
      },
    },
    "config.reload": { params: s["config.reload"], handler: () => daemon.reload() },
    ...matrixMethods(daemon),
    ...policyMethods(daemon),
  };
  table["daemon.hello"] = {
    params: s["daemon.hello"],
    handler: () => ({
      ...daemon.hello(),
      methods: [...Object.keys(table), "events.subscribe", "events.unsubscribe"].sort(),
    }),
  };
  return table;
}

/** After a restore the runtime first leaves its current state; wait for the settled state that follows. */
async function settleAfterRestart(rt: RuntimeSupervisor, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  if (rt.state === "stopping") {
    try {
      await rt.waitForState(["starting", "failed", "stopped"], timeoutMs);
    } catch {
      return { outcome: "timeout" as const, detail: `still stopping after ${timeoutMs} ms` };
    }
  }
  return settle(rt, Math.max(1, deadline - Date.now()));
}
