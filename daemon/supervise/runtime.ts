/**
 * One runtime's supervisor, the driver: feeds real-world observations (spawns, exits, probe outcomes,
 * timers) into the pure state machine (state.ts) and carries out the effects it returns. The process (launch
 * steps, exit, kill) is process-run.ts, the launch pipeline launch.ts, probe scheduling probes.ts, the view view.ts.
 */

import path from "node:path";
import type { Logger } from "pino";
import { getAdapter } from "../../adapters/registry.js";
import type { Adapter, HardwareTarget, LaunchPlan, ProbeOutcome } from "../../adapters/types.js";
import type { Clock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { RuntimeState, RuntimeView } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";
import type { PersistedRuntime } from "../persisted.js";
import { endRemnants, type ProcessIdentity, stopProcessGroup } from "../process/child.js";
import { RotatingLog } from "../process/logs.js";
import { type BudgetLog, budgetView, dropReserved, sanitizeBudgetLog } from "./budget.js";
import { reportEffect } from "./effect-reports.js";
import { resumeGroup, stopOptions } from "./launch.js";
import { Prober, probeInput } from "./probes.js";
import { ProcessRun } from "./process-run.js";
import { ReportHold } from "./report-hold.js";
import { RetryTimer } from "./retry-timer.js";
import { mergeBudgets, SpawnJournal } from "./spawn-journal.js";
import {
  type Desired,
  type Effect,
  type Input,
  initialMachine,
  type Machine,
  type ProbeKind,
  type StepResult,
  step,
} from "./state.js";
import { composeView, showsLogLines, VIEW_LOG_LINES, type ViewFacts } from "./view.js";

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
  /**
   * Whether this supervisor keeps the runtime's write-ahead record (spawn-journal.ts): read at construction,
   * written before each spawn. Always, unless told otherwise (a reload's candidate: once promoted).
   */
  writeAhead?: () => boolean;
  /** Resolves `cpu`/`gpu:N` against the inventory; throws RmxError HARDWARE_UNKNOWN. */
  resolveHardware: (id: string) => HardwareTarget;
  /** Resolves a model id or path to a file path. */
  resolveModelPath: (model: string | undefined) => string | undefined;
  /** Wraps a launch plan in the runtime's sandbox; throws RmxError SANDBOX_UNAVAILABLE. */
  wrapSandbox: (plan: LaunchPlan, spec: RuntimeSpec, modelPath: string | undefined) => LaunchPlan;
  formatTime: (iso: string) => string;
  /** A probe result was recorded (the status snapshot is stale); the outcome feeds probe metrics. */
  onObserved?: (probe: ProbeKind, outcome: ProbeOutcome) => void;
  /** Position of the runtime in the config's `runtimes:` list, for messages that name the key to set. */
  configIndex?: (id: string) => number | undefined;
  /** The matrix's model id for a spec (served under it, probed by it); see LaunchContext.modelId. */
  modelId?: (spec: RuntimeSpec) => string | undefined;
}

export interface RestoreOutcome {
  accepted: boolean;
  restarted: boolean;
  budget_reset: boolean;
}

