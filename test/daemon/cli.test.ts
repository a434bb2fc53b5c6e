/**
 * The `rmx` CLI against a real daemon: restore accepted / denied (exit 3) / --wait, unknown ids, start
 * and stop with --wait, logs (tail and follow), events, and a daemon that is not running (exit 4).
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DaemonHandle,
  RMX,
  runCli,
  startDaemon,
  stopAll,
  tempDir,
  until,
} from "../support/daemon-harness.js";
import { configWith } from "./support.js";

let h: DaemonHandle;
const followers = new Set<ChildProcess>();

beforeAll(async () => {
  h = await startDaemon({
    config: configWith(
      [
        { id: "alpha" },
        { id: "nomodel", auto_start: false, extra: "model: /nope.gguf" },
        { id: "chatty", args: ["--stub-chatty-bytes-per-sec", "2000"] },
      ],
      "telemetry: { health_interval: 200ms }",
    ),
    ready: ["alpha", "chatty"],
  });
});
afterAll(async () => {
  for (const p of followers) p.kill("SIGKILL");
  await stopAll();
});

/** A long-running CLI (`--follow`, `events`) whose stdout lines can be awaited. */
function follow(args: string[]) {
  const proc = spawn(process.execPath, [RMX, ...args], {
    env: { ...process.env, RMX_SOCKET: h.socket, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  followers.add(proc);
  let out = "";
  let err = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  proc.stderr.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    lines: () => out.split("\n").filter((l) => l !== ""),
    stderr: () => err,
    async stop() {
      proc.kill("SIGINT");
      const code = await exited;
      followers.delete(proc);
      return code;
    },
  };
}

describe("rmx against a real daemon", () => {
  it("runtime restore: accepted with the budget, --wait says ready, then denied with exit 3 when exhausted", async () => {
    const first = await h.cli(["runtime", "restore", "--id", "alpha"]);
    expect(first.code, `exit ${first.code}: ${first.stderr}`).toBe(0);
    expect(first.stdout.trim(), first.stdout).toMatch(
      /^Restore accepted for alpha \(2 of 3 restarts left, window 600s, resets \d{2}:\d{2}:\d{2}\)$/,
    );
    for (const left of [1, 0]) {
      const r = await h.cli(["runtime", "restore", "--id", "alpha", "--wait"]);
      expect(r.code, `exit ${r.code}: ${r.stdout} ${r.stderr}`).toBe(0);
      expect(r.stdout, r.stdout).toContain(`Restore accepted for alpha (${left} of 3 restarts left`);
      expect(r.stdout, r.stdout).toContain("alpha is ready");
    }
    const denied = await h.cli(["runtime", "restore", "--id", "alpha"]);
    expect(denied.code, `exit ${denied.code}: ${denied.stdout} ${denied.stderr}`).toBe(3);
    expect(denied.stderr.trim(), denied.stderr).toMatch(
      /^Restore denied for alpha: Restart budget exhausted \(3\/3 used; resets at \d{2}:\d{2}:\d{2}\)$/,
    );
    const reset = await h.cli(["runtime", "restore", "--id", "alpha", "--no-restart", "--reset-budget"]);
    expect(reset.code, `exit ${reset.code}: ${reset.stderr}`).toBe(0);
    expect(reset.stdout.trim(), reset.stdout).toBe(
      "Restore accepted for alpha (budget reset; not restarted; 3 of 3 restarts left, window 600s)",
    );
  });

  it("runtime restore --wait on a runtime that cannot start says failed, with the reason", async () => {
    const r = await h.cli(["runtime", "restore", "--id", "nomodel", "--wait"]);
    expect(r.code, `exit ${r.code}: ${r.stdout} ${r.stderr}`).toBe(1);
    expect(r.stderr, r.stderr).toContain("nomodel failed: model file not found: /nope.gguf");
  });

  it("an unknown id exits 1 and lists the known ids", async () => {
    const r = await h.cli(["runtime", "restore", "--id", "nope"]);
    expect(r.code, `exit ${r.code}`).toBe(1);
    expect(r.stderr, r.stderr).toContain('unknown runtime "nope"; known: alpha, nomodel, chatty');
  });

  it("runtime stop --wait and start --wait report the settled state", async () => {
    const stop = await h.cli(["runtime", "stop", "--id", "alpha", "--wait"]);
    expect(stop.code, `exit ${stop.code}: ${stop.stderr}`).toBe(0);
    expect(stop.stdout, stop.stdout).toBe("Stop requested for alpha (state stopped)\nalpha is stopped\n");
    const start = await h.cli(["runtime", "start", "--id", "alpha", "--wait"]);
    expect(start.code, `exit ${start.code}: ${start.stderr}`).toBe(0);
    expect(start.stdout, start.stdout).toBe("Start requested for alpha (state ready)\nalpha is ready\n");
  });

  it("runtime logs -n 5 prints five lines; --follow prints lines as they arrive", async () => {
    const tail = await h.cli(["runtime", "logs", "--id", "chatty", "-n", "5"]);
    expect(tail.code, `exit ${tail.code}: ${tail.stderr}`).toBe(0);
    const lines = tail.stdout.trimEnd().split("\n");
    expect(lines.length, `lines:\n${tail.stdout}`).toBe(5);
    const f = follow(["runtime", "logs", "--id", "chatty", "-n", "1", "--follow"]);
    const numbers = () => f.lines().map((l) => Number(/chatty log line (\d+)$/.exec(l)?.[1]));
    await until(() => numbers().length >= 20, 10_000, "20 followed lines");
    const got = numbers().slice(0, 20);
    // Consecutive: no line lost or repeated where the tail meets the followed lines.
    const expected = got.map((_, i) => (got[0] as number) + i);
    expect(got, `followed line numbers: ${got.join(",")}`).toEqual(expected);
    expect(await f.stop(), "follow ends cleanly on SIGINT").toBe(0);
  });

  it("events --topic 'runtime.*' --json prints a state change as JSON", async () => {
    const f = follow(["events", "--topic", "runtime.*", "--json"]);
    // runtime.health arrives every 200 ms: once one is printed, the subscription is in place.
    await until(() => f.lines().length > 0, 10_000, "the first event");
    const stop = await h.cli(["runtime", "stop", "--id", "alpha"]);
    expect(stop.code, stop.stderr).toBe(0);
    const line = await until(
      () => f.lines().find((l) => l.includes('"runtime.state.changed"') && l.includes('"alpha"')),
      10_000,
      "a state change line",
    );
    const event = JSON.parse(line);
    expect(event, line).toMatchObject({
      topic: "runtime.state.changed",
      payload: { id: "alpha", to: "stopping" },
    });
    expect(typeof event.seq, "seq").toBe("number");
    expect(Date.parse(event.time), `time ${event.time}`).not.toBeNaN();
    await f.stop();
  });

  it("with no daemon: exit 4 and how to start it", async () => {
    const socket = path.join(await tempDir("rmx-nodaemon-"), "rmxd.sock");
    const r = await runCli(["runtime", "status"], { env: { RMX_SOCKET: socket } });
    expect(r.code, `exit ${r.code}: ${r.stderr}`).toBe(4);
    expect(r.stderr, r.stderr).toMatch(/rmxd is not running/);
    expect(r.stderr, r.stderr).toMatch(/rmxd/);
  });
});
