/**
 * Helpers for the fault suite: config text for stub runtimes, an event recorder subscribed before the
 * fault is injected (so nothing is missed), and the figures the tests report (RSS, bytes on disk, pids).
 */

import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import type { RuntimeState, RuntimeView } from "../../ipc/protocol/runtime.js";
import { type DaemonHandle, type StartOptions, startDaemon, tempDir } from "../support/daemon-harness.js";
import type { Recorder } from "../support/recorder.js";

/** A stub runtime block; `args` are the stub's fault flags, `extra` any other runtime keys. */
export function stubRuntime(id: string, args: string[] = [], extra: Record<string, unknown> = {}) {
  return { id, adapter: "llama-stub", hardware: "cpu", sandbox: "none", auto_start: false, args, ...extra };
}

export function configText(config: { runtimes: unknown[]; [key: string]: unknown }): string {
  return YAML.stringify(config);
}

export { type Recorder, record } from "../support/recorder.js";

/** Payload of `runtime.state.changed`. */
export interface StateChange {
  id: string;
  from: RuntimeState;
  to: RuntimeState;
  reason?: string;
  pid?: number;
  restart_budget: { used: number; remaining: number; max_restarts: number; reset_at?: string };
}

export function toState(r: Recorder, id: string, states: RuntimeState[], timeoutMs = 20_000) {
  return r.next("runtime.state.changed", (p: StateChange) => p.id === id && states.includes(p.to), timeoutMs);
}

export async function runtimeView(h: DaemonHandle, id: string): Promise<RuntimeView> {
  const s = await h.status();
  const rt = s.runtimes.find((r) => r.id === id);
  if (!rt) throw new Error(`runtime ${id} not in status (have ${s.runtimes.map((r) => r.id).join(", ")})`);
  return rt;
}

/** The runtime's captured output, through the socket like `rmx runtime logs`. */
export async function logLines(h: DaemonHandle, id: string, lines = 200): Promise<string[]> {
  const c = await h.client();
  try {
    return (await c.call("runtime.logs", { id, lines })).lines;
  } finally {
    await c.close();
  }
}

/** The pid the stub prints for `--stub-grandchild` ("grandchild pid N"), newest last. */
export function grandchildPids(lines: string[]): number[] {
  return lines.flatMap((l) => {
    const m = /grandchild pid (\d+)/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

/** Resident set size from /proc/<pid>/status, in bytes (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export const MiB = 1024 * 1024;
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

/** Total size of the regular files directly in `dir` (files that vanish mid-scan, by rotation, count 0). */
export async function dirBytes(dir: string): Promise<{ total: number; files: Record<string, number> }> {
  const files: Record<string, number> = {};
  let total = 0;
  for (const name of await fs.readdir(dir)) {
    try {
      const st = await fs.stat(path.join(dir, name));
      if (!st.isFile()) continue;
      files[name] = st.size;
      total += st.size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  return { total, files };
}

export { pidAlive as alive } from "../support/daemon-harness.js";

/** Kills leftovers a failing test may leave (best effort; ESRCH is fine). */
export function killQuietly(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** Prints the figure a test saw (the same one its assertion messages carry), so a green run shows it too. */
export function report(test: string, figures: Record<string, unknown>): void {
  const parts = Object.entries(figures).map(
    ([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`,
  );
  process.stdout.write(`[faults] ${test}: ${parts.join(" ")}\n`);
}

const createdDirs = new Set<string>();

/** `startDaemon` in a temp dir of its own, removed by `removeDaemonDirs()` (the harness keeps its dirs). */
export async function startFaultDaemon(opts: StartOptions = {}): Promise<DaemonHandle> {
  let dir = opts.dir;
  if (dir === undefined) {
    dir = await tempDir("rmx-faults-");
    createdDirs.add(dir);
  }
  return startDaemon({ ...opts, dir });
}

/** Temp dirs for tests that reuse one dir across daemons; removed with the others. */
export async function faultDir(): Promise<string> {
  const dir = await tempDir("rmx-faults-");
  createdDirs.add(dir);
  return dir;
}

/** afterEach, after `stopAll()`: removes the dirs created above. */
export async function removeDaemonDirs(): Promise<void> {
  const dirs = [...createdDirs];
  createdDirs.clear();
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
}
