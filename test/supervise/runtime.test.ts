/**
 * The impure supervisor around the state machine, with real stub processes: races between commands and
 * the launch in flight, a probe in flight at stop, and clean disposal (no process, timer or rejection left).
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stubEntryPath } from "../../adapters/llama-stub/stub-path.js";
import { getAdapter } from "../../adapters/registry.js";
import { systemClock } from "../../base/clock.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { EventBus, type RmxEvent } from "../../daemon/events.js";
import type { PersistedRuntime } from "../../daemon/persisted.js";
import { RuntimeSupervisor } from "../../daemon/supervise/runtime.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import { alive } from "../daemon/support.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";

let dir: string;
const supervisors = new Set<RuntimeSupervisor>();
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "rmx-supervise-"));
  process.on("unhandledRejection", onRejection);
});
afterEach(async () => {
  await Promise.all([...supervisors].map((s) => s.shutdown()));
  supervisors.clear();
  expect(rejections, `unhandled rejections: ${rejections.map(String).join("; ")}`).toEqual([]);
});
afterAll(async () => {
  process.off("unhandledRejection", onRejection);
  await fs.rm(dir, { recursive: true, force: true });
});

function spec(id: string, over: Partial<RuntimeSpec> = {}): RuntimeSpec {
  return defaultRuntimeSpec(id, over, {
    health: { interval_ms: 100, timeout_ms: 200, start_poll_initial_ms: 5, start_poll_max_ms: 20 },
    backoff: { initial_ms: 20, max_ms: 100, jitter: 0 },
    stop: { grace_ms: 2000 },
  });
}

function supervisor(s: RuntimeSpec) {
  const bus = new EventBus(systemClock);
  const events: RmxEvent[] = [];
  bus.subscribe(["*"], (e) => events.push(e));
  const persisted: PersistedRuntime[] = [];
  const rt = new RuntimeSupervisor(s, {
    clock: systemClock,
    bus,
    logger: pino({ level: "silent" }),
    logsDir: dir,
    stateDir: dir,
    random: () => 0.5,
    adapter: getAdapter(s.adapter),
    stubEntry: stubEntryPath(),
    persist: (_id, record) => persisted.push(record),
    resolveHardware: () => ({ id: "cpu", kind: "cpu" }),
    resolveModelPath: (m) => m,
    wrapSandbox: (plan) => plan,
    formatTime: (iso) => iso,
  });
  supervisors.add(rt);
  const states = () =>
    events
      .filter((e) => e.topic === "runtime.state.changed")
      .map((e) => (e.payload as { to: RuntimeState }).to);
  return { rt, bus, events, states, persisted };
}

/** Pids the supervisor ever persisted as its child. */
function childPids(persisted: PersistedRuntime[]): number[] {
  return [...new Set(persisted.flatMap((p) => (p.child ? [p.child.pid] : [])))];
}

describe("RuntimeSupervisor with real processes", () => {
  it("a stop right after start (launch in flight) ends stopped, with no process left", async () => {
    const { rt, states, persisted } = supervisor(spec("stop-early"));
    rt.start();
    rt.stop();
    await rt.waitForState(["stopped"], 10_000);
    // Let the launch in flight finish; it must not spawn anything for a stopped runtime.
    await rt.shutdown();
    expect(states(), `transitions: ${states().join(" → ")}`).toEqual(["starting", "stopping", "stopped"]);
    expect(rt.state).toBe("stopped");
    expect(rt.pid, "no pid").toBeUndefined();
    for (const pid of childPids(persisted)) expect(alive(pid), `pid ${pid} left running`).toBe(false);
  });

  it("a restore right after start (launch in flight) restarts once and ends ready", async () => {
    const { rt, states, persisted } = supervisor(spec("restore-early"));
    rt.start();
    const outcome = rt.restore({ restart: true, reset_budget: false });
    expect(outcome.restarted, "restarted").toBe(true);
    await rt.waitForState(["ready"], 10_000);
    expect(states(), `transitions: ${states().join(" → ")}`).toEqual([
      "starting",
      "stopping",
      "starting",
      "ready",
    ]);
    const pids = childPids(persisted);
    expect(pids, `children spawned: ${pids.join(", ")}`).toEqual([rt.pid]);
  });

  it("shutdown during the launch leaves no orphan", async () => {
    const { rt, persisted } = supervisor(spec("shutdown-early"));
    rt.start();
    await rt.shutdown();
    for (const pid of childPids(persisted)) expect(alive(pid), `pid ${pid} left running`).toBe(false);
    expect(rt.desired, "the desired state survives a daemon shutdown").toBe("running");
  });

  it("a stop while a probe hangs (SIGSTOPped backend) stops cleanly: SIGCONT, then the stop signal", async () => {
    const health = { ...spec("x").health, timeout_ms: 300 };
    // b4748 dies of SIGABRT after SIGTERM; a clean exit 0 proves the stop signal (not SIGKILL) ended it.
    const { rt, bus, events, states } = supervisor(
      spec("probe-in-flight", { health, args: ["--exit-clean-on-term"] }),
    );
    rt.start();
    await rt.waitForState(["ready"], 10_000);
    const pid = rt.pid as number;
    const firstFailure = bus.waitFor("runtime.probe.failed", () => true, 10_000);
    process.kill(pid, "SIGSTOP");
    await firstFailure;
    // Probes keep their cadence (interval 100 ms < timeout 300 ms): the next one is in flight now.
    const began = Date.now();
    rt.stop();
    await rt.waitForState(["stopped"], 10_000);
    const tookMs = Date.now() - began;
    expect(alive(pid), `pid ${pid} gone`).toBe(false);
    expect(tookMs, `stopped in ${tookMs} ms (grace 2000 ms: no escalation needed)`).toBeLessThan(2000);
    const view = rt.view();
    // It acted on the stop signal (this stub runs with --exit-clean-on-term: exit 0, not b4748's SIGABRT).
    expect(view.last_exit, JSON.stringify(view.last_exit)).toMatchObject({ code: 0, signal: null });
    // Outlive the abandoned probe's own timeout: it must not report anything.
    await rt.shutdown();
    const failures = events.filter((e) => e.topic === "runtime.probe.failed");
    expect(failures, "only the failure before the stop").toHaveLength(1);
    expect(states().at(-1)).toBe("stopped");
  });

  it("dispose stops the process and leaves no timer behind", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const baseline = timers();
    const health = { ...spec("x").health, interval_ms: 20 };
    const { rt, events } = supervisor(spec("dispose", { health }));
    rt.start();
    await rt.waitForState(["ready"], 10_000);
    const pid = rt.pid as number;
    await rt.dispose();
    supervisors.delete(rt);
    expect(alive(pid), `pid ${pid} gone`).toBe(false);
    const published = events.length;
    // Probe requests in flight end with their own timeouts; then nothing of the supervisor remains.
    const deadline = Date.now() + 3000;
    while (timers() > baseline && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(timers(), `active timers: ${timers()} (baseline ${baseline})`).toBeLessThanOrEqual(baseline);
    expect(events.length, "no event after dispose").toBe(published);
  });
});
