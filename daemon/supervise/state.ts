/**
 * The per-runtime supervision state machine, pure: `step(machine, input, ctx)` returns the next
 * machine and the effects the impure supervisor must carry out. No I/O, no timers, no clock reads:
 * `ctx.now` and `ctx.random` are injected, so every path is testable exhaustively.
 */
import type { BackoffSpec, RestartBudgetSpec, RuntimeState } from "../types.js";
import { backoffDelay, shouldResetBackoff } from "./backoff.js";
import {
  type BudgetLog,
  budgetResetAt,
  canRestart,
  emptyBudgetLog,
  recordAttempt,
  resetBudget,
} from "./budget.js";

export type Desired = "running" | "stopped";

/** Why the current process is being killed; decides what its exit means. */
export type KillIntent = "stop" | "restart" | "unhealthy" | "idle";

export interface Machine {
  state: RuntimeState;
  desired: Desired;
  reason?: string;
  budget: BudgetLog;
  /** Consecutive runs that ended before `backoff.reset_after_ms` of uptime. */
  failures: number;
  /** A process is alive (spawned and not yet exited). */
  alive: boolean;
  /** Set while a kill is in flight: what to do when the process exits. */
  killing?: KillIntent;
  nextRetryAt?: number;
  retryKind?: "backoff" | "reset";
  startedAt?: number;
  readyAt?: number;
  restartsTotal: number;
  lastExit?: { code: number | null; signal: string | null; at: number };
  /** Increments on every spawn; the supervisor drops stale events from older processes. */
  generation: number;
}

export type Input =
  | { type: "start" }
  | { type: "stop" }
  | { type: "restore"; restart: boolean; reset_budget: boolean }
  | { type: "spawned" }
  | { type: "spawn_failed"; reason: string }
  | { type: "healthy" }
  | { type: "degraded"; reason: string }
  | { type: "unhealthy"; reason: string }
  | { type: "start_timeout"; reason: string }
  | { type: "exited"; code: number | null; signal: string | null }
  | { type: "retry_due" }
  | { type: "idle" }
  /** The spec changed by request (reload/switch): restart on it without using the restart budget. */
  | { type: "reconfigure" };

export type Effect =
  | { type: "spawn" }
  | { type: "kill"; intent: KillIntent }
  | { type: "schedule_retry"; at: number; kind: "backoff" | "reset" }
  | { type: "cancel_retry" }
  | { type: "restart_recorded"; automatic: boolean }
  | { type: "budget_reset" }
  | { type: "denied"; reason: string };

export interface StepContext {
  now: number;
  budget: RestartBudgetSpec;
  backoff: BackoffSpec;
  random: () => number;
}

export interface StepResult {
  machine: Machine;
  effects: Effect[];
  /** Present when the state or its reason changed. */
  changed?: { from: RuntimeState; to: RuntimeState; reason?: string };
}

export function initialMachine(budget: BudgetLog = emptyBudgetLog(), desired: Desired = "stopped"): Machine {
  return { state: "stopped", desired, budget, failures: 0, alive: false, restartsTotal: 0, generation: 0 };
}

/** States in which a process may be alive. */
const PROCESS_STATES: ReadonlySet<RuntimeState> = new Set(["starting", "ready", "degraded", "stopping"]);

export function hasProcess(m: Machine): boolean {
  return m.alive;
}

