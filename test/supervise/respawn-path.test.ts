/**
 * The crash → respawn path with real processes: a restart without delay spawns on the launch prepared
 * while the exit was handled (one preparation per spawn, none wasted), and a preparation ahead that failed
 * is done again at the launch, whose outcome is what counts. The fork happens in the exit's own call, its
 * events, logs and persist after it: each new process finds its own spawn in the write-ahead record, the
 * events keep their order and say what held when they happened, the backend's last words still decide,
 * and a fork that throws is a failed launch.
 */
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stubEntryPath } from "../../adapters/llama-stub/stub-path.js";
import { getAdapter } from "../../adapters/registry.js";
import type { HardwareTarget, LaunchPlan } from "../../adapters/types.js";
import { systemClock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { EventBus, type RmxEvent } from "../../daemon/events.js";
import type { PersistedRuntime } from "../../daemon/persisted.js";
import { isProcessAlive } from "../../daemon/process/proc-stat.js";
import { RuntimeSupervisor } from "../../daemon/supervise/runtime.js";
import { journalFiles } from "../../daemon/supervise/spawn-journal.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import { until } from "../support/daemon-harness.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";

let dir: string;
const supervisors = new Set<RuntimeSupervisor>();

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "rmx-respawn-"));
});
afterEach(async () => {
  await Promise.all([...supervisors].map((s) => s.shutdown()));
  supervisors.clear();
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const RESTARTS = 4;

/** A backend that exits at once with code 1 (or runs `script`); no delay between restarts; exhausted after RESTARTS. */
function crashSpec(id: string, script = "process.exit(1)"): RuntimeSpec {
  return defaultRuntimeSpec(
    id,
    { adapter: "command", binary: process.execPath, args: ["-e", script] },
    {
      restart_budget: { max_restarts: RESTARTS, window_seconds: 600, retry_at_reset: false },
      backoff: { initial_ms: 0, max_ms: 0, jitter: 0 },
      health: { start_poll_initial_ms: 1000, start_poll_max_ms: 1000 },
    },
  );
}

/**
 * A supervisor whose hardware resolution (the first step of every launch preparation) is `resolve`;
 * `persist` stands in for the daemon's store.
 */
function supervisor(
  s: RuntimeSpec,
  resolve: (call: number) => HardwareTarget,
  persist: (id: string, record: PersistedRuntime) => unknown = () => undefined,
  wrap: (plan: LaunchPlan, call: number) => LaunchPlan = (plan) => plan,
) {
  let wraps = 0;
  const bus = new EventBus(systemClock);
  const events: RmxEvent[] = [];
  bus.subscribe(["*"], (e) => events.push(e));
  let preparations = 0;
  const rt = new RuntimeSupervisor(s, {
    clock: systemClock,
    bus,
    logger: pino({ level: "silent" }),
    logsDir: dir,
    stateDir: dir,
    random: () => 0.5,
    adapter: getAdapter(s.adapter),
    stubEntry: stubEntryPath(),
    persist,
    resolveHardware: () => resolve(++preparations),
    resolveModelPath: (m) => m,
    wrapSandbox: (plan) => wrap(plan, ++wraps),
    formatTime: (iso) => iso,
  });
  supervisors.add(rt);
  const count = (topic: string) => events.filter((e) => e.topic === topic).length;
  const states = () =>
    events
      .filter((e) => e.topic === "runtime.state.changed")
      .map((e) => (e.payload as { to: RuntimeState }).to);
  return { rt, bus, events, preparations: () => preparations, count, states };
}

const cpu: HardwareTarget = { id: "cpu", kind: "cpu" };

describe.runIf(process.platform !== "win32")("the respawn path", () => {
  it("a restart without delay spawns on the launch prepared at the exit: one preparation per spawn", async () => {
    const { rt, preparations, count, states } = supervisor(crashSpec("ahead"), () => cpu);
    rt.start();
    await rt.waitForState(["exhausted"], 30_000);
    const spawns = count("runtime.exited");
    const figures = `spawns ${spawns}, preparations ${preparations()}, transitions ${states().join(" → ")}`;
    expect(spawns, figures).toBe(RESTARTS + 1);
    // The first start prepares at its launch; each exit prepares the next one ahead (the last exit's is
    // unused: the budget is spent). Were the ahead ones wasted, every restart would prepare twice.
    expect(preparations(), figures).toBe(spawns + 1);
    expect(states(), figures).not.toContain("failed");
  });

  it("a preparation ahead that fails is done again at the launch, and the restart goes on", async () => {
    // The second preparation is the first one ahead (at the first exit): it fails; every other succeeds.
    const { rt, preparations, count, states } = supervisor(crashSpec("ahead-fails"), (call) => {
      if (call === 2) throw new RmxError("HARDWARE_UNKNOWN", "gone for a moment", { hardware: "cpu" });
      return cpu;
    });
    rt.start();
    await rt.waitForState(["exhausted"], 30_000);
    const spawns = count("runtime.exited");
    const figures = `spawns ${spawns}, preparations ${preparations()}, transitions ${states().join(" → ")}`;
    expect(spawns, figures).toBe(RESTARTS + 1);
    expect(preparations(), figures).toBe(spawns + 2);
    expect(states(), figures).not.toContain("failed");
  });

  it("a child that dies during its own spawn (before its record is saved) is counted and restarted like any other", async () => {
    // The child record is saved only once the child is dead: every spawn ends before it counts as done.
    const recorded = new Set<number>();
    const { rt, count, states } = supervisor(
      crashSpec("dies-in-spawn"),
      () => cpu,
      async (_id, record) => {
        if (record.child === undefined) return;
        const { pid } = record.child;
        await until(async () => !(await isProcessAlive(pid)), 10_000, `child ${pid} to die`);
        recorded.add(pid);
      },
    );
    rt.start();
    await rt.waitForState(["exhausted"], 30_000);
    const figures = `exits ${count("runtime.exited")}, records ${recorded.size}, budget ${JSON.stringify(rt.budget())}, transitions ${states().join(" → ")}`;
    expect(count("runtime.exited"), figures).toBe(RESTARTS + 1);
    expect(recorded.size, figures).toBe(RESTARTS + 1);
    expect(rt.budget().used, figures).toBe(RESTARTS);
    expect(states(), figures).not.toContain("failed");
    expect(rt.pid, figures).toBeUndefined();
  });

  it("each new process finds its own spawn in the write-ahead record: it is written before the fork", async () => {
    const id = "journal-first";
    // Each life prints the newest valid record's attempt count, then crashes.
    const [a, b] = journalFiles(dir, id);
    const script = `
      const fs = require("node:fs");
      let newest;
      for (const file of ${JSON.stringify([a, b])}) {
        try {
          const line = fs.readFileSync(file, "utf8").split("\\n")[0];
          const record = JSON.parse(line.slice(0, line.lastIndexOf("\\t")));
          if (newest === undefined || record.seq > newest.seq) newest = record;
        } catch {}
      }
      console.log("journal attempts " + (newest ? newest.budget.attempts.length : "none"));
      process.exit(1);`;
    const { rt, states } = supervisor(crashSpec(id, script), () => cpu);
    rt.start();
    await rt.waitForState(["exhausted"], 30_000);
    await rt.log.flush();
    const seen = readFileSync(rt.log.path, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("journal attempts "))
      .map((l) => l.slice("journal attempts ".length));
    const figures = `lives saw ${seen.join(", ")}; transitions ${states().join(" → ")}`;
    // The first start is not a restart (0 attempts); restart k finds its own attempt, k, recorded.
    expect(seen, figures).toEqual(Array.from({ length: RESTARTS + 1 }, (_, k) => String(k)));
  });

  it("events come after the fork in their order, each with the budget of its moment", async () => {
    const { rt, bus, events } = supervisor(crashSpec("event-order"), () => cpu);
    // When each exit is told, how many launches the log has seen: the respawn's is already there.
    const launchesAtExit: number[] = [];
    bus.subscribe(["runtime.exited"], () =>
      launchesAtExit.push(rt.log.lastLines().filter((l) => l.startsWith("--- rmxd: starting ")).length),
    );
    rt.start();
    await rt.waitForState(["exhausted"], 30_000);
    const seen = events.map((e) => {
      const p = e.payload as { to?: string; restart_budget?: { used: number } };
      const what = e.topic === "runtime.state.changed" ? `state:${p.to}` : e.topic.replace("runtime.", "");
      return `${what}@${p.restart_budget?.used ?? "-"}`;
    });
    const expected = ["state:starting@0"];
    for (let k = 1; k <= RESTARTS; k++) {
      // The exit (no budget of its own), backoff with the restarts so far, the restart, starting again.
      expected.push("exited@-", `state:backoff@${k - 1}`, `restart@${k}`, `state:starting@${k}`);
    }
    expected.push("exited@-", `state:exhausted@${RESTARTS}`);
    const sequence = seen.filter((e) => !e.startsWith("budget.denied"));
    expect(sequence, seen.join(" ")).toEqual(expected);
    // Exit k (1-based) is published after launch k + 1 forked; the last exit has no respawn.
    const forkedFirst = Array.from({ length: RESTARTS }, (_, k) => k + 2);
    expect(launchesAtExit, seen.join(" ")).toEqual([...forkedFirst, RESTARTS + 1]);
  });

  it("on a restart without delay the backend's last words still decide: an error after a burst of output, twice → failed", async () => {
    // 300 KiB of output, then the error line, then the exit: the line must be in the log when the exit is judged.
    const script = `
      const pad = "x".repeat(100);
      let block = "";
      for (let i = 0; i < 3000; i++) block += "loading " + i + " " + pad + "\\n";
      process.stdout.write(block, () =>
        process.stderr.write("error: invalid argument: --no-such-flag\\n", () => process.exit(1)),
      );`;
    const { rt, count, states } = supervisor(crashSpec("last-words", script), () => cpu);
    rt.start();
    const state = await rt.waitForState(["failed", "exhausted"], 30_000);
    const view = rt.view();
    const figures = `state ${state}, reason ${view.reason}, exits ${count("runtime.exited")}, transitions ${states().join(" → ")}`;
    expect(state, figures).toBe("failed");
    expect(view.reason, figures).toContain(
      "twice in a row; will not fix itself: error: invalid argument: --no-such-flag",
    );
    expect(count("runtime.exited"), figures).toBe(2);
    expect(rt.log.lastLines().includes("error: invalid argument: --no-such-flag"), figures).toBe(true);
  });

  it("a fork that throws on the respawn (spawn() rejects the prepared plan) is a failed launch, not an exception", async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    try {
      // The first launch's plan is good; every later one (the one prepared ahead first) has a NUL in an argument.
      const { rt, count, states } = supervisor(
        crashSpec("fork-throws"),
        () => cpu,
        undefined,
        (plan, call) => (call === 1 ? plan : { ...plan, args: [...plan.args, "bad\0arg"] }),
      );
      rt.start();
      const state = await rt.waitForState(["failed", "exhausted"], 30_000);
      const view = rt.view();
      const figures = `state ${state}, reason ${view.reason}, exits ${count("runtime.exited")}, transitions ${states().join(" → ")}`;
      expect(state, figures).toBe("failed");
      expect(view.reason, figures).toMatch(/^start failed: .*null bytes/);
      expect(count("runtime.exited"), figures).toBe(1);
      expect(rt.budget().used, `${figures}: the failed respawn was a counted attempt`).toBe(1);
      expect(rt.pid, figures).toBeUndefined();
      await new Promise((resolve) => setImmediate(resolve));
      expect(rejections.map(String), figures).toEqual([]);
    } finally {
      process.off("unhandledRejection", onRejection);
    }
  });
});
