/**
 * The processes the smoke starts (rmxd, each `rmx` run) and the backends it learns about, so that every
 * one of them is gone when it ends: after success, after a failure, and after Ctrl-C.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { RmxClient } from "../../ipc/client.js";
import type { HelloResult } from "../../ipc/protocol/runtime.js";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** True while `pid` exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true; // no /proc (macOS): kill(0) succeeding is all we know
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until every pid is gone or the deadline passes (a process has no exit event we could wait on unless it is our child). Returns the survivors. */
export async function waitUntilGone(pids: Iterable<number>, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = [...pids].filter(pidAlive);
  for (let step = 5; alive.length > 0 && Date.now() < deadline; step = Math.min(step * 2, 100)) {
    await delay(step);
    alive = alive.filter(pidAlive);
  }
  return alive;
}

function killQuietly(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // already gone
  }
}

export class DaemonProcess {
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  constructor(
    readonly proc: ChildProcess,
    readonly logPath: string,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get exitedWith(): Exit | undefined {
    return this.exit;
  }

  /** SIGTERM (rmxd stops its backends, each with its grace), then SIGKILL if it has not exited in `graceMs`. */
  async stop(graceMs: number): Promise<Exit & { killed: boolean }> {
    if (this.exit !== undefined) return { ...this.exit, killed: false };
    this.proc.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (killed) this.proc.kill("SIGKILL");
    return { ...(await this.exited), killed };
  }
}

export class ProcessTracker {
  private daemon: DaemonProcess | undefined;
  private readonly cliRuns = new Set<ChildProcess>();
  /** Every backend pid seen (status and events); checked at the end. */
  readonly backendPids = new Set<number>();

  constructor(
    private readonly rmxd: string,
    private readonly rmx: string,
  ) {}

  startDaemon(opts: { configPath: string; env: NodeJS.ProcessEnv; logPath: string }): DaemonProcess {
    // The daemon's log goes straight to a file: no pipe to drain, and it is there to read after a failure.
    const fd = openSync(opts.logPath, "a");
    try {
      const proc = spawn(process.execPath, [this.rmxd, "--config", opts.configPath], {
        env: opts.env,
        stdio: ["ignore", fd, fd],
      });
      this.daemon = new DaemonProcess(proc, opts.logPath);
      return this.daemon;
    } finally {
      closeSync(fd);
    }
  }

  /** Resolves with `daemon.hello` once rmxd answers on `socket`; rejects if it exits first or the deadline passes. */
  async waitForSocket(daemon: DaemonProcess, socket: string, timeoutMs: number): Promise<HelloResult> {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer yet";
    for (let step = 10; ; step = Math.min(step * 2, 200)) {
      const exit = daemon.exitedWith;
      if (exit !== undefined) {
        throw new Error(`rmxd exited during start-up (${exit.signal ?? `exit code ${exit.code}`})`);
      }
      try {
        const client = await RmxClient.connect({ socketPath: socket, timeoutMs: 1000 });
        try {
          return await client.call("daemon.hello", undefined, { timeoutMs: 5000 });
        } finally {
          await client.close();
        }
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > deadline)
        throw new Error(`rmxd did not answer on ${socket} within ${timeoutMs} ms (${last})`);
      // Polling is the only way here: the socket has no event to wait on before it exists.
      await delay(step);
    }
  }

  /** Runs the real CLI (`node dist/bin/rmx.cjs …`). */
  cli(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CliRun> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        [this.rmx, ...args],
        { env: { ...env, NO_COLOR: "1" }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          this.cliRuns.delete(child);
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
          resolve({ code, stdout, stderr });
        },
      );
      this.cliRuns.add(child);
    });
  }

  /** No grace: SIGKILL to the CLI runs, rmxd and every backend's process group. */
  killNow(): void {
    for (const child of this.cliRuns) child.kill("SIGKILL");
    this.daemon?.proc.kill("SIGKILL");
    for (const pid of this.backendPids) {
      killQuietly(-pid, "SIGKILL");
      killQuietly(pid, "SIGKILL");
    }
  }

  /**
   * Stops everything: the CLI runs, then rmxd (SIGTERM, SIGKILL after `graceMs`), then any backend still
   * alive (its process group, SIGKILL: with rmxd gone nobody else will). Returns what it had to do by force.
   */
  async stopAll(graceMs: number): Promise<{ daemon?: Exit & { killed: boolean }; leftovers: number[] }> {
    for (const child of this.cliRuns) child.kill("SIGKILL");
    const daemon = this.daemon === undefined ? undefined : await this.daemon.stop(graceMs);
    const leftovers = await waitUntilGone(this.backendPids, 2000);
    for (const pid of leftovers) {
      killQuietly(-pid, "SIGKILL");
      killQuietly(pid, "SIGKILL");
    }
    return daemon === undefined ? { leftovers } : { daemon, leftovers };
  }
}
