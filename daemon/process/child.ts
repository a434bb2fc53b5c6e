import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import type { Clock } from "../../base/clock.js";
import { systemClock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import { rmdir } from "../../base/fs-async.js";
import { monotonicMs } from "../../base/monotonic.js";
import { containment, killCgroup, placeInCgroup, runtimeCgroup } from "./cgroup.js";
import { LineFramer } from "./line-framer.js";
import type { RotatingLog } from "./logs.js";
import { groupMembers, isProcessAlive, processExe, processStartTime, signalReaches } from "./proc-stat.js";
import { sweepTagged } from "./sweep.js";
import { instanceKey, spawnTag, TAG_ENV, type UnitName } from "./tag.js";

export interface SpawnOptions {
  command: string;
  args: string[];
  /** Merged onto `process.env`. */
  env: Record<string, string>;
  cwd?: string;
  log: RotatingLog;
  /** Stamps `ExitInfo.at`; the system clock by default. */
  clock?: Clock;
  /**
   * Makes the child a unit with its descendants: an `RMX_TAG` in the environment (for the /proc sweep)
   * and, where rmxd has a delegated cgroup, a cgroup of its own. Without it the child is a process group.
   */
  unit?: UnitName;
  /**
   * Makes the spawn durable (the child record written and fsynced) before it counts as done:
   * spawnChild resolves only after this does. If it rejects, the child is killed and spawnChild rejects.
   */
  recordSpawn?: (identity: ProcessIdentity) => Promise<void>;
  /**
   * What `env` is merged onto: `process.env` by default; a launch prepared ahead passes the copy it took
   * then (reading `process.env` whole costs more than the rest of the spawn's set-up).
   */
  baseEnv?: Readonly<NodeJS.ProcessEnv>;
}

/** What proves a live process is the one we spawned (see identity.ts), as persisted in the child record. */
export interface ProcessIdentity {
  pid: number;
  pgid: number;
  /** From `processStartTime(pid)`; "" where the platform cannot tell. */
  start_time: string;
  /** From `processExe(pid)` right after the exec; "" where the platform cannot tell. */
  exe: string;
  /** The `RMX_TAG` value the child (and what it starts) carries, when spawned as a unit. */
  tag?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Epoch milliseconds. */
  at: number;
}

export interface ChildHandle {
  readonly pid: number;
  /** Equal to `pid`: every child leads its own process group. */
  readonly pgid: number;
  /** From `processStartTime(pid)`; "" where the platform cannot tell. Identity for orphan reaping. */
  readonly startTime: string;
  /** Never rejects. */
  readonly exited: Promise<ExitInfo>;
  readonly running: boolean;
  readonly identity: ProcessIdentity;
  /** The spawn's cgroup, when rmxd has a delegated one. */
  readonly cgroup?: string;
}

/**
 * After the leader exits with output still on its way (the pipes paused: see outputDelivered), wait this
 * long at most for it to drain into the log so the last lines are there when `exited` resolves; a
 * grandchild holding the pipes open must not delay it longer.
 */
const OUTPUT_DRAIN_MS = 250;
/**
 * While the log is still writing what was already read (the pipes paused), the wait above does not run
 * out, up to this long in all: a slow disk is not a grandchild holding the pipes.
 */
const OUTPUT_DRAIN_MAX_MS = 5000;
/**
 * After a fork, what rmxd still has to do for the spawn (the identity's /proc reads, the record, the
 * state write, the reports and the last unit's sweep) waits this long, so the new process starts with
 * the core to itself. Measured on a 2-core machine with a bare spawn loop (Node 20): 1 ms of the parent's
 * own work right after spawn() put 1.0 ms more between the spawn and the child's start (its time
 * origin), 3 ms of it 1.6 ms more, the same 3 ms begun 3 ms later nothing; a busy process beside it,
 * 0.04 ms. The new process shares the core of the parent, which the exec wakes and which would run
 * first. The cgroup placement does not wait (what the leader forks before it stays outside), nor does
 * the write-ahead record, made before the fork; a machine crash meanwhile ends the child with the state
 * write.
 */
export const EXEC_QUIET_MS = 5;

/** Resolves EXEC_QUIET_MS from now: the rest of a spawn's work waits on it (see EXEC_QUIET_MS). */
export function execQuiet(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, EXEC_QUIET_MS));
}

