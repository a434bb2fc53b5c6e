/**
 * One runtime's supervisor, the driver: feeds real-world observations (spawns, exits, probe outcomes,
 * timers) into the pure state machine (state.ts) and carries out the effects it returns. The launch
 * pipeline is launch.ts, probe scheduling probes.ts, the view view.ts.
 */
import path from "node:path";
import type { Logger } from "pino";
import type { Adapter, HardwareTarget, LaunchPlan, ProbeOutcome } from "../../adapters/types.js";
import type { Clock } from "../../base/clock.js";
import { rfc3339 } from "../../base/clock.js";
import { isRmxError, RmxError } from "../../base/errors.js";
import type { EventBus } from "../events.js";
import {
  type ChildHandle,
  type ExitInfo,
  endRemnants,
  type ProcessIdentity,
  stopProcessGroup,
} from "../process/child.js";
import type { ChildRecord } from "../process/identity.js";
import { RotatingLog } from "../process/logs.js";
import type { RuntimeSpec, RuntimeState, RuntimeView } from "../types.js";
import { type BudgetLog, budgetView, dropReserved, sanitizeBudgetLog } from "./budget.js";
import { describeEnd, exitErrors, killChild } from "./exit.js";
import { prepareLaunch, resumeGroup, spawnPlan, stopOptions } from "./launch.js";
import { describeOutcome, Prober } from "./probes.js";
import {
  type Desired,
  type Effect,
  type Input,
  initialMachine,
  type Machine,
  type ProbeFailure,
  type ProbeKind,
  type StepResult,
  step,
} from "./state.js";
import { composeView, showsLogLines, VIEW_LOG_LINES } from "./view.js";

export { describeOutcome } from "./probes.js";

export interface RuntimeDeps {
  clock: Clock;
  bus: EventBus;
  logger: Logger;
  logsDir: string;
  stateDir: string;
  random: () => number;
  adapter: Adapter;
  stubEntry: string;
  /**
   * Persists this runtime's budget, desired state and live child (atomically, by the daemon's store). A
   * promise it returns resolves once the write is on disk (a spawn waits for that); anything else counts as done.
   */
  persist: (id: string, record: PersistedRuntime) => unknown;
  /** Resolves `cpu`/`gpu:N` against the inventory; throws RmxError HARDWARE_UNKNOWN. */
  resolveHardware: (id: string) => HardwareTarget;
  /** Resolves a model id or path to a file path. */
  resolveModelPath: (model: string | undefined) => string | undefined;
  /** Wraps a launch plan in the runtime's sandbox; throws RmxError SANDBOX_UNAVAILABLE. */
  wrapSandbox: (plan: LaunchPlan, spec: RuntimeSpec, modelPath: string | undefined) => LaunchPlan;
  formatTime: (iso: string) => string;
  /** A probe result was recorded (the status snapshot is stale). */
  onObserved?: () => void;
  /** Position of the runtime in the config's `runtimes:` list, for messages that name the key to set. */
  configIndex?: (id: string) => number | undefined;
}

export interface PersistedRuntime {
  budget: BudgetLog;
  desired: Desired;
  child?: ChildRecord;
}

export interface RestoreOutcome {
  accepted: boolean;
  restarted: boolean;
  budget_reset: boolean;
}

export class RuntimeSupervisor {
  private machine: Machine;
  private child: ChildHandle | undefined;
  /** The machine generation `child` was spawned for: a kill only ever reaches the current one. */
  private childGeneration = -1;
  /** The launch in progress (between a spawn effect and a running child or a failure). */
  private launching: { generation: number; done: Promise<void> } | undefined;
  /** The current child's exit handling (remnants ended, exit dispatched); never rejects. */
  private exitHandled: Promise<void> | undefined;
  private port: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** Built from a persisted record whose desired state was running: the first start is a resume. */
  private resumePending: boolean;
  private readonly probes: Prober;
  /** The steady probe outcome being dispatched, for the probe_failed event. */
  private lastFailure: ProbeOutcome | undefined;
  readonly log: RotatingLog;
  private readonly logger: Logger;

