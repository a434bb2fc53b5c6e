/**
 * One runtime's process, for the supervisor (runtime.ts): the launch steps of each spawn (plan, spawn, adopt the
 * child, start the probes), its exit (remnants ended, the exit dispatched) and the kill. What any of it means is
 * the state machine's decision; this only reports, as machine inputs through `host.dispatch`.
 */
import type { Logger } from "pino";
import { rfc3339 } from "../../base/clock.js";
import { isRmxError, RmxError } from "../../base/errors.js";
import { monotonicMs } from "../../base/monotonic.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { EventBus } from "../events.js";
import { containmentKnown } from "../process/cgroup.js";
import {
  type ChildHandle,
  type ExitInfo,
  endRemnants,
  execQuiet,
  killGroup,
  type ProcessIdentity,
  stopProcessGroup,
} from "../process/child.js";
import type { RotatingLog } from "../process/logs.js";
import { describeEnd, exitErrors, killChild } from "./exit.js";
import {
  forkPlan,
  type LaunchDeps,
  type PreparedLaunch,
  prepareLaunch,
  type SpawnTarget,
  spawnPlan,
} from "./launch.js";
import type { Input } from "./state.js";

/** What the process side reads of and tells the supervisor. */
export interface ProcessHost {
  readonly id: string;
  spec(): RuntimeSpec;
  /** The machine's current generation: a launch or exit of an older one is stale. */
  generation(): number;
  /** A stop or restart is in flight (the machine's `killing`). */
  killRequested(): boolean;
  /** The machine has a live process of the current generation with a kill in flight. */
  awaitsExit(generation: number): boolean;
  disposed(): boolean;
  dispatch(input: Input): void;
  /**
   * Whether dispatching `input` now would spawn again at once (a restart without delay): a pure look-ahead
   * at the state machine, which changes nothing.
   */
  respawnsAtOnce(input: Input): boolean;
  startProbes(generation: number): void;
  stopProbes(): void;
  /** Persists the runtime; `spawning` is the child being spawned (recorded before the spawn counts as done). */
  persist(spawning?: ProcessIdentity): Promise<void>;
  /** Writes the budget's write-ahead record synchronously (spawn-journal.ts): right before each fork. */
  journal(): void;
  /**
   * Runs `work` with the runtime's persists, events and log lines held, made when it returns (the
   * persists as one): the exit of a crash and the respawn it leads to report after the fork, and write
   * state.json once, not three times before it. `quiet`: see ReportHold.run; the release when it waits.
   */
  holdReports(work: () => void, quiet?: () => Promise<void> | undefined): Promise<void> | undefined;
  /** Publishes or logs now, or after a hold (holdReports), in order with the supervisor's own. */
  report(work: () => void): void;
  /** Dispatches a restart that is due now at once, instead of on the microtask it is queued on. */
  retryDueNow(): void;
}

export interface ProcessDeps extends LaunchDeps {
  bus: EventBus;
  logger: Logger;
  stateDir: string;
}

/**
 * How long a launch prepared at an exit stays good for the respawn that follows: a restart without delay
 * takes it at once; after a longer backoff the port and binary are checked again.
 */
const PREPARED_FRESH_MS = 1000;
/** The most a crashed unit's cgroup kill and sweep wait for the respawn (which takes a few ms). */
const RESPAWN_WAIT_MS = 100;

/** A launch whose fork is made: the rest of the spawn (see forkChild). */
interface Forked {
  child: Promise<ChildHandle>;
}