export function step(m: Machine, input: Input, ctx: StepContext): StepResult {
  const next: Machine = { ...m };
  const effects: Effect[] = [];
  const set = (state: RuntimeState, reason?: string) => {
    next.state = state;
    if (reason === undefined) delete next.reason;
    else next.reason = reason;
  };
  const clearRetry = () => {
    if (next.nextRetryAt !== undefined) effects.push({ type: "cancel_retry" });
    delete next.nextRetryAt;
    delete next.retryKind;
  };
  const spawn = () => {
    clearRetry();
    next.generation += 1;
    next.alive = true;
    delete next.killing;
    next.startedAt = ctx.now;
    delete next.readyAt;
    set("starting", "launching");
    effects.push({ type: "spawn" });
  };
  const kill = (intent: KillIntent, state: RuntimeState, reason: string) => {
    next.killing = intent;
    set(state, reason);
    effects.push({ type: "kill", intent });
  };
  /** A run ended or failed to become healthy while the runtime should be running. */
  const afterFailure = (why: string) => {
    const uptime = m.readyAt !== undefined ? ctx.now - m.readyAt : 0;
    next.failures = m.readyAt !== undefined && shouldResetBackoff(ctx.backoff, uptime) ? 1 : m.failures + 1;
    if (canRestart(next.budget, ctx.budget, ctx.now)) {
      next.budget = recordAttempt(next.budget, ctx.budget, ctx.now);
      next.restartsTotal += 1;
      effects.push({ type: "restart_recorded", automatic: true });
      const delay = backoffDelay(ctx.backoff, next.failures, ctx.random);
      next.nextRetryAt = ctx.now + delay;
      next.retryKind = "backoff";
      set("backoff", `${why}; restarting in ${formatMs(delay)}`);
      effects.push({ type: "schedule_retry", at: next.nextRetryAt, kind: "backoff" });
      return;
    }
    const resetAt = budgetResetAt(next.budget, ctx.budget, ctx.now);
    set("exhausted", `${why}; restart budget exhausted`);
    effects.push({ type: "denied", reason: "Restart budget exhausted" });
    if (ctx.budget.retry_at_reset && resetAt !== undefined) {
      next.nextRetryAt = resetAt;
      next.retryKind = "reset";
      effects.push({ type: "schedule_retry", at: resetAt, kind: "reset" });
    }
  };

  switch (input.type) {
    case "start": {
      if (m.desired === "running" && (m.alive || m.state === "backoff")) break; // already on its way
      const fresh = m.desired === "stopped" || m.state === "idle";
      next.desired = "running";
      if (m.alive) break;
      if (!fresh && (m.state === "failed" || m.state === "exhausted")) {
        // Starting a runtime that failed is a restart: it counts against the budget.
        return step(next, { type: "restore", restart: true, reset_budget: false }, ctx);
      }
      next.failures = 0;
      spawn();
      break;
    }
    case "stop": {
      next.desired = "stopped";
      clearRetry();
      if (m.alive) {
        if (m.killing === "stop") break;
        kill("stop", "stopping", "stop requested");
      } else {
        set("stopped", "stopped by request");
      }
      break;
    }
    case "restore": {
      if (input.reset_budget) {
        next.budget = resetBudget(next.budget, ctx.now);
        effects.push({ type: "budget_reset" });
      }
      if (!input.restart) {
        if (m.state === "exhausted" && input.reset_budget) {
          clearRetry();
          set("failed", "restart budget reset; not restarted");
        }
        break;
      }
      if (!canRestart(next.budget, ctx.budget, ctx.now)) {
        effects.push({ type: "denied", reason: "Restart budget exhausted" });
        break;
      }
      next.desired = "running";
      next.budget = recordAttempt(next.budget, ctx.budget, ctx.now);
      next.restartsTotal += 1;
      next.failures = 0;
      effects.push({ type: "restart_recorded", automatic: false });
      if (m.alive) {
        clearRetry();
        kill("restart", "stopping", "restore requested");
      } else {
        spawn();
      }
      break;
    }
    case "spawned":
      break;
    case "spawn_failed": {
      next.alive = false;
      delete next.killing;
      clearRetry();
      set("failed", input.reason);
      break;
    }
    case "healthy": {
      if (!m.alive || m.killing !== undefined) break;
      if (m.state === "starting" || m.state === "degraded") {
        if (m.state === "starting") next.readyAt = ctx.now;
        set("ready");
      }
      break;
    }
    case "degraded": {
      if (!m.alive || m.killing !== undefined) break;
      if (m.state === "ready" || m.state === "degraded") set("degraded", input.reason);
      break;
    }
    case "unhealthy":
    case "start_timeout": {
      if (!m.alive || m.killing !== undefined) break;
      kill("unhealthy", input.type === "start_timeout" ? "starting" : "degraded", input.reason);
      break;
    }
    case "exited": {
      if (!m.alive) break;
      next.alive = false;
      const at = ctx.now;
      next.lastExit = { code: input.code, signal: input.signal, at };
      const intent = m.killing;
      delete next.killing;
      if (m.desired === "stopped") {
        set("stopped", "stopped by request");
        break;
      }
      if (intent === "stop") {
        // A start arrived while the stop was in flight: honour the latest request.
        next.failures = 0;
        spawn();
        break;
      }
      if (intent === "idle") {
        set("idle", "stopped after idle time; starts on demand");
        break;
      }
      if (intent === "restart") {
        spawn();
        break;
      }
      const why =
        intent === "unhealthy"
          ? (m.reason ?? "unhealthy")
          : m.state === "starting"
            ? `exited during start-up (${describeExit(input.code, input.signal)})`
            : `exited (${describeExit(input.code, input.signal)})`;
      afterFailure(why);
      break;
    }
    case "retry_due": {
      if (m.desired !== "running" || m.alive || m.nextRetryAt === undefined) break;
      if (ctx.now < m.nextRetryAt) break;
      if (m.retryKind === "reset") {
        if (!canRestart(next.budget, ctx.budget, ctx.now)) {
          // Clock skew or a changed window: re-arm at the new horizon.
          const resetAt = budgetResetAt(next.budget, ctx.budget, ctx.now);
          if (resetAt !== undefined) {
            next.nextRetryAt = resetAt;
            effects.push({ type: "schedule_retry", at: resetAt, kind: "reset" });
          }
          break;
        }
        next.budget = recordAttempt(next.budget, ctx.budget, ctx.now);
        next.restartsTotal += 1;
        effects.push({ type: "restart_recorded", automatic: true });
      }
      spawn();
      break;
    }
    case "reconfigure": {
      if (m.desired !== "running") break;
      next.failures = 0;
      if (m.alive) {
        if (m.killing === "restart") break;
        clearRetry();
        kill("restart", "stopping", "reconfigured");
      } else if (m.state !== "idle") {
        spawn();
      }
      break;
    }
    case "idle": {
      if (!m.alive || m.killing !== undefined || m.state !== "ready") break;
      kill("idle", "stopping", "idle time reached");
      break;
    }
  }

  const changed =
    next.state !== m.state || next.reason !== m.reason
      ? { from: m.state, to: next.state, ...(next.reason !== undefined ? { reason: next.reason } : {}) }
      : undefined;
  return changed ? { machine: next, effects, changed } : { machine: next, effects };
}

export function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `signal ${signal}`;
  return `exit code ${code ?? "unknown"}`;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** For assertions: whether a state can have a live process. */
export function stateMayHaveProcess(state: RuntimeState): boolean {
  return PROCESS_STATES.has(state);
}