  constructor(
    public spec: RuntimeSpec,
    private readonly deps: RuntimeDeps,
    persisted?: PersistedRuntime,
  ) {
    this.logger = deps.logger;
    const loaded = sanitizeBudgetLog(persisted?.budget, deps.clock.now());
    for (const why of loaded.dropped) {
      this.logger.warn({ runtime: spec.id }, `persisted restart budget of "${spec.id}": dropped ${why}`);
    }
    this.machine = initialMachine(loaded.log, persisted?.desired ?? "stopped");
    this.resumePending = persisted?.desired === "running";
    this.probes = new Prober({
      clock: deps.clock,
      adapter: deps.adapter,
      spec: () => this.spec,
      endpoint: () => this.endpoint,
      starting: (g) => this.current(g) && this.machine.state === "starting",
      steady: (g) => this.current(g) && this.machine.killing === undefined,
      onReady: () => this.dispatch({ type: "healthy" }),
      onStartTimeout: (reason) => this.dispatch({ type: "start_timeout", reason }),
      onSteady: (probe, outcome) => {
        this.lastFailure = outcome;
        this.dispatch(probeInput(probe, outcome, this.spec));
      },
      ...(deps.onObserved ? { onObserved: deps.onObserved } : {}),
      onError: (error, what) => this.logger.error({ err: error }, `${what} failed unexpectedly`),
    });
    this.log = new RotatingLog(path.join(deps.logsDir, `${spec.id}.log`), spec.logs);
  }

  get id(): string {
    return this.spec.id;
  }

  get state(): RuntimeState {
    return this.machine.state;
  }

  get desired(): Desired {
    return this.machine.desired;
  }

  get pid(): number | undefined {
    return this.child?.running ? this.child.pid : undefined;
  }

  get endpoint(): string | undefined {
    if (this.spec.adapter === "remote") return this.spec.url?.replace(/\/+$/, "");
    return this.port !== undefined ? `http://${this.spec.host}:${this.port}` : undefined;
  }

  get budgetLog(): BudgetLog {
    return this.machine.budget;
  }

  // ─── Commands ───────────────────────────────────────────────────────────────

  /**
   * The first start of a runtime persisted as running is a resume: the daemon restarted under it, so
   * budget-wise it is a restart (counted, and refused while the budget is exhausted).
   */
  start(): StepResult {
    const resume = this.resumePending;
    this.resumePending = false;
    return this.dispatch({ type: resume ? "resume" : "start" });
  }

  stop(): StepResult {
    return this.dispatch({ type: "stop" });
  }

  /** Manual restore. Throws RmxError BUDGET_EXHAUSTED (with the budget) when a restart is denied. */
  restore(opts: { restart: boolean; reset_budget: boolean }): RestoreOutcome {
    const result = this.dispatch({ type: "restore", ...opts });
    if (result.effects.some((e) => e.type === "denied")) throw this.budgetExhausted();
    return {
      accepted: true,
      restarted: result.effects.some(
        (e) => e.type === "spawn" || (e.type === "kill" && e.intent === "restart"),
      ),
      budget_reset: result.effects.some((e) => e.type === "budget_reset"),
    };
  }

  /** The error for a restart the budget denies; its data carries the budget (the CLI's denial line). */
  budgetExhausted(): RmxError {
    const view = this.budget();
    const resets = view.reset_at ? `; resets at ${view.reset_at}` : "";
    return new RmxError(
      "BUDGET_EXHAUSTED",
      `Restart budget exhausted (${view.used}/${view.max_restarts} used${resets})`,
      { id: this.id, restart_budget: view },
    );
  }