export class ProcessRun {
  child: ChildHandle | undefined;
  /** The machine generation `child` was spawned for: a kill only ever reaches the current one. */
  private childGeneration = -1;
  /** The launch in progress (between a spawn effect and a running child or a failure). */
  launching: { generation: number; done: Promise<void> } | undefined;
  /** The current child's exit handling (remnants ended, exit dispatched); never rejects. */
  exitHandled: Promise<void> | undefined;
  port: number | undefined;
  /**
   * The next launch, prepared (port, binary, plan) while the last exit is still being handled: the respawn
   * after a crash then spawns at once instead of after those checks. Taken only for the same spec, fresh.
   */
  private ahead:
    | {
        spec: RuntimeSpec;
        at: number;
        prepared: Promise<PreparedLaunch>;
        /** The preparation's outcome once it succeeded: what a fork without a wait needs. */
        ready?: PreparedLaunch;
      }
    | undefined;
  /**
   * The last exited child's remnants being ended (cgroup.kill, the tag sweep). On a restart without delay
   * they end beside the new spawn, not before it; a launch that has to check the port again waits for them.
   */
  private remnants: Promise<unknown> = Promise.resolve();
  /** Forks made in the exit's own call (forkPrepared), counted: the hold around it waits after one. */
  private forks = 0;
  /** Opens the wait of remnants deferred behind a respawn (see endThenReport); a no-op when none waits. */
  private respawned: () => void = () => undefined;
  /** The RmxError the launch of a generation failed with before any process ran (for runtime.start's answer). */
  private failed: { generation: number; error: RmxError } | undefined;

  constructor(
    private readonly host: ProcessHost,
    private readonly deps: ProcessDeps,
    private readonly log: RotatingLog,
  ) {}

  /**
   * Starts the spawn for `generation`; its outcome comes back as machine inputs. With the launch prepared
   * ahead the fork happens in this call (see forkPrepared), the rest in the background.
   */
  launch(generation: number): void {
    let forked: Forked | undefined;
    try {
      forked = this.forkPrepared(generation);
    } catch (error) {
      // spawn() threw: reported by launchSteps (a microtask later), like any failure of the launch.
      const child = Promise.reject<ChildHandle>(error);
      child.catch(() => undefined);
      forked = { child };
    }
    // Deferred: a synchronous failure must not dispatch from inside the dispatch that asked for the spawn.
    const done = Promise.resolve()
      .then(() => this.launchSteps(generation, forked))
      .catch((error) => this.deps.logger.error({ err: error }, "launch failed unexpectedly"))
      .finally(() => {
        this.respawned();
        if (this.launching?.generation === generation) this.launching = undefined;
      });
    this.launching = { generation, done };
  }

  /** Once the launch of `generation` is over: the RmxError it failed with before a process ran, if any. */
  async launchError(generation: number): Promise<RmxError | undefined> {
    if (this.launching?.generation === generation) await this.launching.done;
    return this.failed?.generation === generation ? this.failed.error : undefined;
  }

  /**
   * The fork, synchronously, when nothing before it has to wait: the launch prepared ahead for this spec
   * (fresh, succeeded), the containment detected, no stop asked for. That is the restart without delay
   * after a crash: the exit's dispatch forks in the same call, nothing queued in between. Otherwise
   * undefined, and launchSteps prepares and spawns. Throws what spawn() throws.
   */
  private forkPrepared(generation: number): Forked | undefined {
    const { host } = this;
    const spec = host.spec();
    const prepared = this.freshAhead(spec) ? this.ahead?.ready : undefined;
    const containment = containmentKnown();
    if (!this.deps.adapter.spawns || prepared === undefined || containment === undefined) return undefined;
    if (generation !== host.generation() || host.disposed() || host.killRequested()) return undefined;
    this.ahead = undefined;
    this.port = prepared.port;
    host.journal();
    this.forks++;
    return { child: forkPlan(prepared, this.spawnTarget(generation), containment.dir) };
  }

  private spawnTarget(generation: number): SpawnTarget {
    return {
      log: this.log,
      unit: { stateDir: this.deps.stateDir, runtime: this.host.id, generation },
      recordSpawn: (identity) => this.host.persist(identity),
    };
  }

