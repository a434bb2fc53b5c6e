/**
 * Every process a bench starts carries RMX_BENCH_TAG in its environment (daemons pass it on to their
 * children), so cleanup can find and kill anything left behind even when a peer's own shutdown failed,
 * on normal exit, on an error and on Ctrl-C.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { performance } from "node:perf_hooks";

export const TAG_VAR = "RMX_BENCH_TAG";
export const RUN_TAG = `${process.pid}-${randomBytes(4).toString("hex")}`;

/** The environment every bench process gets: the bench's own (same for every peer) plus the tag. */
export function benchEnv(extra = {}) {
  return { ...process.env, [TAG_VAR]: RUN_TAG, ...extra };
}

const cleanups = [];

/** Registers a teardown step; returns a function that runs it once and unregisters it. */
export function onCleanup(what, fn) {
  let done = false;
  const entry = {
    what,
    run: () => {
      if (done) return Promise.resolve();
      done = true;
      return fn();
    },
  };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
    await entry.run();
  };
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs every registered teardown (newest first), then kills whatever still carries this run's tag. */
export async function cleanupAll() {
  while (cleanups.length > 0) {
    const entry = cleanups.pop();
    try {
      await withTimeout(entry.run(), 15_000);
    } catch (error) {
      process.stderr.write(`bench: cleanup of ${entry.what} failed: ${error.message}\n`);
    }
  }
  const left = reapTagged();
  if (left.length > 0) {
    process.stderr.write(`bench: killed ${left.length} leftover process(es): ${left.join(", ")}\n`);
  }
}

/** Pids of live processes carrying this run's tag (Linux: /proc; elsewhere none can be found). */
export function taggedPids() {
  const needle = `${TAG_VAR}=${RUN_TAG}`;
  let entries;
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return [];
  }
  const pids = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "latin1");
      if (!environ.split("\0").includes(needle)) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") continue;
      pids.push(pid);
    } catch {}
  }
  return pids;
}

function reapTagged() {
  const pids = taggedPids();
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  return pids;
}

let installed = false;
let stopping = false;

const finalHooks = [];

/** Runs after the last cleanup when the bench is interrupted or fails (e.g. removing the run's directory). */
export function atInterrupt(fn) {
  finalHooks.push(fn);
}

export function runInterruptHooks() {
  for (const hook of finalHooks.splice(0)) {
    try {
      hook();
    } catch (error) {
      process.stderr.write(`bench: ${error.message}\n`);
    }
  }
}

/** True once Ctrl-C (or SIGTERM, or a crash) started the final cleanup: start nothing new. */
export function interrupted() {
  return stopping;
}

/** Ctrl-C, SIGTERM and crashes of the bench itself still clean up before exiting. */
export function installExitHandlers() {
  if (installed) return;
  installed = true;
  const bail = (code, why) => {
    if (stopping) process.exit(code);
    stopping = true;
    process.stderr.write(`\nbench: ${why}; cleaning up…\n`);
    void cleanupAll()
      .then(runInterruptHooks)
      .finally(() => process.exit(code));
  };
  process.on("SIGINT", () => bail(130, "interrupted"));
  process.on("SIGTERM", () => bail(143, "terminated"));
  process.on("SIGHUP", () => bail(129, "hung up"));
  process.on("uncaughtException", (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    bail(1, "uncaught exception");
  });
  process.on("unhandledRejection", (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    bail(1, "unhandled rejection");
  });
}

/**
 * Spawns with the bench environment; the returned handle's `exited` never rejects. Output goes to
 * `logFile` when given (a file, not a pipe, so a chatty daemon never waits on the bench).
 */
export function spawnTracked(command, args, { env, logFile, cwd, detached = false } = {}) {
  const fd = logFile ? fs.openSync(logFile, "a") : "ignore";
  const child = spawn(command, args, {
    env: env ?? benchEnv(),
    stdio: ["ignore", fd, fd],
    detached,
    ...(cwd ? { cwd } : {}),
  });
  if (typeof fd === "number") fs.closeSync(fd);
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
  });
  return { child, pid: child.pid, exited, alive: () => child.exitCode === null && child.signalCode === null };
}

/** Runs a command to completion, timing from spawn to its output closed (what a shell pipe sees). */
export function timedRun(command, args, { env, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { env: env ?? benchEnv(), stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, code: null, stdout: "", stderr: String(error) });
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        ms: performance.now() - started,
        code: code ?? (signal ? 128 : null),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}

/** Runs a command and fails with its output when it does not exit 0. */
export async function mustRun(command, args, opts) {
  const r = await timedRun(command, args, opts);
  if (r.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${r.code}\n${r.stdout}${r.stderr}`);
  }
  return r;
}

/** Polls `check` until it returns a truthy value; throws naming `what` after `timeoutMs`. */
export async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${last.message})` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Resolves when the process is gone, or false after `timeoutMs`. */
export async function pidGone(pid, timeoutMs) {
  try {
    await waitFor(() => !pidAlive(pid), timeoutMs, `pid ${pid} to exit`);
    return true;
  } catch {
    return false;
  }
}

export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}