  /**
   * Replaces the spec (reload to another model, switch hardware or sandbox) and restarts on it if it is
   * running; no restart budget is used for a requested change.
   */
  reconfigure(spec: RuntimeSpec): void {
    if (spec.id !== this.spec.id) throw new Error(`reconfigure: id mismatch (${spec.id} != ${this.spec.id})`);
    this.spec = spec;
    this.dispatch({ type: "reconfigure" });
  }

  /** Stop for idleness: its own state, no budget used. */
  idle(): void {
    this.dispatch({ type: "idle" });
  }

  /** Resolves once the runtime reaches one of `states` (or rejects on timeout). */
  waitForState(states: readonly RuntimeState[], timeoutMs: number): Promise<RuntimeState> {
    if (states.includes(this.machine.state)) return Promise.resolve(this.machine.state);
    return this.deps.bus
      .waitFor<{ id: string; to: RuntimeState }>(
        "runtime.state.changed",
        (p) => p.id === this.id && states.includes(p.to),
        timeoutMs,
      )
      .then((e) => e.payload.to);
  }

  /** Daemon shutdown: stop the process but keep the desired state for the next start. */
  async shutdown(): Promise<void> {
    this.disposed = true;
    this.clearTimers();
    // A launch in flight sees `disposed` and kills what it spawned; wait for that, or it would outlive us.
    await this.launching?.done;
    const child = this.child;
    if (child?.running) {
      resumeGroup(child.pgid);
      await stopProcessGroup(child, stopOptions(this.spec));
    } else if (child !== undefined) {
      await endRemnants(child); // its leader exited on its own; what it left must not outlive rmxd
    }
    this.persist();
    await this.log.close();
  }

  /** Removal from the config: stop for good. */
  async dispose(): Promise<void> {
    this.dispatch({ type: "stop" });
    await this.launching?.done;
    const child = this.child;
    if (child?.running) await child.exited;
    await this.exitHandled; // the remnants are ended and the exit dispatched (state "stopped") first
    this.disposed = true;
    this.clearTimers();
    await this.log.close();
  }

  // ─── Views ──────────────────────────────────────────────────────────────────

  budget() {
    return budgetView(this.machine.budget, this.spec.restart_budget, this.deps.clock.now());
  }

  view(): RuntimeView {
    const pid = this.pid;
    const endpoint = this.endpoint;
    return composeView({
      spec: this.spec,
      machine: this.machine,
      budget: this.budget(),
      now: this.deps.clock.now(),
      ...(pid !== undefined ? { pid } : {}),
      ...(this.port !== undefined ? { port: this.port } : {}),
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...this.probes.summaries(),
      ...(showsLogLines(this.machine) ? { lastLogLines: this.log.lastLines(VIEW_LOG_LINES) } : {}),
      formatTime: this.deps.formatTime,
    });
  }

  // ─── The loop: input → step → effects ───────────────────────────────────────

  private dispatch(input: Input): StepResult {
    this.resumePending = false;
    const before = this.machine;
    const result = step(before, input, {
      now: this.deps.clock.now(),
      budget: this.spec.restart_budget,
      backoff: this.spec.backoff,
      failureThreshold: this.spec.health.failure_threshold,
      random: this.deps.random,
    });
    this.machine = result.machine;
    for (const effect of result.effects) this.apply(effect);
    if (result.changed) this.announce(result.changed);
    if (
      before.budget !== result.machine.budget ||
      before.desired !== result.machine.desired ||
      before.alive !== result.machine.alive
    ) {
      this.persist();
    }
    return result;
  }