  /** `forked`: the fork already made (forkPrepared); else this prepares and spawns. */
  private async launchSteps(generation: number, forked: Forked | undefined): Promise<void> {
    const { host } = this;
    const spec = host.spec();
    /** Superseded by a newer spawn, or the supervisor is gone: this launch must leave nothing behind. */
    const abandoned = () => generation !== host.generation() || host.disposed();
    /** A stop or restart arrived before there was a process to signal: finish it as an immediate exit. */
    const exitWithoutProcess = (): void => host.dispatch({ type: "exited", code: null, signal: null });
    try {
      let child: ChildHandle;
      if (forked !== undefined) {
        child = await forked.child;
      } else {
        if (abandoned()) return;
        if (host.killRequested()) return exitWithoutProcess();
        if (!this.deps.adapter.spawns) {
          this.port = undefined;
          host.startProbes(generation);
          return;
        }
        const prepared = await this.prepare(spec);
        this.port = prepared.port;
        if (abandoned()) return;
        if (host.killRequested()) return exitWithoutProcess();
        host.journal();
        child = await spawnPlan(prepared, this.spawnTarget(generation));
      }
      this.respawned();
      if (abandoned()) {
        await stopProcessGroup(child, { signal: "SIGKILL", grace_ms: 0 });
        return;
      }
      this.child = child;
      this.childGeneration = generation;
      host.persist();
      host.dispatch({ type: "spawned" });
      this.exitHandled = child.exited
        // A leader that exits on its own leaves its group, escapees and orphans: end them before any restart.
        .then(async (exit) => {
          if (!host.disposed() && generation === host.generation()) this.prepareAhead(spec);
          await this.endThenReport(child, generation, exit);
        })
        .catch((error) => this.deps.logger.error({ err: error }, "exit handling failed"));
      if (host.killRequested()) {
        await this.kill();
        return;
      }
      // While it runs: the launch its crash would want, so a restart without delay spawns at once.
      if (spec.port === undefined) this.prepareAhead(spec);
      host.startProbes(generation);
    } catch (error) {
      // Once the process runs, its exit is what reports; this error is only logged (by `launch`).
      if (abandoned()) return;
      if (this.childGeneration === generation) throw error;
      const reason = isRmxError(error) ? error.message : `start failed: ${(error as Error).message}`;
      this.failed = {
        generation,
        error: isRmxError(error) ? error : new RmxError("START_FAILED", reason, { runtime: host.id }),
      };
      this.log.write(`--- rmxd: ${reason}\n`);
      // A stop that arrived meanwhile wins over the failure: the user asked for "stopped".
      if (host.killRequested()) exitWithoutProcess();
      else host.dispatch({ type: "spawn_failed", reason });
    }
  }

  /**
   * Starts preparing the launch a restart will want (unless one for this spec is fresh); a failure here is
   * only reported by that launch.
   */
  private prepareAhead(spec: RuntimeSpec): void {
    if (!this.deps.adapter.spawns || spec !== this.host.spec() || this.freshAhead(spec)) return;
    const prepared = prepareLaunch(spec, this.deps);
    const ahead: NonNullable<ProcessRun["ahead"]> = { spec, at: monotonicMs(), prepared };
    prepared.then(
      (launch) => {
        ahead.ready = launch;
      },
      () => undefined,
    );
    this.ahead = ahead;
  }

  private freshAhead(spec: RuntimeSpec): boolean {
    const ahead = this.ahead;
    return ahead !== undefined && ahead.spec === spec && monotonicMs() - ahead.at <= PREPARED_FRESH_MS;
  }

  /**
   * The launch prepared ahead when it is for this spec and fresh (and succeeded), else prepared now — after
   * the last unit's remnants are gone, so a port check that fails because an escapee of the old unit still
   * holds the port is made again once the sweep has killed it, instead of failing the restart.
   */
  private async prepare(spec: RuntimeSpec): Promise<PreparedLaunch> {
    const ahead = this.freshAhead(spec) ? this.ahead : undefined;
    this.ahead = undefined;
    if (ahead !== undefined) {
      try {
        return await ahead.prepared;
      } catch {
        // Prepared again below: that attempt's error is the one the launch reports.
      }
    }
    this.respawned();
    await this.remnants;
    return prepareLaunch(spec, this.deps);
  }