/** After SIGKILL, how long to wait for the leader before giving up on it (uninterruptible sleep). */
const KILL_WAIT_MS = 5000;
/** Liveness polling for a bare pid that is not our child. */
const POLL_MS = 20;
/** When each spawned leader was forked (monotonicMs()): narrows its tag sweep (see ForkedAfter). */
const forkTimes = new WeakMap<ChildHandle, number>();

/**
 * Starts a child in its own process group (so the whole tree can be signalled) with stdout and stderr
 * going to its log. Rejects with BINARY_NOT_FOUND / BINARY_NOT_EXECUTABLE when the binary cannot be run.
 */
export async function spawnChild(opts: SpawnOptions): Promise<ChildHandle> {
  const cgroupBase = opts.unit === undefined ? undefined : (await containment()).dir;
  return forkChild(opts, cgroupBase);
}

/**
 * spawnChild once the containment is known (`containmentKnown()`): the fork happens in this call,
 * synchronously — a respawn without delay then has nothing between its decision and the new process —
 * and the promise is the rest (the exec's outcome, cgroup placement, identity, the durable record). A
 * spawn() that throws (bad arguments) throws here.
 */
export function forkChild(opts: SpawnOptions, cgroupBase: string | undefined): Promise<ChildHandle> {
  const clock = opts.clock ?? systemClock;
  const tag = opts.unit === undefined ? undefined : spawnTag(opts.unit);
  const env: NodeJS.ProcessEnv = { ...(opts.baseEnv ?? process.env), ...opts.env };
  if (tag !== undefined) env[TAG_ENV] = tag;
  // node:child_process directly: execa's wrapping (result promise, stream plumbing) is start-up and
  // respawn cost this path does not use. No shell; PATH lookup as execvp does.
  const subprocess = spawn(opts.command, opts.args, {
    env,
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    windowsHide: true,
  });
  const forkedAt = monotonicMs();

  let running = true;
  let resolveExit!: (info: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((resolve) => {
    resolveExit = resolve;
  });
  // When the disk falls behind, pause both pipes until the log has caught up: the child then blocks
  // on a full pipe instead of the daemon buffering without bound or dropping output.
  const streams = [subprocess.stdout, subprocess.stderr].filter((s) => s !== null);
  let paused = false;
  const toLog = (chunk: Buffer) => {
    if (opts.log.write(chunk) || paused) return;
    paused = true;
    for (const stream of streams) stream.pause();
    void opts.log.flush().then(() => {
      paused = false;
      for (const stream of streams) stream.resume();
    });
  };
  // Each stream's lines whole: stdout and stderr share the log. While paused, or with bytes buffered,
  // the rest of a held line is on its way.
  const framers = streams.map((stream) => {
    const framer = new LineFramer(toLog, { pending: () => paused || stream.readableLength > 0 });
    stream.on("data", (chunk: Buffer) => framer.push(chunk));
    stream.once("end", () => framer.flush());
    return framer;
  });
  // What the leader wrote last is in the log when `exited` resolves, a line without its newline too.
  const reportExit = (info: ExitInfo) => {
    for (const framer of framers) framer.flush();
    resolveExit(info);
  };
  subprocess.once("exit", (code, signal) => {
    running = false;
    const info: ExitInfo = { code, signal, at: clock.now() };
    if (outputDelivered(streams, paused)) {
      reportExit(info);
      return;
    }
    const giveUpAt = monotonicMs() + OUTPUT_DRAIN_MAX_MS;
    const drained = () => {
      if (paused && monotonicMs() < giveUpAt) timer.refresh();
      else reportExit(info);
    };
    const timer = setTimeout(drained, OUTPUT_DRAIN_MS);
    timer.unref();
    subprocess.once("close", () => {
      clearTimeout(timer);
      reportExit(info);
    });
  });
  // Errors after spawn (e.g. a failed kill) carry nothing the exit event does not; keep them unhandled-free.
  subprocess.on("error", () => undefined);

  const execed = new Promise<void>((resolve, reject) => {
    const onSpawn = () => {
      subprocess.off("error", onError);
      resolve();
    };
    const onError = (error: NodeJS.ErrnoException) => {
      subprocess.off("spawn", onSpawn);
      running = false;
      reject(spawnError(opts.command, opts.cwd, error));
    };
    subprocess.once("spawn", onSpawn);
    subprocess.once("error", onError);
  });
  return execed.then(() =>
    adopt(opts, subprocess.pid!, { tag, cgroupBase, forkedAt, exited, running: () => running }),
  );
}

/**
 * Whether everything the exited leader wrote is in the log already, so its exit can be reported at once
 * instead of after its pipes close (which a grandchild holding them delays up to OUTPUT_DRAIN_MS). The
 * leader's output was in its pipes before it died, and libuv handles a poll's ready pipes before its
 * signals (SIGCHLD last), reading each until it is empty: so unless the pipes are paused (the log is
 * behind) or a chunk still waits in a stream's buffer, every byte has been through the log's `write`.
 */
function outputDelivered(streams: readonly NodeJS.ReadableStream[], paused: boolean): boolean {
  // Windows reports an exit from a wait thread, in no order with the pipes' reads: there, wait for them.
  if (process.platform === "win32" || paused) return false;
  return streams.every((s) => (s as { readableLength?: number }).readableLength === 0);
}

/** After the exec: the cgroup placement, the identity and the durable record; see spawnChild. */
async function adopt(
  opts: SpawnOptions,
  pid: number,
  forked: {
    tag: string | undefined;
    cgroupBase: string | undefined;
    forkedAt: number;
    exited: Promise<ExitInfo>;
    running: () => boolean;
  },
): Promise<ChildHandle> {
  const { tag, cgroupBase, forkedAt, exited, running } = forked;
  // As early as possible: what the leader forks before this stays in rmxd's cgroup (the tag sweep's job).
  const cgroup =
    cgroupBase !== undefined && opts.unit !== undefined && tag !== undefined
      ? await placeInCgroup(
          path.join(
            runtimeCgroup(cgroupBase, instanceKey(opts.unit.stateDir), opts.unit.runtime),
            tag.split("/").at(-1)!,
          ),
          pid,
        )
      : undefined;
  await execQuiet();
  const [startTime, exe] = await Promise.all([processStartTime(pid), processExe(pid)]);
  const identity: ProcessIdentity = {
    pid,
    pgid: pid,
    start_time: startTime ?? "",
    exe: exe ?? "",
    ...(tag === undefined ? {} : { tag }),
  };
  const handle: ChildHandle = {
    pid,
    pgid: pid,
    startTime: identity.start_time,
    exited,
    get running() {
      return running();
    },
    identity,
    ...(cgroup === undefined ? {} : { cgroup }),
  };
  forkTimes.set(handle, forkedAt);
  if (opts.recordSpawn !== undefined) {
    try {
      await opts.recordSpawn(identity);
    } catch (error) {
      await stopProcessGroup(handle, { signal: "SIGKILL", grace_ms: 0 });
      throw new RmxError(
        "START_FAILED",
        `cannot start ${opts.command}: the child record (pid ${pid}) could not be saved, so the process was stopped: ${(error as Error).message}`,
        { command: opts.command, pid },
        { cause: error },
      );
    }
  }
  return handle;
}

function spawnError(command: string, cwd: string | undefined, error: NodeJS.ErrnoException): RmxError {
  const where = cwd === undefined ? "" : ` (cwd ${cwd})`;
  const data = { command, errno: error.code };
  // spawn() reports a missing working directory as ENOENT too; only this slow path looks at the disk.
  if (error.code === "ENOENT" && cwd !== undefined && !existsSync(cwd)) {
    return new RmxError(
      "START_FAILED",
      `cannot start ${command}: working directory not found: ${cwd}`,
      data,
      {
        cause: error,
      },
    );
  }
  switch (error.code) {
    case "ENOENT":
      return new RmxError("BINARY_NOT_FOUND", `binary not found: ${command}${where}`, data, { cause: error });
    case "EACCES":
    case "EPERM":
    case "ENOEXEC":
    case "EISDIR":
      return new RmxError(
        "BINARY_NOT_EXECUTABLE",
        `not executable: ${command}${where} (${error.code})`,
        data,
        {
          cause: error,
        },
      );
    default:
      return new RmxError("START_FAILED", `cannot start ${command}${where}: ${error.message}`, data, {
        cause: error,
      });
  }
}

export interface StopResult {
  /** True when the leader outlived the grace period and the group was SIGKILLed. */
  escalated: boolean;
  /** Pids outside the group that the unit's cgroup or tag sweep had to kill (escapees, orphans); absent when none. */
  remnants?: number[];
  /** The leader's exit, when stopping a ChildHandle that exited. */
  exit?: ExitInfo;
}

/**
 * Signals the whole process group, waits up to `grace_ms` for the leader to exit, then SIGKILLs the
 * group. Once the leader is gone, any member still in the group (a grandchild that ignored the signal)
 * is SIGKILLed too, so nothing survives. A group that is already gone is not an error.
 */
export async function stopProcessGroup(
  child: ChildHandle | UnitTarget,
  opts: { signal: NodeJS.Signals; grace_ms: number; spare?: readonly string[] },
): Promise<StopResult> {
  const pgid = child.pgid ?? child.pid;
  const handle = "exited" in child ? child : undefined;
  const leaderGone = (ms: number): Promise<boolean> =>
    handle !== undefined ? raceTimeout(handle.exited, ms) : pollUntilGone(child.pid, ms);

  await signalMembers(pgid, opts.signal, opts.spare);
  let escalated = false;
  if (!(await leaderGone(opts.grace_ms))) {
    escalated = true;
    signalGroup(pgid, "SIGKILL");
    await leaderGone(KILL_WAIT_MS);
  }
  // Grandchildren that ignored the signal, or that the leader left behind, wherever they went.
  const remnants = await endRemnants(child);
  const exit = handle !== undefined && !handle.running ? await handle.exited : undefined;
  return {
    escalated,
    ...(remnants.length > 0 ? { remnants } : {}),
    ...(exit === undefined ? {} : { exit }),
  };
}

/** A process group to stop, and what else belongs to its unit (see `SpawnOptions.unit`). */
export interface UnitTarget {
  pid: number;
  pgid?: number;
  /** Everything carrying exactly this `RMX_TAG` is part of the unit. */
  tag?: string;
  cgroup?: string;
}

/**
 * Ends what is left of a unit whose leader is gone (or going): SIGKILL to its process group, then its
 * cgroup (`cgroup.kill`), then the /proc sweep for its tag (setsid escapees, orphans of the leader).
 * The supervisor calls this when a leader exits on its own, before any restart. Resolves with the pids
 * the cgroup and the sweep killed.
 */
export async function endRemnants(
  child: ChildHandle | UnitTarget | { pid: number; pgid?: number; identity?: ProcessIdentity },
): Promise<number[]> {
  signalGroup(child.pgid ?? child.pid, "SIGKILL");
  const killed = new Set<number>();
  const cgroup = "cgroup" in child ? child.cgroup : undefined;
  if (cgroup !== undefined) {
    for (const pid of await killCgroup(cgroup)) killed.add(pid);
    await rmdir(path.dirname(cgroup)).catch(() => undefined); // the runtime's cgroup, once its last spawn is gone
  }
  const tag = "identity" in child ? child.identity?.tag : "tag" in child ? child.tag : undefined;
  if (tag !== undefined) {
    const forkedAt = forkTimes.get(child as ChildHandle);
    const after = forkedAt === undefined ? undefined : { pid: child.pid, agoMs: monotonicMs() - forkedAt };
    for (const pid of await sweepTagged({ exact: tag }, after)) killed.add(pid);
  }
  killed.delete(child.pid);
  return [...killed].sort((a, b) => a - b);
}

/** SIGKILL to a unit's process group: endRemnants' first step, on its own for a caller that defers the rest. */
export function killGroup(child: { pid: number; pgid?: number }): void {
  signalGroup(child.pgid ?? child.pid, "SIGKILL");
}

/**
 * The stop signal, to the whole group unless some members are wrappers to spare (`spare`, by command
 * name): bwrap ends its sandbox at once on SIGTERM instead of passing it on, so the backend inside would
 * never get its grace. Then the signal goes to every other member and the wrappers exit when it does.
 */
async function signalMembers(pgid: number, signal: NodeJS.Signals, spare: readonly string[] | undefined) {
  if (spare === undefined || spare.length === 0 || signal === "SIGKILL") {
    signalGroup(pgid, signal);
    return;
  }
  const targets = (await groupMembers(pgid)).filter((m) => !spare.includes(m.comm));
  if (targets.length === 0) {
    signalGroup(pgid, signal);
    return;
  }
  for (const { pid } of targets) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
}

/** Whole group on POSIX; Windows has no process groups for signals, so only the leader. ESRCH = gone. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(process.platform === "win32" ? pgid : -pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** Resolves true if `promise` settles within `ms`. */
function raceTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, ms));
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

async function pollUntilGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + Math.max(0, ms);
  for (;;) {
    if (!signalReaches(pid) || !(await isProcessAlive(pid))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))),
    );
  }
}
