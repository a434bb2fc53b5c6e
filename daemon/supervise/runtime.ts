/**
 * One runtime's supervisor: feeds real-world observations (spawns, exits, probe outcomes, timers)
 * into the pure state machine and carries out the effects it returns.
 */
import path from "node:path";
import type { Logger } from "pino";
import type { Adapter, HardwareTarget, LaunchPlan, ProbeOutcome } from "../../adapters/types.js";
import type { Clock } from "../../base/clock.js";
import { rfc3339 } from "../../base/clock.js";
import { isRmxError, RmxError } from "../../base/errors.js";
import type { EventBus } from "../events.js";
import { isErrorOutcome, LatencyWindow } from "../health/window.js";
import { assertModelReadable, resolveBinary } from "../process/binary.js";
import {
  type ChildHandle,
  type ExitInfo,
  endRemnants,
  type ProcessIdentity,
  spawnChild,
  stopProcessGroup,
} from "../process/child.js";
import type { ChildRecord } from "../process/identity.js";
import { RotatingLog } from "../process/logs.js";
import { allocatePort, assertPortFree } from "../process/port.js";
import { runtimeStatus } from "../status/compose.js";
import type { RuntimeSpec, RuntimeState, RuntimeView } from "../types.js";
import type { BudgetLog } from "./budget.js";
import { budgetView } from "./budget.js";
import {
  type Desired,
  type Effect,
  type Input,
  initialMachine,
  type Machine,
  type StepResult,
  step,
} from "./state.js";

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

