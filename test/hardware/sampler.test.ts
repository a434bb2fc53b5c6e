import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { isAlive, sampleProcesses } from "../../daemon/hardware/process-usage.js";
import { HardwareSampler } from "../../daemon/hardware/sampler.js";
import { LoopDelayMonitor } from "../../daemon/telemetry/loop-delay.js";
import type { HardwareInventory, HardwareSample } from "../../ipc/protocol/hardware.js";
import { INVENTORY_CSV, writeFakeNvidiaSmi } from "./fake-nvidia.js";

const children: ChildProcess[] = [];
const samplers: HardwareSampler[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const sampler of samplers.splice(0)) sampler.stop();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function startChild(): Promise<ChildProcess & { pid: number }> {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  children.push(child);
  await once(child, "spawn");
  return child as ChildProcess & { pid: number };
}

function inventory(gpus: HardwareInventory["gpus"] = []): HardwareInventory {
  return {
    generated: "2025-01-01T00:00:00.000Z",
    cpu: { id: "cpu", model: "test", cores: os.cpus().length, arch: os.arch() },
    memory: { total_bytes: os.totalmem() },
    os: { platform: process.platform, hostname: os.hostname() },
    gpus,
    notes: [],
  };
}

function track(sampler: HardwareSampler): HardwareSampler {
  samplers.push(sampler);
  return sampler;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("sampleProcesses", () => {
  it("samples live processes in one batch and leaves out one that exited before the tick", async () => {
    const [a, b, gone] = await Promise.all([startChild(), startChild(), startChild()]);
    gone.kill("SIGTERM");
    await once(gone, "exit");
    expect(isAlive(gone.pid)).toBe(false);

    const samples = await sampleProcesses([a.pid, b.pid, gone.pid, a.pid]);
    expect(Object.keys(samples).map(Number).sort()).toEqual([a.pid, b.pid].sort());
    for (const pid of [a.pid, b.pid]) {
      expect(samples[pid]?.pid).toBe(pid);
      expect(samples[pid]?.rss_bytes).toBeGreaterThan(0);
      expect(samples[pid]?.cpu_percent).toBeGreaterThanOrEqual(0);
    }
  });

  it("keeps sampling a process after another in the same batch has exited", async () => {
    const [a, b] = await Promise.all([startChild(), startChild()]);
    expect(Object.keys(await sampleProcesses([a.pid, b.pid]))).toHaveLength(2);
    b.kill("SIGKILL");
    await once(b, "exit");
    const after = await sampleProcesses([a.pid, b.pid]);
    expect(Object.keys(after).map(Number)).toEqual([a.pid]);
  });

  it("an empty or entirely dead list gives no samples", async () => {
    expect(await sampleProcesses([])).toEqual({});
    expect(await sampleProcesses([-1, 0, 1.5])).toEqual({});
  });
});

describe("HardwareSampler", () => {
  it("ticks on its interval with memory, CPU, the runtimes' processes, tick time and loop delay", async () => {
    const child = await startChild();
    const samples: HardwareSample[] = [];
    const clock = new ManualClock(Date.parse("2025-06-01T12:00:00.000Z"));
    const sampler = track(
      new HardwareSampler({
        intervalMs: 50,
        inventory: inventory(),
        pids: () => [child.pid],
        onSample: (s) => samples.push(s),
        clock,
        // The daemon's monitor fires every 100 ms; this test's three samples take about as long.
        loopDelay: new LoopDelayMonitor(10),
      }),
    );
    sampler.start();
    await waitFor(() => samples.length >= 3, 5000, "three samples");
    sampler.stop();
    const sample = samples[2]!;
    expect(sample.at).toBe("2025-06-01T12:00:00.000Z");
    expect(sample.memory.total_bytes).toBe(os.totalmem());
    expect(sample.memory.available_bytes).toBeGreaterThan(0);
    expect(sample.memory.used_bytes).toBe(sample.memory.total_bytes - sample.memory.available_bytes);
    expect(sample.cpu.load_percent).toBeGreaterThanOrEqual(0);
    expect(sample.cpu.load_percent).toBeLessThanOrEqual(100);
    expect(sample.cpu.load_avg).toHaveLength(3);
    expect(sample.processes[child.pid]?.rss_bytes).toBeGreaterThan(0);
    expect(sample.gpus).toEqual([]);
    expect(sample.tick_ms).toBeGreaterThanOrEqual(0);
    const delay = sampler.loopDelay;
    expect(delay.max_ms).toBeGreaterThanOrEqual(delay.p99_ms);
    expect(delay.p99_ms).toBeGreaterThanOrEqual(delay.p50_ms);
    expect(delay.p50_ms).toBeGreaterThan(0);
  });

  it("never overlaps ticks: a slow GPU probe makes the interval skip, and sampleOnce joins the tick in flight", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-sampler-"));
    dirs.push(dir);
    const slow = await writeFakeNvidiaSmi(dir, "slow");
    const gpus = INVENTORY_CSV.split("\n").map((_, i) => ({
      id: `gpu:${i}`,
      index: i,
      vendor: "nvidia" as const,
      model: "fake",
      source: "nvidia-smi" as const,
      status: "ok" as const,
    }));
    const samples: HardwareSample[] = [];
    const sampler = track(
      new HardwareSampler({
        intervalMs: 40,
        inventory: inventory(gpus),
        pids: () => [],
        onSample: (s) => samples.push(s),
        nvidiaSmi: slow,
        gpuTimeoutMs: 400,
      }),
    );
    const first = sampler.sampleOnce();
    expect(sampler.sampleOnce()).toBe(first);
    sampler.start();
    const joined = await first;
    expect(joined.gpus.map((g) => g.status)).toEqual(["unknown", "unknown"]);
    expect(joined.gpus[0]?.reason).toContain("timed out after 400 ms");
    await waitFor(() => samples.length >= 1, 5000, "a sample from the interval");
    sampler.stop();
    expect(sampler.skippedTicks).toBeGreaterThan(0);
  });

  it("the loop delay reads zero before start", () => {
    const sampler = new HardwareSampler({
      intervalMs: 1000,
      inventory: inventory(),
      pids: () => [],
      onSample: () => {},
    });
    expect(sampler.loopDelay).toEqual({ p50_ms: 0, p99_ms: 0, max_ms: 0 });
  });
});