  private apply(effect: Effect): void {
    switch (effect.type) {
      case "spawn":
        this.launch(this.machine.generation);
        break;
      case "kill":
        this.probes.stop();
        this.kill().catch((error) => this.logger.error({ err: error }, "could not stop the process"));
        break;
      case "schedule_retry":
        this.armRetry(effect.at);
        break;
      case "cancel_retry":
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        break;
      case "restart_recorded": {
        const budget = this.budget();
        this.deps.bus.publish("runtime.restart", {
          id: this.id,
          automatic: effect.automatic,
          restart_budget: budget,
        });
        this.logger.info({ automatic: effect.automatic, budget }, "restart recorded");
        break;
      }
      case "budget_reset":
        this.logger.warn({ budget: this.budget() }, "restart budget reset by request");
        break;
      case "denied": {
        const budget = this.budget();
        this.deps.bus.publish("runtime.budget.denied", {
          id: this.id,
          reason: effect.reason,
          restart_budget: budget,
        });
        this.logger.warn({ budget }, effect.reason);
        break;
      }
      case "probe_failed": {
        const { probe, count, threshold, reason } = effect;
        this.deps.bus.publish("runtime.probe.failed", {
          id: this.id,
          probe,
          count,
          threshold,
          outcome: this.lastFailure,
        });
        this.logger.warn(
          { probe, count, threshold, outcome: this.lastFailure?.kind, status: this.lastFailure?.status },
          reason,
        );
        break;
      }
    }
  }

  private announce(changed: NonNullable<StepResult["changed"]>): void {
    const view = this.view();
    const level =
      view.status.severity === "error" ? "error" : view.status.severity === "warn" ? "warn" : "info";
    this.logger[level]({ from: changed.from, to: changed.to, reason: changed.reason }, `state ${changed.to}`);
    this.deps.bus.publish("runtime.state.changed", {
      id: this.id,
      from: changed.from,
      to: changed.to,
      reason: changed.reason,
      status: view.status,
      restart_budget: view.restart_budget,
      pid: view.pid,
    });
  }

  /** `spawning`: the child being spawned, recorded before the spawn counts as done (see spawnChild). */
  private persist(spawning?: ProcessIdentity): Promise<void> {
    const child = this.child;
    // A reserved restore is not persisted: after a daemon restart the resume is the counted spawn.
    const record: PersistedRuntime = {
      budget: dropReserved(this.machine.budget),
      desired: this.machine.desired,
    };
    const identity = spawning ?? (child?.running ? child.identity : undefined);
    if (identity !== undefined) {
      record.child = { runtime: this.id, command: this.spec.binary ?? this.spec.adapter, ...identity };
    }
    const written = Promise.resolve(this.deps.persist(this.id, record)).then(() => undefined);
    written.catch(() => undefined); // the daemon's store logs it; only the spawn path waits for it
    return written;
  }

