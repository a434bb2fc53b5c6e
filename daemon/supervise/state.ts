/**
 * The per-runtime supervision state machine, pure: `step(machine, input, ctx)` returns the next
 * machine and the effects the impure supervisor must carry out. No I/O, no timers, no clock reads:
 * `ctx.now` and `ctx.random` are injected, so every path is testable exhaustively.
 */
import type { BackoffSpec, RestartBudgetSpec } from "../../base/spec.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import { type BackendErrors, errorsText } from "./backend-errors.js";
import { backoffDelay, shouldResetBackoff } from "./backoff.js";
import {
  type BudgetLog,
  budgetResetAt,
  canRestart,
  clearExhausted,
  commitReserved,
  dropReserved,
  emptyBudgetLog,
  markExhausted,
  recordAttempt,
  reserveAttempt,
  resetBudget,
} from "./budget.js";

export type Desired = "running" | "stopped";

/**
 * Why the current process is being killed; decides what its exit means. `fail`: it cannot work where it is
 * (another server answers on its port); its exit leaves the runtime `failed`, with no restart.
 */
export type KillIntent = "stop" | "restart" | "unhealthy" | "idle" | "fail";

export type ProbeKind = "health" | "inference";

/**
 * How a steady-state probe failed; `timeout` on a live process suggests a hang. `auth` (401/403) is the
 * backend up and refusing our key: degraded, never a restart (a new process would refuse the same key).
 * `wrong_backend`: another server answers on our port; counted like any failure (the restart's start-up
 * poll then fails it for good if that server is still there).
 */
export type ProbeFailure =
  | "loading"
  | "refused"
  | "timeout"
  | "http_error"
  | "error"
  | "auth"
  | "wrong_backend";

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
  /** Consecutive failed steady probes of the current process, per probe; reset by an ok and by a spawn. */
  probeFailures: Record<ProbeKind, number>;
  /** What the backend printed last in its last run that ended on its own (sanitized, ≤ 3); until it is ready. */
  lastErrors?: BackendErrors;
  /** The previous start-up exit (code or signal and last error line): the same one twice is a config error. */
  startupExit?: string;
}

export type Input =
  | { type: "start" }
  | { type: "stop" }
  | { type: "restore"; restart: boolean; reset_budget: boolean }
  | { type: "spawned" }
  | { type: "spawn_failed"; reason: string }
  /** After a daemon restart, a runtime whose persisted desired state is running: a restart, budget-wise. */
  | { type: "resume" }
  /** The start-up probe answered: the process is ready. */
  | { type: "healthy" }
  /** A steady-state probe result; the machine counts consecutive failures against `failure_threshold`. */
  | { type: "probe"; probe: ProbeKind; ok: true }
  /** `status`: the HTTP status of an `auth` failure (401 or 403), for the reason. */
  | {
      type: "probe";
      probe: ProbeKind;
      ok: false;
      failure: ProbeFailure;
      label: string;
      detail: string;
      status?: number;
    }
  | { type: "start_timeout"; reason: string }
  /** The start-up poll found another server on the port: stop the process, `failed` with no restart. */
  | { type: "wrong_backend"; reason: string }
  /** `errors`: the backend's own error lines of this run (backend-errors.ts), for the reason. */
  | { type: "exited"; code: number | null; signal: string | null; errors?: BackendErrors }
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
  | { type: "denied"; reason: string }
  /** A steady probe failed (count of threshold): for the event and the log line. */
  | { type: "probe_failed"; probe: ProbeKind; count: number; threshold: number; reason: string };

export interface StepContext {
  now: number;
  budget: RestartBudgetSpec;
  backoff: BackoffSpec;
  /** Consecutive failed steady probes that make a process unhealthy (the spec's `health.failure_threshold`). */
  failureThreshold: number;
  random: () => number;
}

export interface StepResult {
  machine: Machine;
  /** In order; read-only: a step with none shares one empty list. */
  effects: readonly Effect[];
  /** Present when the state or its reason changed. */
  changed?: { from: RuntimeState; to: RuntimeState; reason?: string };
}

export function initialMachine(budget: BudgetLog = emptyBudgetLog(), desired: Desired = "stopped"): Machine {
  return {
    state: "stopped",
    desired,
    budget,
    failures: 0,
    alive: false,
    restartsTotal: 0,
    generation: 0,
    probeFailures: { health: 0, inference: 0 },
  };
}

