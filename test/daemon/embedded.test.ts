/**
 * The first thing a user sees: `rmxd` with no config supervises one ready llama stub, `rmx runtime status`
 * describes it, and killing the stub brings it back at the cost of one restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DaemonHandle, startDaemon, stopAll } from "../support/daemon-harness.js";
import { alive, type Recorder, record, runtimeView, toState } from "./support.js";

const ID = "llama-stub";
let h: DaemonHandle;

beforeAll(async () => {
  h = await startDaemon({ ready: [ID] });
});
afterAll(stopAll);

describe("rmxd with the embedded default", () => {
  it("shows one ready llama-stub in `rmx runtime status`", async () => {
    const r = await h.cli(["runtime", "status"]);
    expect(r.code, `exit code ${r.code}, stderr: ${r.stderr}`).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0], `header line: ${lines[0]}`).toMatch(
      /^Runtimes \(updated \d{2}:\d{2}:\d{2}\): 1\/1 ready, minimum 3 restarts left$/,
    );
    const rtLine = lines.find((l) => l.includes(ID));
    expect(rtLine, `runtime line in:\n${r.stdout}`).toBeDefined();
    expect(rtLine, `runtime line: ${rtLine}`).toMatch(/\bready\b/);
    expect(rtLine, `runtime line: ${rtLine}`).toMatch(/Ready/);
    expect(rtLine, `runtime line: ${rtLine}`).toMatch(/3 of 3 restarts left, window 600s/);
    const nodeLine = lines.at(-1) ?? "";
    expect(nodeLine, `node line: ${nodeLine}`).toMatch(/^Node \S+: Ready/);
  });

  it("`--json` prints the full runtime.status result with every status and aria field", async () => {
    const r = await h.cli(["runtime", "status", "--json"]);
    expect(r.code, `exit code ${r.code}, stderr: ${r.stderr}`).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.summary, JSON.stringify(s.summary)).toMatchObject({
      ready: 1,
      total: 1,
      attention_required: false,
      min_restarts_left: 3,
    });
    for (const status of [s.node.status, s.runtimes[0].status]) {
      for (const key of ["code", "severity", "severity_label", "label", "aria_hint"]) {
        expect(typeof status[key], `status.${key} in ${JSON.stringify(status)}`).toBe("string");
        expect(status[key].length, `status.${key} is empty`).toBeGreaterThan(0);
      }
    }
    expect(s.node.status.detail, "node detail lines").toBeInstanceOf(Array);
    expect(s.node.runtime, JSON.stringify(s.node.runtime)).toMatchObject({ total: 1, states: { ready: 1 } });
    const rt = s.runtimes[0];
    expect(rt, JSON.stringify(rt)).toMatchObject({
      id: ID,
      adapter: "llama-stub",
      state: "ready",
      desired: "running",
      hardware: "cpu",
      sandbox: "none",
      restart_budget: { max_restarts: 3, window_seconds: 600, used: 0, remaining: 3 },
    });
    expect(rt.status.code).toBe("ready");
    expect(rt.status.aria_hint, `aria hint: ${rt.status.aria_hint}`).toContain(ID);
    for (const key of ["pid", "port", "endpoint", "started_at", "uptime_seconds", "ready_at", "health"]) {
      expect(rt[key], `runtime field ${key} in ${JSON.stringify(rt)}`).toBeDefined();
    }
    expect(rt.health.requests, `health requests ${rt.health.requests}`).toBeGreaterThanOrEqual(1);
    expect(Date.parse(s.generated), `generated ${s.generated} is RFC 3339`).not.toBeNaN();
  });

  it("killing the stub (SIGKILL) brings it back and costs one restart", async () => {
    const before = await runtimeView(h, ID);
    const pid = before.pid as number;
    expect(before.restart_budget.remaining, "remaining before").toBe(3);
    const ev: Recorder = await record(h, ["runtime.*"]);
    process.kill(pid, "SIGKILL");
    // The crash leads to backoff; the restart is stamped (and announced) at the respawn that follows it.
    const backoff = await toState(ev, ID, ["backoff"]);
    expect(backoff.payload.reason, `backoff reason: ${backoff.payload.reason}`).toMatch(
      /exited \(signal SIGKILL\); restarting in/,
    );
    const restart = await ev.next("runtime.restart", (p) => p.id === ID);
    expect(restart.payload.automatic, "automatic restart").toBe(true);
    expect(
      restart.payload.restart_budget.remaining,
      `remaining in the restart event: ${restart.payload.restart_budget.remaining}`,
    ).toBe(2);
    await toState(ev, ID, ["starting"]);
    const ready = await toState(ev, ID, ["ready"]);
    expect(ready.payload.pid, `new pid ${ready.payload.pid} vs old ${pid}`).not.toBe(pid);
    await ev.close();
    const after = await runtimeView(h, ID);
    expect(after.restart_budget, JSON.stringify(after.restart_budget)).toMatchObject({
      used: 1,
      remaining: 2,
    });
    expect(after.restart_budget.reset_at, "reset_at set once a restart is used").toBeDefined();
    expect(after.restarts_total).toBe(1);
    expect(after.last_exit, JSON.stringify(after.last_exit)).toMatchObject({ code: null, signal: "SIGKILL" });
    expect(alive(pid), `old pid ${pid} is gone`).toBe(false);
    expect(alive(after.pid as number), `new pid ${after.pid} is alive`).toBe(true);

    const text = await h.cli(["runtime", "status"]);
    expect(text.stdout, text.stdout).toMatch(
      /1\/1 ready, minimum 2 restarts left, next reset \d{2}:\d{2}:\d{2}/,
    );
    expect(text.stdout, text.stdout).toMatch(/2 of 3 restarts left, window 600s, resets \d{2}:\d{2}:\d{2}/);
  });
});