  private armRetry(at: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const delay = Math.max(0, Math.min(at - this.deps.clock.now(), 2 ** 31 - 1));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.disposed) return;
      if (this.deps.clock.now() < at) {
        this.armRetry(at); // long horizons are re-armed in ≤ 24.8-day steps
        return;
      }
      this.dispatch({ type: "retry_due" });
    }, delay);
    this.retryTimer.unref?.();
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.probes.stop();
  }

  // ─── Launch ─────────────────────────────────────────────────────────────────

  /** Starts the spawn for `generation` in the background; its outcome comes back as machine inputs. */
  private launch(generation: number): void {
    // Deferred: a synchronous failure must not dispatch from inside the dispatch that asked for the spawn.
    const done = Promise.resolve()
      .then(() => this.launchSteps(generation))
      .catch((error) => this.logger.error({ err: error }, "launch failed unexpectedly"))
      .finally(() => {
        if (this.launching?.generation === generation) this.launching = undefined;
      });
    this.launching = { generation, done };
  }

  private async launchSteps(generation: number): Promise<void> {
    const spec = this.spec;
    /** Superseded by a newer spawn, or the supervisor is gone: this launch must leave nothing behind. */
    const abandoned = () => generation !== this.machine.generation || this.disposed;
    /** A stop or restart arrived before there was a process to signal: finish it as an immediate exit. */
    const killRequested = () => this.machine.killing !== undefined;
    const exitWithoutProcess = (): void => {
      this.dispatch({ type: "exited", code: null, signal: null });
    };
    try {
      if (abandoned()) return;
      if (killRequested()) return exitWithoutProcess();
      if (!this.deps.adapter.spawns) {
        this.port = undefined;
        this.probes.startUp(generation);
        return;
      }
      const { plan, port } = await prepareLaunch(spec, this.deps);
      this.port = port;
      if (abandoned()) return;
      if (killRequested()) return exitWithoutProcess();
      const child = await spawnPlan(
        plan,
        this.log,
        { stateDir: this.deps.stateDir, runtime: this.id, generation },
        (identity) => this.persist(identity),
      );
      if (abandoned()) {
        await stopProcessGroup(child, { signal: "SIGKILL", grace_ms: 0 });
        return;
      }
      this.child = child;
      this.childGeneration = generation;
      this.persist();
      this.dispatch({ type: "spawned" });
      this.exitHandled = child.exited
        // A leader that exits on its own leaves its group, escapees and orphans: end them before any restart.
        .then(async (exit) => {
          await endRemnants(child);
          this.onExit(child, generation, exit);
        })
        .catch((error) => this.logger.error({ err: error }, "exit handling failed"));
      if (killRequested()) {
        await this.kill();
        return;
      }
      this.probes.startUp(generation);
    } catch (error) {
      // Once the process runs, its exit is what reports; this error is only logged (by `launch`).
      if (abandoned()) return;
      if (this.childGeneration === generation) throw error;
      const reason = isRmxError(error) ? error.message : `start failed: ${(error as Error).message}`;
      this.log.write(`--- rmxd: ${reason}\n`);
      // A stop that arrived meanwhile wins over the failure: the user asked for "stopped".
      if (killRequested()) exitWithoutProcess();
      else this.dispatch({ type: "spawn_failed", reason });
    }
  }

  private onExit(child: ChildHandle, generation: number, exit: ExitInfo): void {
    if (this.disposed) return; // daemon shutdown: not a crash, and the desired state stays as it was
    if (this.child === child) this.persist();
    if (generation !== this.machine.generation) return;
    this.probes.stop();
    const expected = this.machine.killing !== undefined;
    const errors = expected ? undefined : exitErrors(this.log); // read before our own line is written
    const end = describeEnd(exit, expected ? this.spec.stop.signal : undefined);
    this.log.write(`--- rmxd: process ${child.pid} ${end}\n`);
    this.deps.bus.publish("runtime.exited", {
      id: this.id,
      pid: child.pid,
      code: exit.code,
      signal: exit.signal,
      at: rfc3339(exit.at),
      expected,
    });
    this.dispatch({ type: "exited", code: exit.code, signal: exit.signal, ...(errors ? { errors } : {}) });
  }

  private async kill(): Promise<void> {
    const child = this.child;
    const generation = this.machine.generation;
    if (child === undefined || this.childGeneration !== generation) {
      // No process of this generation yet: a launch in flight finishes the kill itself; otherwise (remote
      // runtimes) the "exit" is immediate, dispatched after the dispatch that asked for the kill.
      if (this.launching?.generation === generation) return;
      queueMicrotask(() => {
        if (
          this.machine.generation === generation &&
          this.machine.alive &&
          this.machine.killing !== undefined
        ) {
          this.dispatch({ type: "exited", code: 0, signal: null });
        }
      });
      return;
    }
    await killChild(child, this.spec, this.logger);
  }

  private current(generation: number): boolean {
    return !this.disposed && generation === this.machine.generation && this.machine.alive;
  }
}

/** A steady probe's outcome as the machine's input: ok, or the failure's class and how to name it. */
function probeInput(probe: ProbeKind, outcome: ProbeOutcome, spec: RuntimeSpec): Input {
  if (outcome.kind === "ok") return { type: "probe", probe, ok: true };
  return {
    type: "probe",
    probe,
    ok: false,
    failure: outcome.kind as ProbeFailure,
    label: probe === "health" ? `${spec.health.path} probe` : "inference probe",
    detail: describeOutcome(outcome),
    ...(outcome.status !== undefined ? { status: outcome.status } : {}),
  };
}
