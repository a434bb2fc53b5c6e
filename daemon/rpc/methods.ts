/** The daemon's socket methods: params validated by schema, each handler a thin call into its host. */

import { RmxError } from "../../base/errors.js";
import type { ReloadResult } from "../../ipc/protocol/runtime.js";
import { paramSchemas } from "../../ipc/protocol/schemas.js";
import type { MethodTable, PreEncoded } from "../../ipc/server.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import { awaitSettled, SETTLED_OR_IDLE, type SettleBus } from "../supervise/settle.js";
import { type MatrixMethodsHost, matrixMethods } from "./matrix-methods.js";
import { type PolicyMethodsHost, policyMethods } from "./policy-methods.js";

/** What the runtime and daemon methods call. */
export interface RuntimeMethodsHost {
  readonly bus: SettleBus;
  /** Throws RmxError RUNTIME_NOT_FOUND. */
  getRuntime(id: string): RuntimeSupervisor;
  statusEncoded(): PreEncoded;
  reload(): Promise<ReloadResult>;
  hello(): Record<string, unknown>;
  /** Resolves once every state change made so far is in the state file; rejects with the write's error. */
  committed(): Promise<void>;
}

export interface MethodsHost extends RuntimeMethodsHost, MatrixMethodsHost, PolicyMethodsHost {}

/**
 * Waits until the command's effect is in the state file; when the write failed, answers
 * STATE_WRITE_FAILED saying the effect is live in memory but would not survive a daemon restart.
 */
async function persisted(host: Pick<RuntimeMethodsHost, "committed">, what: string): Promise<void> {
  try {
    await host.committed();
  } catch (error) {
    const cause = error as RmxError;
    throw new RmxError(
      "STATE_WRITE_FAILED",
      `${what} is applied in memory but not persisted: ${cause.message}`,
      { ...(cause.data ?? {}) },
      { cause },
    );
  }
}

async function settle(
  rt: RuntimeSupervisor,
  bus: SettleBus,
  timeoutMs: number,
): Promise<{ outcome: "ready" | "failed" | "exhausted" | "stopped" | "timeout"; detail?: string }> {
  // A restore passes through stopping/starting; wait for the next settled state after the current one.
  const settled = await awaitSettled(rt, bus, { states: SETTLED_OR_IDLE, timeoutMs });
  if (settled.timedOut)
    return { outcome: "timeout", detail: `not settled within ${timeoutMs} ms (state ${settled.state})` };
  const state = settled.state;
  const view = rt.view();
  const outcome = state === "idle" ? "stopped" : (state as "ready" | "failed" | "exhausted" | "stopped");
  return view.reason !== undefined ? { outcome, detail: view.reason } : { outcome };
}

export function buildMethods(daemon: MethodsHost): MethodTable {
  const s = paramSchemas;
  const table: MethodTable = {
    "runtime.status": { params: s["runtime.status"], handler: () => daemon.statusEncoded() },
    "runtime.restore": {
      params: s["runtime.restore"],
      handler: async (p: {
        id: string;
        restart: boolean;
        reset_budget: boolean;
        wait: boolean;
        timeout_ms?: number;
      }) => {
        const rt = daemon.getRuntime(p.id);
        const outcome = rt.restore({ restart: p.restart, reset_budget: p.reset_budget });
        await persisted(daemon, `runtime.restore ${rt.id}`);
        const result: Record<string, unknown> = {
          id: rt.id,
          accepted: true,
          restarted: outcome.restarted,
          budget_reset: outcome.budget_reset,
          state: rt.state,
          restart_budget: rt.budget(),
        };
        if (p.wait && outcome.restarted) {
          const settled = await settleAfterRestart(rt, daemon.bus, p.timeout_ms ?? 120_000);
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
        if (r.effects.some((e) => e.type === "denied")) throw rt.budgetExhausted();
        const failure = await rt.launchFailure(r);
        await persisted(daemon, `runtime.start ${rt.id}`);
        if (failure !== undefined) throw failure; // the runtime is `failed` with the same reason
        const result: Record<string, unknown> = { id: rt.id, state: rt.state };
        // Starting a failed or exhausted runtime is a restart: say it was spent, with what is left.
        if (r.effects.some((e) => e.type === "restart_recorded"))
          Object.assign(result, { restart_spent: true, restart_budget: rt.budget() });
        if (p.wait)
          Object.assign(result, await settle(rt, daemon.bus, p.timeout_ms ?? 120_000), { state: rt.state });
        return result;
      },
    },
    "runtime.stop": {
      params: s["runtime.stop"],
      handler: async (p: { id: string; wait?: boolean; timeout_ms?: number }) => {
        const rt = daemon.getRuntime(p.id);
        rt.stop();
        await persisted(daemon, `runtime.stop ${rt.id}`);
        const result: Record<string, unknown> = { id: rt.id, state: rt.state };
        if (p.wait) {
          const stopped = await awaitSettled(rt, daemon.bus, {
            states: ["stopped"],
            timeoutMs: p.timeout_ms ?? 60_000,
          });
          Object.assign(result, { state: rt.state, outcome: stopped.timedOut ? "timeout" : "stopped" });
        }
        return result;
      },
    },
    "runtime.logs": {
      params: s["runtime.logs"],
      handler: async (p: { id: string; lines: number; follow: boolean }, ctx) => {
        const rt = daemon.getRuntime(p.id);
        if (!p.follow) return { id: rt.id, file: rt.log.path, lines: await rt.log.tail(p.lines) };
        // Follow from before the tail is read, so no line falls between the two; the overlap is removed.
        const subscription = `logs-${rt.id}-${ctx.connectionId}-${Date.now().toString(36)}`;
        let arrived: string[] | undefined = [];
        const off = rt.log.onLine((line) => {
          if (arrived) arrived.push(line);
          else ctx.notify("logs.line", { subscription, id: rt.id, line });
        });
        ctx.onClose(off);
        let tail: string[];
        try {
          tail = await rt.log.tail(p.lines);
        } catch (error) {
          off();
          throw error;
        }
        const lines = joinTailAndFollowed(tail, arrived);
        arrived = undefined;
        return { id: rt.id, file: rt.log.path, lines, subscription };
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
async function settleAfterRestart(rt: RuntimeSupervisor, bus: SettleBus, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  if (rt.state === "stopping") {
    const left = await awaitSettled(rt, bus, { states: ["starting", "failed", "stopped"], timeoutMs });
    if (left.timedOut) return { outcome: "timeout" as const, detail: `still stopping after ${timeoutMs} ms` };
  }
  return settle(rt, bus, Math.max(1, deadline - Date.now()));
}

/**
 * The tail read from disk, then the lines followed while it was read, without the lines both hold:
 * the longest run ending the tail that starts the followed lines (the tail's last line may be the
 * partial beginning of a followed one).
 */
export function joinTailAndFollowed(tail: readonly string[], followed: readonly string[]): string[] {
  for (let k = Math.min(tail.length, followed.length); k > 0; k--) {
    const start = tail.length - k;
    let match = true;
    for (let i = 0; i < k && match; i++) {
      const t = tail[start + i] as string;
      const f = followed[i] as string;
      match = i === k - 1 ? f.startsWith(t) : t === f;
    }
    if (match) return [...tail.slice(0, start), ...followed];
  }
  return [...tail, ...followed];
}