  /**
   * A leader that exits on its own leaves its group, escapees and orphans: the group is SIGKILLed at once
   * (synchronously, in endRemnants' first step), the cgroup and the /proc sweep take milliseconds. When the
   * machine restarts at once they run beside the respawn: the new unit has its own tag and cgroup leaf, so
   * neither can reach it, and the old unit's escapees still die, a few ms later. A port one of them holds:
   * an allocated port is a new one; a fixed port's check failing is made again after the sweep (`prepare`);
   * one that passed was free then, and a backend binds long after the sweep ends (the model loads first).
   * Otherwise (a backoff, exhausted, failed, stopped) the unit is gone before the state says so, as before.
   */
  private async endThenReport(child: ChildHandle, generation: number, exit: ExitInfo): Promise<void> {
    const input = this.exitInput(generation, exit);
    if (input === undefined || !this.host.respawnsAtOnce(input)) {
      const remnants = endRemnants(child);
      this.remnants = remnants.catch(() => undefined);
      await remnants;
      this.onExit(child, generation, exit);
      return;
    }
    // The group at once, before the fork: were it empty, the old pgid could otherwise be the new leader's pid.
    killGroup(child);
    const remnants = this.afterRespawn().then(() => endRemnants(child));
    this.remnants = remnants.catch(() => undefined);
    // The exit and the restart due at once in one go, reported after them: with the launch prepared, the
    // fork happens inside (forkPrepared), with no persist, event, timer or microtask before it; and when it
    // did, the reports wait for the new process's start (EXEC_QUIET_MS).
    const forks = this.forks;
    const released = this.host.holdReports(
      () => {
        this.onExit(child, generation, exit, input);
        this.host.retryDueNow();
      },
      () => (this.forks === forks ? undefined : execQuiet()),
    );
    await Promise.all([remnants, released]);
  }

  /**
   * Resolves once the respawn that follows has spawned (its process running, its record saved) or failed,
   * or, should none come, after RESPAWN_WAIT_MS: the sweep's hundreds of /proc reads then do not compete
   * with the new process's start for the CPU. What waits on it must not wait on that respawn's own
   * preparation (see `prepare`, which opens it first).
   */
  private afterRespawn(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(open, RESPAWN_WAIT_MS);
      function open(): void {
        clearTimeout(timer);
        resolve();
      }
      this.respawned = () => {
        this.respawned = () => undefined;
        open();
      };
    });
  }

  /** The exit as the machine will get it, when it is the current run's (else undefined: stale, or shutdown). */
  private exitInput(generation: number, exit: ExitInfo): Input | undefined {
    const { host } = this;
    if (host.disposed() || generation !== host.generation()) return undefined;
    const errors = host.killRequested() ? undefined : exitErrors(this.log);
    return { type: "exited", code: exit.code, signal: exit.signal, ...(errors ? { errors } : {}) };
  }

  /** `input`: the exit as the machine gets it, read before our own line is written (see exitInput). */
  private onExit(
    child: ChildHandle,
    generation: number,
    exit: ExitInfo,
    input = this.exitInput(generation, exit),
  ): void {
    const { host } = this;
    if (host.disposed()) return; // daemon shutdown: not a crash, and the desired state stays as it was
    if (this.child === child) host.persist();
    if (input === undefined) return; // a stale generation's exit
    host.stopProbes();
    const expected = host.killRequested();
    const end = describeEnd(exit, expected ? host.spec().stop.signal : undefined);
    this.log.write(`--- rmxd: process ${child.pid} ${end}\n`);
    const exited = {
      id: host.id,
      pid: child.pid,
      code: exit.code,
      signal: exit.signal,
      at: rfc3339(exit.at),
      expected,
    };
    host.report(() => this.deps.bus.publish("runtime.exited", exited));
    host.dispatch(input);
  }

  async kill(): Promise<void> {
    const child = this.child;
    const generation = this.host.generation();
    if (child === undefined || this.childGeneration !== generation) {
      // No process of this generation yet: a launch in flight finishes the kill itself; otherwise (remote
      // runtimes) the "exit" is immediate, dispatched after the dispatch that asked for the kill.
      if (this.launching?.generation === generation) return;
      queueMicrotask(() => {
        if (this.host.awaitsExit(generation)) this.host.dispatch({ type: "exited", code: 0, signal: null });
      });
      return;
    }
    await killChild(child, this.host.spec(), this.deps.logger);
  }
}
