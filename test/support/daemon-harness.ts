/**
 * Starts a real `rmxd` (from dist/) in a temp dir with its own config, state dir and socket, and
 * gives tests a client, the CLI, and event waits. Every daemon started here is stopped by `stopAll()`.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { RmxClient } from "../../ipc/client.js";
import type { EventNotificationParams } from "../../ipc/protocol/jsonrpc.js";
import type { RuntimeState, RuntimeStatusResult } from "../../ipc/protocol/runtime.js";

export const REPO = path.resolve(import.meta.dirname, "../..");
export const RMXD = path.join(REPO, "dist/daemon/main.js");
export const RMX = path.join(REPO, "dist/ipc/cli/main.js");
export const STUB = path.join(REPO, "dist/adapters/llama-stub/main.js");

export interface StartOptions {
  /** YAML text; omitted → the embedded default. */
  config?: string;
  env?: Record<string, string>;
  /** Reuse a directory (a restarted daemon keeps its state). */
  dir?: string;
  /** Wait until these runtimes are ready. */
  ready?: string[];
  timeoutMs?: number;
  args?: string[];
  /** The daemon's entry script (default: dist/daemon/main.js; the bundle is dist/bin/rmxd.js). */
  entry?: string;
}

export interface DaemonHandle {
  dir: string;
  socket: string;
  stateDir: string;
  configPath: string | undefined;
  proc: ChildProcess;
  pid: number;
  stderr(): string;
  client(): Promise<RmxClient>;
  status(): Promise<RuntimeStatusResult>;
  /** Runs the real CLI against this daemon. */
  cli(args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
  /** Resolves with the first matching event published after this call. */
  nextEvent(
    topic: string,
    // biome-ignore lint/suspicious/noExplicitAny: payloads differ by topic; callers check their fields
    predicate?: (payload: any) => boolean,
    timeoutMs?: number,
  ): Promise<EventNotificationParams>;
  waitForState(
    id: string,
    states: RuntimeState[],
    timeoutMs?: number,
  ): Promise<RuntimeStatusResult["runtimes"][number]>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const live = new Set<DaemonHandle>();
const clients = new Set<RmxClient>();

export async function tempDir(prefix = "rmx-test-"): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Polls `check` until it returns a truthy value or the deadline passes (for conditions with no event). */
export async function until<T>(
  check: () => Promise<T> | T,
  timeoutMs: number,
  what: string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`,
      );
    await new Promise((r) => setTimeout(r, delay));
  }
}

export async function startDaemon(opts: StartOptions = {}): Promise<DaemonHandle> {
  const dir = opts.dir ?? (await tempDir());
  const socket = path.join(dir, "rmxd.sock");
  const stateDir = path.join(dir, "state");
  let configPath: string | undefined;
  if (opts.config !== undefined) {
    configPath = path.join(dir, "rmx.yaml");
    await fs.writeFile(configPath, opts.config);
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RMX_SOCKET: socket,
    RMX_STATE_DIR: stateDir,
    RMX_LOG_LEVEL: process.env.RMX_TEST_LOG_LEVEL ?? "info",
    XDG_CONFIG_HOME: path.join(dir, "xdg-config"),
    // The HTTP gateway is on by default on a fixed port: tests run in parallel, so it is off unless a
    // test asks for it (`--http 127.0.0.1:0` beats this).
    RMX_HTTP: "off",
    ...opts.env,
  };
  if (opts.env?.RMX_CONFIG === undefined) delete env.RMX_CONFIG; // only a test that sets it gets it
  const args = [opts.entry ?? RMXD, ...(configPath ? ["--config", configPath] : []), ...(opts.args ?? [])];
  const proc = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    if (err.length > 2_000_000) err = err.slice(-1_000_000);
  });
  proc.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let exitedEarly: { code: number | null } | undefined;
  void exited.then((e) => {
    exitedEarly = e;
  });

  const handle: DaemonHandle = {
    dir,
    socket,
    stateDir,
    configPath,
    proc,
    pid: proc.pid!,
    exited,
    stderr: () => err,
    async client() {
      const c = await RmxClient.connect({ socketPath: socket });
      clients.add(c);
      c.onClose(() => clients.delete(c));
      return c;
    },
    async status() {
      const c = await handle.client();
      try {
        return await c.call("runtime.status");
      } finally {
        await c.close();
      }
    },
    cli(cliArgs, o = {}) {
      return runCli(cliArgs, { env: { RMX_SOCKET: socket, ...o.env }, timeoutMs: o.timeoutMs ?? 30_000 });
    },
    async nextEvent(topic, predicate = () => true, timeoutMs = 20_000) {
      const c = await handle.client();
      try {
        return await new Promise<EventNotificationParams>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no ${topic} event within ${timeoutMs} ms`)),
            timeoutMs,
          );
          void c
            .subscribe([topic], (e) => {
              if (e.topic === topic && predicate(e.payload)) {
                clearTimeout(timer);
                resolve(e);
              }
            })
            .catch(reject);
        });
      } finally {
        await c.close();
      }
    },
    async waitForState(id, states, timeoutMs = 20_000) {
      const c = await handle.client();
      try {
        return await new Promise((resolve, reject) => {
          const timer = setTimeout(async () => {
            const s = await c.call("runtime.status").catch(() => undefined);
            const rt = s?.runtimes.find((r) => r.id === id);
            reject(
              new Error(
                `runtime ${id} not in ${states.join("|")} within ${timeoutMs} ms (state ${rt?.state}, reason ${rt?.reason})`,
              ),
            );
          }, timeoutMs);
          const check = async () => {
            const s = await c.call("runtime.status");
            const rt = s.runtimes.find((r) => r.id === id);
            if (rt && states.includes(rt.state)) {
              clearTimeout(timer);
              resolve(rt);
            }
          };
          void c
            .subscribe(["runtime.state.changed"], (e) => {
              const p = e.payload as { id: string; to: RuntimeState };
              if (p.id === id && states.includes(p.to)) void check().catch(reject);
            })
            .then(check)
            .catch(reject);
        });
      } finally {
        await c.close();
      }
    },
    async stop(signal = "SIGTERM") {
      live.delete(handle);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  live.add(handle);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const answered = await until(
    async () => {
      // An early exit ends the wait at once (a thrown error would only be retried until the deadline).
      if (exitedEarly) return { exitedEarly };
      const c = await RmxClient.connect({ socketPath: socket, timeoutMs: 500 });
      try {
        return await c.call("daemon.hello");
      } finally {
        await c.close();
      }
    },
    timeoutMs,
    `rmxd to answer on ${socket}`,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n--- rmxd stderr ---\n${err}`);
  });
  if ("exitedEarly" in answered) {
    live.delete(handle);
    throw new Error(`rmxd exited with code ${answered.exitedEarly.code} during start-up:\n${err}`);
  }
  for (const id of opts.ready ?? []) await handle.waitForState(id, ["ready"], timeoutMs);
  return handle;
}

export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [RMX, ...args],
      {
        env: { ...process.env, NO_COLOR: "1", ...opts.env },
        timeout: opts.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** afterEach/afterAll: stops every daemon a test started (SIGTERM, then SIGKILL after 10 s). */
export async function stopAll(): Promise<void> {
  await Promise.all([...clients].map((c) => c.close().catch(() => {})));
  await Promise.all(
    [...live].map(async (h) => {
      const timer = setTimeout(() => h.proc.kill("SIGKILL"), 10_000);
      await h.stop();
      clearTimeout(timer);
    }),
  );
}

/** True while a pid exists and is not a zombie (a zombie has died; only its parent has not reaped it). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}