/** States in which a process may be alive. */
const PROCESS_STATES: ReadonlySet<RuntimeState> = new Set(["starting", "ready", "degraded", "stopping"]);

export function hasProcess(m: Machine): boolean {
  return m.alive;
}

/** The effects of every step that has none (frozen: never a list to add to). */
const NO_EFFECTS: readonly Effect[] = Object.freeze([]);

/**
 * A steady probe the machine ignores, or an ok one that finds nothing to reset: the common case by
 * far (50 runtimes, 10 probes a second). Such a step returns `m` itself, without the copy, closures and
 * lists of the general path; it is what that path would compute, less the identity of the objects.
 */
function probeChangesNothing(m: Machine, input: Extract<Input, { type: "probe" }>): boolean {
  if (!m.alive || m.killing !== undefined || (m.state !== "ready" && m.state !== "degraded")) return true;
  if (!input.ok || m.probeFailures[input.probe] !== 0) return false;
  // Degraded with both counts at zero (a refused key): this ok makes it ready.
  return m.state === "ready" || m.probeFailures.health !== 0 || m.probeFailures.inference !== 0;
}

export function step(m: Machine, input: Input, ctx: StepContext): StepResult {
  if (input.type === "probe" && probeChangesNothing(m, input)) return { machine: m, effects: NO_EFFECTS };
  return fullStep(m, input, ctx);
}

