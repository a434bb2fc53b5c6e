/**
 * The crash → respawn path with real processes: a restart without delay spawns on the launch prepared
 * while the exit was handled (one preparation per spawn, none wasted), and a preparation ahead that failed
 * is done again at the launch, whose outcome is what counts.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stubEntryPath } from "../../adapters/llama-stub/stub-path.js";
import { getAdapter } from "../../adapters/registry.js";
import type { HardwareTarget } from "../../adapters/types.js";
import { systemClock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { EventBus, type RmxEvent } from "../../daemon/events.js";
import type { PersistedRuntime } from "../../daemon/persisted.js";
import { isProcessAlive } from "../../daemon/process/proc-stat.js";
import { RuntimeSupervisor } from "../../daemon/supervise/runtime.js";
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

/** A backend that exits at once with code 1; no delay between restarts; exhausted after RESTARTS. */
function crashSpec(id: string): RuntimeSpec {
  return defaultRuntimeSpec(
    id,
    { adapter: "command", binary: process.execPath, args: ["-e", "process.exit(1)"] },
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
) {
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
    wrapSandbox: (plan) => plan,
    formatTime: (iso) => iso,
  });
  supervisors.add(rt);
  const count = (topic: string) => events.filter((e) => e.topic === topic).length;
  const states = () =>
    events
      .filter((e) => e.topic === "runtime.state.changed")
      .map((e) => (e.payload as { to: RuntimeState }).to);
  return { rt, preparations: () => preparations, count, states };
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
});