const START_POLL_GROWTH = 1.5;

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
  private probeTimer: NodeJS.Timeout | undefined;
  private inferenceTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private inferenceFailures = 0;
  private disposed = false;
  private readonly health: LatencyWindow;
  private readonly inference: LatencyWindow;
  readonly log: RotatingLog;
  private readonly logger: Logger;

  constructor(
    public spec: RuntimeSpec,
    private readonly deps: RuntimeDeps,
    persisted?: PersistedRuntime,
  ) {
    this.machine = initialMachine(persisted?.budget, persisted?.desired ?? "stopped");
    this.logger = deps.logger;
    this.health = new LatencyWindow(300_000, deps.clock);
    this.inference = new LatencyWindow(300_000, deps.clock);
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

  start(): StepResult {
    return this.dispatch({ type: "start" });
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
      await stopProcessGroup(child, this.stopOptions());
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
    const now = this.deps.clock.now();
    const m = this.machine;
    const budget = this.budget();
    const nextRetryAt = m.nextRetryAt !== undefined ? rfc3339(m.nextRetryAt) : undefined;
    const failedish = m.state === "failed" || m.state === "exhausted" || m.state === "backoff";
    const lastLogLines = failedish ? this.log.lastLines(10) : undefined;
    const status = runtimeStatus({
      id: this.id,
      state: m.state,
      ...(m.reason !== undefined ? { reason: m.reason } : {}),
      budget,
      ...(nextRetryAt ? { nextRetryAt } : {}),
      // Our own marker line for a failure repeats the reason the detail already leads with.
      ...(lastLogLines ? { lastLogLines: lastLogLines.filter((l) => l !== `--- rmxd: ${m.reason}`) } : {}),
      formatTime: this.deps.formatTime,
    });
    const view: RuntimeView = {
      id: this.id,
      adapter: this.spec.adapter,
      state: m.state,
      status,
      desired: m.desired,
      hardware: this.spec.hardware,
      sandbox: this.spec.sandbox.kind,
      restarts_total: m.restartsTotal,
      restart_budget: budget,
      health: this.health.summary(),
    };
    if (m.reason !== undefined) view.reason = m.reason;
    if (this.pid !== undefined) view.pid = this.pid;
    if (this.port !== undefined) view.port = this.port;
    if (this.endpoint !== undefined) view.endpoint = this.endpoint;
    if (this.spec.model !== undefined) view.model = this.spec.model;
    if (m.alive && m.startedAt !== undefined) {
      view.started_at = rfc3339(m.startedAt);
      view.uptime_seconds = Math.max(0, Math.round((now - m.startedAt) / 1000));
    }
    if (m.alive && m.readyAt !== undefined) view.ready_at = rfc3339(m.readyAt);
    if (m.lastExit)
      view.last_exit = { code: m.lastExit.code, signal: m.lastExit.signal, at: rfc3339(m.lastExit.at) };
    if (nextRetryAt) view.next_retry_at = nextRetryAt;
    if (this.spec.health.inference.enabled) view.inference = this.inference.summary();
    if (lastLogLines && lastLogLines.length > 0) view.last_log_lines = lastLogLines;
    return view;
  }

  // ─── The loop: input → step → effects ───────────────────────────────────────

  private dispatch(input: Input): StepResult {
    const before = this.machine;
    const result = step(before, input, {
      now: this.deps.clock.now(),
      budget: this.spec.restart_budget,
      backoff: this.spec.backoff,
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
        this.stopProbes();
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
    const record: PersistedRuntime = { budget: this.machine.budget, desired: this.machine.desired };
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
    this.stopProbes();
  }

  private stopProbes(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.inferenceTimer) clearTimeout(this.inferenceTimer);
    this.probeTimer = undefined;
    this.inferenceTimer = undefined;
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
        this.startProbing(generation);
        return;
      }
      const hardware = this.deps.resolveHardware(spec.hardware);
      const modelPath = this.deps.resolveModelPath(spec.model);
      if (modelPath !== undefined) await assertModelReadable(modelPath);
      if (spec.port !== undefined) {
        await assertPortFree(spec.host, spec.port);
        this.port = spec.port;
      } else {
        this.port = await allocatePort(spec.host);
      }
      let plan = this.deps.adapter.plan(spec, {
        port: this.port,
        host: spec.host,
        ...(modelPath !== undefined ? { modelPath } : {}),
        hardware,
        stubEntry: this.deps.stubEntry,
      });
      const hint = this.binaryHint();
      plan = {
        ...plan,
        command: await resolveBinary(plan.command, { ...process.env, ...plan.env }, hint ? { hint } : {}),
      };
      plan = this.deps.wrapSandbox(plan, spec, modelPath);
      if (abandoned()) return;
      if (killRequested()) return exitWithoutProcess();
      this.log.write(`--- rmxd: starting ${plan.command} ${plan.args.join(" ")}\n`);
      const child = await spawnChild({
        command: plan.command,
        args: plan.args,
        env: plan.env,
        ...(plan.cwd !== undefined ? { cwd: plan.cwd } : {}),
        log: this.log,
        unit: { stateDir: this.deps.stateDir, runtime: this.id, generation },
        recordSpawn: (identity) => this.persist(identity),
      });
      if (abandoned()) {
        await stopProcessGroup(child, { signal: "SIGKILL", grace_ms: 0 });
        return;
      }
      this.child = child;
      this.childGeneration = generation;
      this.failures = 0;
      this.inferenceFailures = 0;
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
      this.startProbing(generation);
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
    this.stopProbes();
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    this.log.write(`--- rmxd: process ${child.pid} ended (${how})\n`);
    this.deps.bus.publish("runtime.exited", {
      id: this.id,
      pid: child.pid,
      code: exit.code,
      signal: exit.signal,
      at: rfc3339(exit.at),
      expected: this.machine.killing !== undefined,
    });
    this.dispatch({ type: "exited", code: exit.code, signal: exit.signal });
  }

  /** What a user can set when the binary is not found: the config key, and for llama.cpp the variable. */
  private binaryHint(): string | undefined {
    const index = this.deps.configIndex?.(this.id);
    const key = `runtimes[${index ?? "?"}].binary`;
    if (this.spec.adapter === "llama.cpp") return `set LLAMA_SERVER_BIN or ${key}`;
    if (this.spec.adapter === "command") return `set ${key}`;
    return undefined;
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
    // A stopped (SIGSTOP) process cannot act on the stop signal; let it, so it gets its grace.
    resumeGroup(child.pgid);
    const result = await stopProcessGroup(child, this.stopOptions());
    if (result.escalated) {
      this.logger.warn(
        { grace_ms: this.spec.stop.grace_ms },
        "process ignored the stop signal; killed with SIGKILL",
      );
    }
  }

  /** Sandbox wrappers are spared the stop signal so the backend inside gets its grace (see stopProcessGroup). */
  private stopOptions() {
    const { signal, grace_ms } = this.spec.stop;
    return this.spec.sandbox.kind === "bwrap" ? { signal, grace_ms, spare: ["bwrap"] } : { signal, grace_ms };
  }

  // ─── Health ─────────────────────────────────────────────────────────────────

  /** Runs a background task whose failure must be logged, never left as an unhandled rejection. */
  private background(task: () => Promise<void>, what: string): void {
    task().catch((error) => this.logger.error({ err: error }, `${what} failed unexpectedly`));
  }

  /**
   * Start-up phase: poll fast (growing from `start_poll_initial` to `start_poll_max`) until the backend
   * answers 200 or `start_timeout` passes; refused connections and 503 "Loading model" mean loading.
   */
  private startProbing(generation: number): void {
    const spec = this.spec;
    const deadline = this.deps.clock.now() + spec.health.start_timeout_ms;
    let delay = spec.health.start_poll_initial_ms;
    let lastOutcome: ProbeOutcome | undefined;
    const starting = () => this.current(generation) && this.machine.state === "starting";
    const poll = async () => {
      this.probeTimer = undefined;
      if (!starting()) return;
      const endpoint = this.endpoint;
      if (endpoint === undefined) return;
      const outcome = await this.deps.adapter.probeHealth(endpoint, spec, spec.health.timeout_ms);
      if (!starting()) return;
      lastOutcome = outcome;
      if (outcome.kind === "ok") {
        this.health.record({ ok: true, ms: roundMs(outcome.ms), status: outcome.status });
        this.deps.onObserved?.();
        this.dispatch({ type: "healthy" });
        this.scheduleProbe(generation, "health", spec.health.interval_ms);
        if (spec.health.inference.enabled) {
          this.scheduleProbe(generation, "inference", spec.health.inference.interval_ms);
        }
        return;
      }
      if (this.deps.clock.now() >= deadline) {
        const what = lastOutcome ? describeOutcome(lastOutcome) : "no answer";
        this.dispatch({
          type: "start_timeout",
          reason: `not healthy within ${formatDuration(spec.health.start_timeout_ms)} of start (last probe: ${what})`,
        });
        return;
      }
      this.probeTimer = setTimeout(() => this.background(poll, "start-up probe"), delay);
      delay = Math.min(spec.health.start_poll_max_ms, Math.ceil(delay * START_POLL_GROWTH));
    };
    this.background(poll, "start-up probe");
  }

  private current(generation: number): boolean {
    return !this.disposed && generation === this.machine.generation && this.machine.alive;
  }

  /**
   * Steady phase. Probes keep a fixed cadence (the next is due `interval` after the previous one began,
   * never overlapping it), so a hung backend is acted on within threshold × interval + timeout.
   */
  private scheduleProbe(generation: number, probe: "health" | "inference", delay: number): void {
    const timer = setTimeout(
      () => this.background(() => this.steadyProbe(generation, probe), `${probe} probe`),
      delay,
    );
    if (probe === "health") this.probeTimer = timer;
    else this.inferenceTimer = timer;
  }

  private async steadyProbe(generation: number, probe: "health" | "inference"): Promise<void> {
    if (probe === "health") this.probeTimer = undefined;
    else this.inferenceTimer = undefined;
    const live = () => this.current(generation) && this.machine.killing === undefined;
    const endpoint = this.endpoint;
    if (!live() || endpoint === undefined) return;
    const spec = this.spec;
    const began = this.deps.clock.now();
    const outcome =
      probe === "health"
        ? await this.deps.adapter.probeHealth(endpoint, spec, spec.health.timeout_ms)
        : await this.deps.adapter.probeInference(endpoint, spec, spec.health.inference.timeout_ms);
    if (!live()) return; // stopped, restarted or disposed while the probe was in flight
    this.observe(outcome, probe);
    if (!live()) return;
    const interval = probe === "health" ? spec.health.interval_ms : spec.health.inference.interval_ms;
    this.scheduleProbe(generation, probe, Math.max(0, interval - (this.deps.clock.now() - began)));
  }

  /** Steady-state probe result: N consecutive failures before acting, so one blip is not a restart. */
  private observe(outcome: ProbeOutcome, probe: "health" | "inference"): void {
    const window = probe === "health" ? this.health : this.inference;
    const failed = outcome.kind !== "ok";
    const error = failed && isErrorOutcome(outcome.kind, outcome.status);
    this.deps.onObserved?.();
    window.record({
      ok: !error,
      ms: roundMs(outcome.ms),
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      ...(failed ? { error: describeOutcome(outcome) } : {}),
    });
    if (!failed) {
      if (probe === "health") this.failures = 0;
      else this.inferenceFailures = 0;
      if (this.machine.state === "degraded" && this.failures === 0 && this.inferenceFailures === 0) {
        this.dispatch({ type: "healthy" });
      }
      return;
    }
    const count = probe === "health" ? ++this.failures : ++this.inferenceFailures;
    const threshold = this.spec.health.failure_threshold;
    const what = `${probe === "health" ? `${this.spec.health.path} probe` : "inference probe"} failed ${count}/${threshold}: ${describeOutcome(outcome)}`;
    this.deps.bus.publish("runtime.probe.failed", { id: this.id, probe, count, threshold, outcome });
    this.logger.warn({ probe, count, threshold, outcome: outcome.kind, status: outcome.status }, what);
    if (count >= threshold) {
      const hung = outcome.kind === "timeout" ? " (hung?)" : "";
      this.dispatch({ type: "unhealthy", reason: `${what}${hung}` });
    } else {
      this.dispatch({ type: "degraded", reason: what });
    }
  }
}

/** "500 ms", "1.5 s", "120 s". */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

/** SIGCONT to a process group (a no-op for one that runs); none on Windows, gone is fine. */
function resumeGroup(pgid: number): void {
  if (process.platform === "win32") return;
  try {
    process.kill(-pgid, "SIGCONT");
  } catch {
    // ESRCH: already gone
  }
}

/** Sub-10 µs precision is noise; keep summaries readable. */
function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export function describeOutcome(outcome: ProbeOutcome): string {
  switch (outcome.kind) {
    case "ok":
      return `ok in ${Math.round(outcome.ms)} ms`;
    case "loading":
      return `loading (${outcome.message})`;
    case "timeout":
      return `no answer within ${Math.round(outcome.ms)} ms`;
    default:
      return outcome.status !== undefined ? `HTTP ${outcome.status}: ${outcome.message}` : outcome.message;
  }
}
