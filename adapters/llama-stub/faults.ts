import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import { constants as osConstants } from "node:os";
import type { StubOptions } from "./options.js";
import type { StubState } from "./state.js";

type Log = (line: string) => void;

/** Exit on our own after `crashAfterMs`: with an exit code, or by raising a signal against ourselves. */
export function scheduleCrash(options: StubOptions, log: Log): void {
  if (options.crashAfterMs === undefined) return;
  setTimeout(() => {
    const signal = options.exitSignal;
    if (signal === undefined) {
      log(`llama-stub: crashing with exit code ${options.exitCode} (--stub-crash-after-ms)`);
      process.exit(options.exitCode);
    }
    log(`llama-stub: crashing with ${signal} (--stub-crash-after-ms)`);
    // Our own SIGTERM/SIGINT handlers would turn the signal into a clean exit.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    // Node ignores a few signals (SIGPIPE); still die, with the shell's code for "killed by signal".
    setTimeout(() => process.exit(128 + (osConstants.signals[signal] ?? 0)), 200).unref();
  }, options.crashAfterMs);
}

export function scheduleHang(options: StubOptions, state: StubState, log: Log): void {
  if (options.hangAfterMs === undefined) return;
  const hang = () => {
    state.hung = true;
    log("llama-stub: hanging: connections are accepted and never answered (--stub-hang-after-ms)");
  };
  if (options.hangAfterMs === 0) hang();
  else setTimeout(hang, options.hangAfterMs);
}

/** Whether the soft core-size limit is 0 (from /proc/self/limits; unknown counts as "no"). */
function coreDumpsOff(): boolean {
  try {
    const line = fs
      .readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max core file size"));
    return line?.split(/\s{2,}/)[1] === "0";
  } catch {
    return false;
  }
}

/**
 * Die of SIGABRT the way b4748 does after `main` returns with its HTTP thread still joinable
 * (`std::terminate`). A core dump would land in the cwd with the default `core_pattern`, so the soft
 * core limit is lowered to 0 first (Node has no setrlimit: util-linux `prlimit` on our own pid).
 */
export function abortLikeLlamaServer(): void {
  process.stderr.write("terminate called without an active exception\n");
  if (!coreDumpsOff()) {
    try {
      execFileSync("prlimit", ["--pid", String(process.pid), "--core=0:"], { stdio: "ignore" });
    } catch {
      // No prlimit: the kernel's core_pattern and the inherited limit decide.
    }
  }
  process.removeAllListeners("SIGABRT");
  process.kill(process.pid, "SIGABRT");
  // Should the signal be blocked, still end with the shell's code for it.
  setTimeout(() => process.exit(128 + osConstants.signals.SIGABRT), 500).unref();
}

/**
 * SIGTERM/SIGINT: b4748 logs its cleanup line and dies of SIGABRT; `--exit-clean-on-term` (stub only)
 * exits 0 instead, and `--stub-ignore-sigterm` ignores SIGTERM.
 */
export function installSignalHandlers(options: StubOptions, log: Log): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (signal === "SIGTERM" && options.ignoreSigterm) {
      log("llama-stub: ignoring SIGTERM (--stub-ignore-sigterm)");
      return;
    }
    if (stopping) return;
    stopping = true;
    log("srv    operator(): operator(): cleaning up before exit...");
    if (options.exitCleanOnTerm) process.exit(0);
    abortLikeLlamaServer();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/**
 * A long-lived child in our process group, left running when we exit: only a supervisor that kills
 * the whole group cleans it up. Its stdio is detached so it does not hold the supervisor's pipes open.
 */
export function spawnGrandchild(): void {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
  child.unref();
  process.stdout.write(`grandchild pid ${child.pid}\n`);
}

const CHATTY_TICK_MS = 20;
const MAX_CHUNK = 64 * 1024;

function chattyLines(bytes: number, counter: { n: number }): string {
  let text = "";
  while (text.length < bytes) {
    const n = counter.n++;
    text += `slot update_slots: id  0 | task ${n} | kv cache rm [${n % 4096}, end) | chatty log line ${n}\n`;
  }
  return text;
}

/**
 * Log lines on stdout at a given byte rate, or as fast as the reader takes them ("max"). Writes to a
 * pipe are synchronous on Linux, so the loop yields between chunks to keep the HTTP server answering;
 * where they are not, it waits for `drain` instead of buffering without bound.
 */
export function startChatter(rate: number | "max"): void {
  if (rate === 0) return;
  const counter = { n: 0 };
  if (rate === "max") {
    const pump = () => {
      if (process.stdout.write(chattyLines(MAX_CHUNK, counter))) setImmediate(pump);
      else process.stdout.once("drain", pump);
    };
    setImmediate(pump);
    return;
  }
  const started = Date.now();
  let written = 0;
  setInterval(() => {
    const due = Math.floor((rate * (Date.now() - started)) / 1e3) - written;
    if (due <= 0 || process.stdout.writableNeedDrain) return;
    const text = chattyLines(Math.min(due, MAX_CHUNK * 16), counter);
    written += text.length;
    process.stdout.write(text);
  }, CHATTY_TICK_MS);
}