/** `step` without its shortcut for unchanged probes (exported for the test that holds the two equal). */
export function fullStep(m: Machine, input: Input, ctx: StepContext): StepResult {
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
    next.budget = clearExhausted(next.budget);
    next.probeFailures = { health: 0, inference: 0 };
    next.budget = dropReserved(next.budget);
    next.generation += 1;
    next.alive = true;
    delete next.killing;
    next.startedAt = ctx.now;
    delete next.readyAt;
    set("starting", "launching");
    effects.push({ type: "spawn" });
  };
  /** A new configuration or a request from the user: past failures no longer say anything about the next run. */
  const forget = () => {
    delete next.lastErrors;
    delete next.startupExit;
  };
  const kill = (intent: KillIntent, state: RuntimeState, reason: string) => {
    next.killing = intent;
    set(state, reason);
    effects.push({ type: "kill", intent });
  };
  /**
   * A spawn that counts against the budget, now: stamped at the spawn itself, so the log holds exactly
   * the counted spawns and no window can hold more of them than `max_restarts`.
   */
  const countedSpawn = (automatic: boolean) => {
    next.budget = recordAttempt(next.budget, ctx.budget, ctx.now);
    next.restartsTotal += 1;
    effects.push({ type: "restart_recorded", automatic });
    spawn();
  };
  /** The budget has no slot: `exhausted`, with a retry at `reset_at` when the spec asks for one. */
  const exhaust = (why: string, notBefore = ctx.now) => {
    clearRetry();
    next.budget = markExhausted(next.budget, ctx.now);
    const horizon = budgetResetAt(next.budget, ctx.budget, ctx.now);
    const resetAt = horizon === undefined ? undefined : Math.max(horizon, notBefore);
    set("exhausted", `${why}; restart budget exhausted`);
    effects.push({ type: "denied", reason: "Restart budget exhausted" });
    if (ctx.budget.retry_at_reset && resetAt !== undefined) {
      next.nextRetryAt = resetAt;
      next.retryKind = "reset";
      effects.push({ type: "schedule_retry", at: resetAt, kind: "reset" });
    }
  };
  /**
   * A failure no restart fixes: `failed`, the budget not spent on it. One retry still comes at the budget's
   * reset horizon with `retry_at_reset` (the cause may be transient); a reconfigure or restore clears it at once.
   */
  const definiteFailure = (why: string) => {
    clearRetry();
    set("failed", why);
    const horizon = budgetResetAt(next.budget, ctx.budget, ctx.now);
    if (ctx.budget.retry_at_reset && horizon !== undefined) {
      next.nextRetryAt = horizon;
      next.retryKind = "reset";
      effects.push({ type: "schedule_retry", at: horizon, kind: "reset" });
    }
  };
  /**
   * The same start-up exit twice in a row: retrying will not fix it (a transient cause, such as VRAM held by
   * another process, heals by the retry at the horizon).
   */
  const configurationError = (why: string, errors: readonly string[]) => {
    // `startupExit` stays: the retry at the horizon failing the same way is failed again at once
    definiteFailure(`${why} twice in a row; will not fix itself: ${errorsText(errors)}`);
  };
  /** A run ended or failed to become healthy while the runtime should be running. */
  const afterFailure = (why: string) => {
    const uptime = m.readyAt !== undefined ? ctx.now - m.readyAt : 0;
    next.failures = m.readyAt !== undefined && shouldResetBackoff(ctx.backoff, uptime) ? 1 : m.failures + 1;
    const delay = backoffDelay(ctx.backoff, next.failures, ctx.random);
    // Judged at the failure: a full log means `exhausted` now (the retry at reset_at, never sooner than
    // the backoff would have been), not a backoff that hopes a slot frees meanwhile.
    if (!canRestart(next.budget, ctx.budget, ctx.now)) return exhaust(why, ctx.now + delay);
    next.nextRetryAt = ctx.now + delay;
    next.retryKind = "backoff";
    set("backoff", `${why}; restarting in ${formatDelay(delay)}`);
    effects.push({ type: "schedule_retry", at: next.nextRetryAt, kind: "backoff" });
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
      forget();
      spawn();
      break;
    }
    case "resume": {
      if (m.desired !== "running") break; // nothing to resume
      if (m.alive || m.generation > 0) return step(m, { type: "start" }, ctx); // not a fresh daemon
      if (
        m.budget.exhausted_at !== undefined &&
        (!ctx.budget.retry_at_reset || !canRestart(m.budget, ctx.budget, ctx.now))
      ) {
        // Exhausted before the daemon restarted: it stays so (no spawn before reset_at, none at all
        // without retry_at_reset) until the budget frees or a restore.
        exhaust("exhausted before the daemon restarted");
        break;
      }
      if (!canRestart(next.budget, ctx.budget, ctx.now)) {
        exhaust("resumed after a daemon restart");
        break;
      }
      next.failures = 0;
      countedSpawn(true);
      break;
    }
    case "stop": {
      forget();
      next.desired = "stopped";
      next.budget = dropReserved(clearExhausted(next.budget));
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
      delete next.startupExit; // a restore is a deliberate new attempt: not "the same failure again"
      next.desired = "running";
      next.failures = 0;
      if (m.alive) {
        clearRetry();
        // The slot is held now (the answer reports it, the next restore is judged against it) and
        // stamped at the respawn, once the process has exited. Restores during that stop coalesce
        // into the one respawn but each spends its slot, as each one's answer said.
        next.budget = reserveAttempt(next.budget);
        if (m.killing !== "restart") kill("restart", "stopping", "restore requested");
      } else {
        countedSpawn(false);
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
      if (m.state === "starting") {
        forget();
        next.readyAt = ctx.now;
        set("ready");
      }
      break;
    }
    case "probe": {
      // Steady probes only: a process being killed, or still starting (start_timeout decides), is not judged.
      if (!m.alive || m.killing !== undefined || (m.state !== "ready" && m.state !== "degraded")) break;
      if (input.ok) {
        next.probeFailures = { ...m.probeFailures, [input.probe]: 0 };
        if (m.state === "degraded" && next.probeFailures.health === 0 && next.probeFailures.inference === 0)
          set("ready");
        break;
      }
      if (input.failure === "auth") {
        // Not counted toward the threshold: the key is the problem, and a restart would not change it.
        const reason = `backend refuses our key (${input.status ?? 401})`;
        if (m.state !== "degraded" || m.reason !== reason) {
          const threshold = thresholdOf(ctx.failureThreshold);
          effects.push({ type: "probe_failed", probe: input.probe, count: 0, threshold, reason });
        }
        set("degraded", reason);
        break;
      }
      const count = m.probeFailures[input.probe] + 1;
      const threshold = thresholdOf(ctx.failureThreshold);
      next.probeFailures = { ...m.probeFailures, [input.probe]: count };
      const reason = `${input.label} failed ${count}/${threshold}: ${input.detail}`;
      effects.push({ type: "probe_failed", probe: input.probe, count, threshold, reason });
      if (count >= threshold) {
        kill("unhealthy", "degraded", input.failure === "timeout" ? `${reason} (hung?)` : reason);
      } else {
        set("degraded", reason);
      }
      break;
    }
    case "start_timeout": {
      if (!m.alive || m.killing !== undefined) break;
      kill("unhealthy", "starting", input.reason);
      break;
    }
    case "wrong_backend": {
      if (!m.alive || m.killing !== undefined || m.state !== "starting") break;
      kill("fail", "stopping", input.reason);
      break;
    }
    case "exited": {
      if (!m.alive) break;
      next.alive = false;
      const at = ctx.now;
      next.lastExit = { code: input.code, signal: input.signal, at };
      const intent = m.killing;
      const reserved = m.budget.pending ?? 0;
      delete next.killing;
      if (m.desired === "stopped") {
        next.budget = dropReserved(next.budget);
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
      if (intent === "fail") {
        delete next.lastErrors; // its last lines are the answer to our stop signal, not the cause
        definiteFailure(m.reason ?? "failed");
        break;
      }
      if (intent === "restart") {
        if (reserved === 0) {
          spawn(); // a reconfigure: requested, not a restart
          break;
        }
        // Only if the clock stepped or a reload lowered the budget is there no slot for the reservation.
        const held = dropReserved(next.budget);
        if (!canRestart({ ...held, pending: reserved - 1 }, ctx.budget, ctx.now)) {
          next.budget = held;
          exhaust("restore requested");
          break;
        }
        next.budget = commitReserved(next.budget, ctx.budget, ctx.now);
        next.restartsTotal += 1;
        effects.push({ type: "restart_recorded", automatic: false });
        spawn();
        break;
      }
      if (intent === undefined) {
        if (input.errors && input.errors.lines.length > 0) next.lastErrors = input.errors;
        else delete next.lastErrors;
      }
      // Only lines that look like errors name the cause; the last lines of a killed process say nothing.
      const errors = intent === undefined && input.errors?.matched ? input.errors.lines : [];
      const said = errors.length > 0 ? `: ${errorsText(errors)}` : "";
      const exit = describeExit(input.code, input.signal);
      const why =
        intent === "unhealthy"
          ? (m.reason ?? "unhealthy")
          : m.state === "starting"
            ? `exited during start-up (${exit})`
            : `exited (${exit})`;
      const lastLine = errors[errors.length - 1];
      if (intent === undefined && m.state === "starting" && lastLine !== undefined) {
        const signature = `${exit}\n${lastLine}`;
        if (m.startupExit === signature) {
          configurationError(why, errors);
          break;
        }
        next.startupExit = signature;
      } else {
        delete next.startupExit;
      }
      afterFailure(`${why}${said}`);
      break;
    }
    case "retry_due": {
      if (m.desired !== "running" || m.alive || m.nextRetryAt === undefined) break;
      if (ctx.now < m.nextRetryAt) break;
      if (!canRestart(next.budget, ctx.budget, ctx.now)) {
        if (m.retryKind === "backoff") {
          // The slot judged free at the crash is not (the clock stepped, or a reload lowered the budget).
          exhaust(m.reason?.replace(/; restarting in .*$/, "") ?? "restart due");
          break;
        }
        // Clock skew or a changed window: re-arm at the new horizon.
        const resetAt = budgetResetAt(next.budget, ctx.budget, ctx.now);
        if (resetAt !== undefined) {
          next.nextRetryAt = resetAt;
          effects.push({ type: "schedule_retry", at: resetAt, kind: "reset" });
        }
        break;
      }
      countedSpawn(true);
      break;
    }
    case "reconfigure": {
      if (m.desired !== "running") break;
      next.failures = 0;
      forget();
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

function thresholdOf(value: number): number {
  return Number.isFinite(value) ? Math.max(1, Math.floor(value)) : 1;
}

export function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `signal ${signal}`;
  return `exit code ${code ?? "unknown"}`;
}

/** A backoff delay, always with one decimal from a second on ("1.0 s"): jittered delays rarely land on whole seconds. */
function formatDelay(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** For assertions: whether a state can have a live process. */
export function stateMayHaveProcess(state: RuntimeState): boolean {
  return PROCESS_STATES.has(state);
}
