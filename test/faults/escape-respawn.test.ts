/**
 * A restart without delay: the crashed unit's cgroup kill and /proc sweep run beside the respawn, after the
 * new process is forked. What that must not weaken: every escapee of every crashed generation still dies,
 * the new generation is never hit by the old one's sweep (it exits on its own, code 1, each time), and a
 * fixed port an escapee of the old unit holds does not fail the restart (its check is made again once the
 * sweep has killed the holder) — the new backend binds it.
 */
import fs from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pidAlive, stopAll, until } from "../support/daemon-harness.js";
import { killMarked, markedAlive } from "./escape-support.js";
import { configText, faultDir, record, removeDaemonDirs, report, startFaultDaemon } from "./fault-support.js";

const marks: string[] = [];

afterEach(async () => {
  for (const mark of marks.splice(0)) await killMarked(mark);
  await stopAll();
  await removeDaemonDirs();
});

/**
 * argv: mode, pidsFile, marker. "spread": each life starts 3 `sleep` escapees in sessions of their own,
 * then exits 1. "hold-port": the first life starts one escapee in its own session that listens on $PORT,
 * exits 1 once it listens; the next life serves /health on $PORT.
 */
const BACKEND = `
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const [mode, pidsFile, marker] = process.argv.slice(2);
const escape = (args) => {
  const c = spawn(process.execPath, args, { detached: true, stdio: "ignore" });
  c.unref();
  fs.appendFileSync(pidsFile, "escapee " + c.pid + "\\n");
};
if (mode === "spread") {
  for (let i = 0; i < 3; i++) escape(["-e", "setTimeout(() => {}, 1e6)"]);
  process.exit(1);
}
if (!fs.existsSync(marker)) {
  fs.writeFileSync(marker, "");
  const listening = marker + ".listening";
  escape(["-e", "require('node:net').createServer().listen(Number(process.env.PORT), '127.0.0.1', () => require('node:fs').writeFileSync(" + JSON.stringify(listening) + ", ''))"]);
  const poll = setInterval(() => { if (fs.existsSync(listening)) { clearInterval(poll); process.exit(1); } }, 5);
} else {
  http.createServer((_req, res) => res.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");
}
`;

async function escapees(pidsFile: string): Promise<number[]> {
  const text = await fs.readFile(pidsFile, "utf8").catch(() => "");
  return [...text.matchAll(/^escapee (\d+)$/gm)].map((m) => Number(m[1]));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function scenario(mode: "spread" | "hold-port", extra: Record<string, unknown>) {
  const dir = await faultDir();
  const script = path.join(dir, "backend.cjs");
  await fs.writeFile(script, BACKEND);
  const mark = `respawn-${mode}-${process.pid}-${Date.now()}`;
  marks.push(mark);
  const pidsFile = path.join(dir, "pids.txt");
  const runtime = {
    id: "crashy",
    adapter: "command",
    binary: process.execPath,
    args: [script, mode, pidsFile, path.join(dir, "crashed-once")],
    env: { ESCAPE_MARK: mark },
    hardware: "cpu",
    sandbox: "none",
    auto_start: false,
    health: { path: "/health", start_poll_initial: "10ms", start_poll_max: "50ms" },
    backoff: { initial: 0, max: 1, factor: 1, jitter: 0 },
    stop: { grace: 2000 },
    ...extra,
  };
  const h = await startFaultDaemon({ dir, config: configText({ runtimes: [runtime] }) });
  return { h, mark, pidsFile };
}

describe.runIf(process.platform === "linux")("escapees of a unit restarted without delay", () => {
  it("every crashed generation's setsid escapees die; the new generation is never swept", async () => {
    const restarts = 4;
    const { h, mark, pidsFile } = await scenario("spread", {
      restart_budget: { max_restarts: restarts, window_seconds: 600, retry_at_reset: false },
    });
    const c = await h.client();
    const events = await record(h, ["runtime.exited"]);
    await c.call("runtime.start", { id: "crashy", wait: false });
    await h.waitForState("crashy", ["exhausted"], 30_000);
    const pids = await escapees(pidsFile);
    // The sweeps of the generations restarted at once end a few ms after each respawn: wait for them.
    await until(async () => pids.every((pid) => !pidAlive(pid)), 10_000, "the escapees to be killed").catch(
      () => undefined,
    );
    const alive = pids.filter(pidAlive);
    const marked = await markedAlive(mark);
    const exits = events
      .all("runtime.exited")
      .map((e) => e.payload as { code: number | null; signal: string | null });
    const figures = `${pids.length} escapees, alive [${alive.join(",")}], marked alive [${marked.join(",")}], exits ${JSON.stringify(exits)}`;
    expect(pids.length, figures).toBe(3 * (restarts + 1));
    expect(alive, figures).toEqual([]);
    expect(marked, figures).toEqual([]);
    expect(exits.length, figures).toBe(restarts + 1);
    // Each generation ended on its own (exit 1): no sweep of an older one reached it.
    expect(
      exits.every((e) => e.code === 1 && e.signal === null),
      figures,
    ).toBe(true);
    await events.close();
    report("escapees after restarts without delay", {
      generations: exits.length,
      escapees: pids.length,
      alive: alive.length,
    });
  }, 60_000);

  it("a fixed port held by an escapee of the crashed unit: the restart waits for the sweep, then binds it", async () => {
    const port = await freePort();
    const { h, mark, pidsFile } = await scenario("hold-port", {
      port,
      restart_budget: { max_restarts: 3, window_seconds: 600, retry_at_reset: false },
    });
    const c = await h.client();
    await c.call("runtime.start", { id: "crashy", wait: false });
    const rt = await h.waitForState("crashy", ["ready", "failed", "exhausted"], 30_000);
    const [holder] = await escapees(pidsFile);
    const figures = `state ${rt.state} (${JSON.stringify(rt.status)}), holder ${holder} alive ${holder !== undefined && pidAlive(holder)}`;
    expect(rt.state, figures).toBe("ready");
    expect(rt.restart_budget.used, figures).toBe(1);
    expect(holder, figures).toBeDefined();
    expect(pidAlive(holder as number), figures).toBe(false);
    expect(await markedAlive(mark), figures).toHaveLength(1); // the serving backend alone
    report("escapee holding the fixed port", { state: rt.state, restarts: rt.restart_budget.used });
  }, 60_000);
});
