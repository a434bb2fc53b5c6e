/**
 * Configs that used to break a running daemon: `ipc.max_line_bytes: 0` (the first client crashed it),
 * `logs.max_bytes: 0` (a stack trace at start), 30-day durations (Node ran them after 1 ms: a probe every
 * millisecond, SIGKILL 7 ms after SIGTERM) and `max_line_bytes: 1TB`. rmxd now refuses each at start-up with
 * `file:line:col: key` and the allowed range, and exits 1 before opening the socket.
 */
import { afterEach, describe, expect, it } from "vitest";
import { stopAll } from "../support/daemon-harness.js";
import { configText, removeDaemonDirs, report, startFaultDaemon, stubRuntime } from "./fault-support.js";

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

const CASES: Array<[string, Record<string, unknown>, RegExp]> = [
  [
    "max_line_bytes 0",
    { ipc: { max_line_bytes: 0 }, runtimes: [stubRuntime("a")] },
    /rmx\.yaml:\d+:\d+: ipc\.max_line_bytes: expected a size from 1KB to 256MB, got 0/,
  ],
  [
    "max_line_bytes 1TB",
    { ipc: { max_line_bytes: "1TB" }, runtimes: [stubRuntime("a")] },
    /ipc\.max_line_bytes: expected a size from 1KB to 256MB, got "1TB"/,
  ],
  [
    "logs.max_bytes 0",
    { runtimes: [stubRuntime("a", [], { logs: { max_bytes: 0 } })] },
    /runtimes\[0\]\.logs\.max_bytes: expected a size from 64KB to 1TB, got 0/,
  ],
  [
    "health.interval 30d",
    { runtimes: [stubRuntime("a", [], { health: { interval: "30d" } })] },
    /runtimes\[0\]\.health\.interval: expected a duration from 1ms to 1d, got "30d"/,
  ],
  [
    "stop.grace 30d",
    { defaults: { stop: { grace: "30d" } }, runtimes: [stubRuntime("a")] },
    /defaults\.stop\.grace: expected a duration from 0ms to 1d, got "30d"/,
  ],
];

describe("configs that used to break the daemon are refused at start-up", { timeout: 60_000 }, () => {
  it.each(CASES)("%s", async (name, config, message) => {
    let outcome = "started";
    try {
      const h = await startFaultDaemon({
        config: configText(config as { runtimes: unknown[] }),
        timeoutMs: 10_000,
      });
      await h.stop();
    } catch (error) {
      outcome = error instanceof Error ? error.message : String(error);
    }
    const said = outcome.split("\n").find((l) => l.startsWith("rmxd:")) ?? outcome.split("\n")[0] ?? "";
    report(`config ${name}`, { outcome: said.slice(0, 160) });
    expect(outcome).toMatch(/rmxd exited with code 1 during start-up/);
    expect(outcome).toMatch(message);
  });
});
