/**
 * Helpers for the end-to-end daemon suite: an event recorder that is subscribed before the action under
 * test happens (so no event can be missed), config builders for stub runtimes, and process checks.
 */

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { RuntimeState, RuntimeView } from "../../ipc/protocol/runtime.js";
import { pidAlive as alive, type DaemonHandle, RMXD } from "../support/daemon-harness.js";
import type { Recorder } from "../support/recorder.js";

export { type RecordedEvent, type Recorder, record } from "../support/recorder.js";

/** Waits for `runtime.state.changed` of runtime `id` into one of `states`. */
export function toState(r: Recorder, id: string, states: RuntimeState[], timeoutMs = 20_000) {
  return r.next("runtime.state.changed", (p) => p.id === id && states.includes(p.to), timeoutMs);
}

export async function runtimeView(h: DaemonHandle, id: string): Promise<RuntimeView> {
  const s = await h.status();
  const rt = s.runtimes.find((r) => r.id === id);
  if (!rt) throw new Error(`runtime ${id} not in status (have ${s.runtimes.map((r) => r.id).join(", ")})`);
  return rt;
}

export interface StubRuntime {
  id: string;
  /** Default llama-stub. */
  adapter?: string;
  args?: string[];
  auto_start?: boolean;
  extra?: string;
}

/** A YAML runtime entry, the bundled stub by default (indented for `runtimes:`). */
export function stubEntry(rt: StubRuntime): string {
  const lines = [
    `  - id: ${rt.id}`,
    `    adapter: ${rt.adapter ?? "llama-stub"}`,
    `    auto_start: ${rt.auto_start ?? true}`,
    `    args: ${JSON.stringify(rt.args ?? [])}`,
  ];
  if (rt.extra)
    lines.push(
      ...rt.extra
        .trim()
        .split("\n")
        .map((l) => `    ${l}`),
    );
  return lines.join("\n");
}

/** A whole config: fast polling and short stop grace so tests stay quick; `head` adds top-level keys. */
export function configWith(runtimes: StubRuntime[], head = ""): string {
  return [
    head.trim(),
    "defaults:",
    "  stop: { grace: 2s }",
    "  backoff: { initial: 50ms, max: 500ms, jitter: 0 }",
    "runtimes:",
    ...runtimes.map(stubEntry),
    "",
  ]
    .filter((l) => l !== "")
    .join("\n");
}

export { pidAlive as alive } from "../support/daemon-harness.js";

/**
 * Live pids (other than `exclude`) whose environment mentions `needle` (Linux /proc): a daemon's
 * backends inherit its RMX_STATE_DIR, so this finds every backend (and grandchild) of one test daemon.
 */
export function pidsWithEnv(needle: string, exclude: number[] = []): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || exclude.includes(pid)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "utf8").includes(needle) && alive(pid)) out.push(pid);
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return out;
}

/** Reports a measured figure on stderr when RMX_TEST_FIGURES=1 (for the closing note); silent otherwise. */
export function figure(name: string, value: number, unit = "ms"): void {
  if (process.env.RMX_TEST_FIGURES === "1") process.stderr.write(`[figure] ${name}: ${value} ${unit}\n`);
}

/** Runs rmxd to its exit, for starts that must fail (killed after 20 s if it does not exit). */
export function runRmxd(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [RMXD, ...args], {
      env: { ...process.env, RMX_LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    proc.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