export class RuntimeSupervisor {
  private machine: Machine;
  private readonly run: ProcessRun;
  /** The pending retry (a timer, or a microtask for one due at once). */
  private readonly retry: RetryTimer;
  /** Reports held while a crash's exit and its respawn run (report-hold.ts). */
  private readonly hold = new ReportHold();
  private disposed = false;
  /** Built from a persisted record whose desired state was running: the first start is a resume. */
  private resumePending: boolean;
  private readonly probes: Prober;
  /** The steady probe outcome being dispatched, for the probe_failed event. */
  private lastFailure: ProbeOutcome | undefined;
  readonly log: RotatingLog;
  private readonly logger: Logger;
  /** The budget's write-ahead record (spawn-journal.ts). */
  private readonly journal: SpawnJournal;
  private journalFailed = false;

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
    // The write-ahead record is never older than state.json where they differ: it is written before
    // each spawn and at each change of the desired state, synchronously (see spawn-journal.ts).
    this.journal = new SpawnJournal(deps.stateDir, spec.id);
    const ahead = this.keepsJournal() ? this.journal.read(deps.clock.now()) : { problems: [] };
    for (const problem of ahead.problems) this.logger.warn({ runtime: spec.id }, problem);
    const budget = ahead.record ? mergeBudgets(loaded.log, ahead.record.budget) : loaded.log;
    const desired = ahead.record?.desired ?? persisted?.desired ?? "stopped";
    this.machine = initialMachine(budget, desired);
    this.retry = new RetryTimer(deps.clock, () => {
      if (!this.disposed) this.dispatch({ type: "retry_due" });
    });
    this.resumePending = desired === "running";
    this.probes = new Prober({
      clock: deps.clock,
      adapter: deps.adapter,
      spec: () => this.spec,
      endpoint: () => this.endpoint,
      modelId: () => deps.modelId?.(this.spec),
      starting: (g) => this.current(g) && this.machine.state === "starting",
      steady: (g) => this.current(g) && this.machine.killing === undefined,
      onReady: () => this.dispatch({ type: "healthy" }),
      onStartTimeout: (reason) => this.dispatch({ type: "start_timeout", reason }),
      onWrongBackend: (reason) => this.dispatch({ type: "wrong_backend", reason }),
      onSteady: (probe, outcome) => {
        this.lastFailure = outcome;
        this.dispatch(probeInput(probe, outcome, this.spec));
      },
      ...(deps.onObserved ? { onObserved: deps.onObserved } : {}),
      onError: (error, what) => this.logger.error({ err: error }, `${what} failed unexpectedly`),
    });
    this.log = new RotatingLog(path.join(deps.logsDir, `${spec.id}.log`), spec.logs);
    this.run = new ProcessRun(
      {
        id: spec.id,
        spec: () => this.spec,
        generation: () => this.machine.generation,
        killRequested: () => this.machine.killing !== undefined,
        awaitsExit: (g) =>
          this.machine.generation === g && this.machine.alive && this.machine.killing !== undefined,
        disposed: () => this.disposed,
        dispatch: (input) => this.dispatch(input),
        respawnsAtOnce: (input) => this.respawnsAtOnce(input),
        startProbes: (g) => this.probes.startUp(g),
        stopProbes: () => this.probes.stop(),
        persist: (spawning) => this.persist(spawning),
        journal: () => this.writeAhead(),
        holdReports: (work, quiet) => this.hold.run(work, () => this.persist(), quiet),
        report: (work) => this.hold.report(work),
        retryDueNow: () => this.retry.fireIfDueNow(),
      },
      deps,
      this.log,
    );
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
    return this.run.child?.running ? this.run.child.pid : undefined;
  }

  get endpoint(): string | undefined {
    return getAdapter(this.spec.adapter).endpoint(this.spec, this.run.port);
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

  /**
   * After a command that spawned (its result): the RmxError the launch failed with before any process ran
   * (BINARY_NOT_FOUND, MODEL_MISSING, PORT_IN_USE, SANDBOX_UNAVAILABLE, …; the runtime is `failed` with that
   * reason), once the launch is past that point. Undefined when it spawned, or nothing was launched.
   */
  launchFailure(result: StepResult): Promise<RmxError | undefined> {
    if (!result.effects.some((e) => e.type === "spawn")) return Promise.resolve(undefined);
    return this.run.launchError(result.machine.generation);
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
    await this.run.launching?.done;
    const child = this.run.child;
    if (child?.running) {
      resumeGroup(child.pgid);
      await stopProcessGroup(child, stopOptions(this.spec));
    } else if (child !== undefined) {
      await endRemnants(child); // its leader exited on its own; what it left must not outlive rmxd
    }
    // Once state.json holds everything, the write-ahead record has nothing more to say.
    const written = await this.persist().then(
      () => true,
      () => false,
    );
    if (written) this.dropJournal();
    await this.log.close();
  }

  /** Removal from the config: stop for good. */
  async dispose(): Promise<void> {
    this.dispatch({ type: "stop" });
    await this.run.launching?.done;
    const child = this.run.child;
    if (child?.running) await child.exited;
    await this.run.exitHandled; // the remnants are ended and the exit dispatched (state "stopped") first
    this.disposed = true;
    this.clearTimers();
    this.dropJournal();
    await this.log.close();
  }

  // ─── Views ──────────────────────────────────────────────────────────────────

  budget() {
    return budgetView(this.machine.budget, this.spec.restart_budget, this.deps.clock.now());
  }

  view(): RuntimeView {
    return composeView(this.viewFacts());
  }

  /** What a view is composed from, as it is now (cheap; composing it formats times). */
  private viewFacts(): ViewFacts {
    const pid = this.pid;
    const endpoint = this.endpoint;
    return {
      spec: this.spec,
      machine: this.machine,
      budget: this.budget(),
      now: this.deps.clock.now(),
      ...(pid !== undefined ? { pid } : {}),
      ...(this.run.port !== undefined ? { port: this.run.port } : {}),
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...this.probes.summaries(),
      ...(showsLogLines(this.machine) ? { lastLogLines: this.log.lastLines(VIEW_LOG_LINES) } : {}),
      formatTime: this.deps.formatTime,
    };
  }

  // ─── The loop: input → step → effects ───────────────────────────────────────

  private stepContext(random: () => number) {
    return {
      now: this.deps.clock.now(),
      budget: this.spec.restart_budget,
      backoff: this.spec.backoff,
      failureThreshold: this.spec.health.failure_threshold,
      random,
    };
  }

  /**
   * Whether `input` would lead to a spawn at once (directly, or a retry due now). A look-ahead: the step is
   * pure and its result dropped. The random source fixed at its top (the longest jitter), so the injected
   * one is not drawn from and "at once" here means at once whatever the real draw.
   */
  private respawnsAtOnce(input: Input): boolean {
    const context = this.stepContext(() => 1);
    return step(this.machine, input, context).effects.some(
      (e) => e.type === "spawn" || (e.type === "schedule_retry" && e.at <= context.now),
    );
  }

  private dispatch(input: Input): StepResult {
    this.resumePending = false;
    const before = this.machine;
    const context = this.stepContext(this.deps.random);
    const result = step(before, input, context);
    this.machine = result.machine;
    // What acts first (a spawn whose launch is prepared forks right here), then what only reports, with
    // the step's instant as its events' time (the fork took some of the time since).
    if (result.effects.length > 0) {
      for (const effect of result.effects) if (ACTING.has(effect.type)) this.apply(effect, context.now);
      for (const effect of result.effects) if (!ACTING.has(effect.type)) this.apply(effect, context.now);
    }
    if (result.changed) this.announce(result.changed, context.now);
    if (before.desired !== result.machine.desired || lastReset(before) !== lastReset(result.machine)) {
      this.writeAhead(); // rare (a command); a spawn writes it itself, right before the fork
    }
    if (
      before.budget !== result.machine.budget ||
      before.desired !== result.machine.desired ||
      before.alive !== result.machine.alive
    ) {
      this.persist();
    }
    return result;
  }

  /** `at`: the instant of the step that made `effect`. */
  private apply(effect: Effect, at: number): void {
    switch (effect.type) {
      case "spawn":
        this.run.launch(this.machine.generation);
        break;
      case "kill":
        this.probes.stop();
        this.run.kill().catch((error) => this.logger.error({ err: error }, "could not stop the process"));
        break;
      case "schedule_retry":
        this.retry.arm(effect.at);
        break;
      case "cancel_retry":
        this.retry.cancel();
        break;
      default: {
        const budget = this.budget();
        const context = {
          id: this.id,
          bus: this.deps.bus,
          logger: this.logger,
          budget: () => budget,
          lastFailure: this.lastFailure,
          at,
        };
        this.hold.report(() => reportEffect(effect, context));
      }
    }
  }

  /** The state change, as it is now, published and logged (when held, after the hold: report-hold.ts). */
  private announce(changed: NonNullable<StepResult["changed"]>, at: number): void {
    const facts = this.viewFacts();
    this.hold.report(() => this.publishChange(changed, composeView(facts), at));
  }

  private publishChange(changed: NonNullable<StepResult["changed"]>, view: RuntimeView, at: number): void {
    const level =
      view.status.severity === "error" ? "error" : view.status.severity === "warn" ? "warn" : "info";
    this.logger[level]({ from: changed.from, to: changed.to, reason: changed.reason }, `state ${changed.to}`);
    this.deps.bus.publish(
      "runtime.state.changed",
      {
        id: this.id,
        from: changed.from,
        to: changed.to,
        reason: changed.reason,
        status: view.status,
        restart_budget: view.restart_budget,
        pid: view.pid,
      },
      at,
    );
  }

  /**
   * `spawning`: the child being spawned, recorded before the spawn counts as done (see spawnChild).
   * While reports are held (report-hold.ts) the call is noted and answered by the one made after.
   */
  private persist(spawning?: ProcessIdentity): Promise<void> {
    const later = spawning === undefined ? this.hold.persistLater() : undefined;
    if (later !== undefined) return later;
    const child = this.run.child;
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

  /** The write-ahead record, synchronously; a failure leaves state.json's write alone (logged once). */
  private writeAhead(): void {
    if (!this.keepsJournal()) return;
    try {
      this.journal.write(
        { budget: this.machine.budget, desired: this.machine.desired },
        this.deps.clock.now(),
      );
      this.journalFailed = false;
    } catch (error) {
      if (!this.journalFailed) {
        this.logger.warn(
          { err: error, path: this.journal.files[0] },
          `cannot write the restart record ${path.dirname(this.journal.files[0])}: ${(error as Error).message}; state.json alone records the budget`,
        );
      }
      this.journalFailed = true;
    }
  }

  private keepsJournal(): boolean {
    return this.deps.writeAhead?.() ?? true;
  }

  private dropJournal(): void {
    if (!this.keepsJournal()) return;
    try {
      this.journal.remove();
    } catch {
      // left for the next start to merge; it says nothing state.json does not
    }
  }

  private clearTimers(): void {
    this.retry.cancel();
    this.probes.stop();
  }

  private current(generation: number): boolean {
    return !this.disposed && generation === this.machine.generation && this.machine.alive;
  }
}

const lastReset = (m: Machine): number | undefined => m.budget.resets.at(-1);

/** The effects that act on the process or the timers; the others only report (effect-reports.ts). */
const ACTING: ReadonlySet<Effect["type"]> = new Set(["spawn", "kill", "schedule_retry", "cancel_retry"]);
