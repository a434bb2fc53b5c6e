import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectInventory } from "../../daemon/hardware/inventory.js";
import {
  parseNvidiaInventoryCsv,
  parseNvidiaSampleCsv,
  queryNvidiaInventory,
  queryNvidiaSample,
} from "../../daemon/hardware/nvidia.js";
import { isAlive } from "../../daemon/hardware/process-usage.js";
import { ToolError } from "../../daemon/hardware/run-tool.js";
import { HardwareSampler } from "../../daemon/hardware/sampler.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import { INVENTORY_CSV, SAMPLE_CSV, writeFakeNvidiaSmi } from "./fake-nvidia.js";

const MiB = 1024 * 1024;

describe("nvidia-smi CSV parsing", () => {
  it("parses the inventory query, including names with commas and [N/A] fields", () => {
    expect(parseNvidiaInventoryCsv(INVENTORY_CSV)).toEqual([
      {
        index: 0,
        name: "NVIDIA GeForce RTX 3090",
        memory_total_bytes: 24576 * MiB,
        bus_id: "00000000:01:00.0",
        driver: "550.54.14",
      },
      {
        index: 1,
        name: "NVIDIA RTX A2000 12GB",
        memory_total_bytes: 12282 * MiB,
        bus_id: "00000000:02:00.0",
        driver: "550.54.14",
      },
    ]);
    expect(
      parseNvidiaInventoryCsv("1, Weird, Name, Inc, [N/A], 00000000:03:00.0, [Not Supported]\r\n"),
    ).toEqual([{ index: 1, name: "Weird, Name, Inc", bus_id: "00000000:03:00.0" }]);
    expect(parseNvidiaInventoryCsv("")).toEqual([]);
    expect(parseNvidiaInventoryCsv("No devices were found\n")).toEqual([]);
  });

  it("parses the sample query and leaves unsupported values out", () => {
    expect(parseNvidiaSampleCsv(SAMPLE_CSV)).toEqual([
      {
        index: 0,
        util_percent: 37,
        vram_used_bytes: 1024 * MiB,
        vram_total_bytes: 24576 * MiB,
        temperature_c: 61,
      },
      { index: 1, vram_used_bytes: 0, vram_total_bytes: 12282 * MiB },
    ]);
  });

  it("rejects output that is not the expected CSV", () => {
    expect(() => parseNvidiaInventoryCsv("<html>oops</html>")).toThrow(ToolError);
    expect(() => parseNvidiaInventoryCsv("0, only, three")).toThrow(/not the expected CSV/);
    expect(() => parseNvidiaSampleCsv("0, 1, 2")).toThrow(/not the expected CSV/);
    expect(() => parseNvidiaSampleCsv("x, 1, 2, 3, 4")).toThrow(/not the expected CSV/);
  });
});

describe("inventory and samples through a fake nvidia-smi", () => {
  let dir: string;
  let emptySysfs: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "rmx-nvsmi-"));
    emptySysfs = await mkdtemp(path.join(os.tmpdir(), "rmx-sysfs-empty-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(emptySysfs, { recursive: true, force: true });
  });

  async function goodInventory(): Promise<HardwareInventory> {
    const bin = await writeFakeNvidiaSmi(dir, "ok");
    return collectInventory({ nvidiaSmi: bin, sysfsRoot: emptySysfs });
  }

  it("finds nvidia-smi first on PATH and lists both GPUs", async () => {
    await writeFakeNvidiaSmi(dir, "ok");
    const savedPath = process.env.PATH;
    process.env.PATH = `${dir}${path.delimiter}${savedPath ?? ""}`;
    let inv: HardwareInventory;
    try {
      inv = await collectInventory({ sysfsRoot: emptySysfs });
    } finally {
      process.env.PATH = savedPath;
    }
    expect(inv.gpus).toEqual([
      {
        id: "gpu:0",
        index: 0,
        vendor: "nvidia",
        model: "NVIDIA GeForce RTX 3090",
        vram_bytes: 24576 * MiB,
        bus_id: "00000000:01:00.0",
        driver: "550.54.14",
        source: "nvidia-smi",
        status: "ok",
      },
      {
        id: "gpu:1",
        index: 1,
        vendor: "nvidia",
        model: "NVIDIA RTX A2000 12GB",
        vram_bytes: 12282 * MiB,
        bus_id: "00000000:02:00.0",
        driver: "550.54.14",
        source: "nvidia-smi",
        status: "ok",
      },
    ]);
    const calls = await readFile(path.join(dir, "calls.log"), "utf8");
    expect(calls).toContain(
      "--query-gpu=index,name,memory.total,pci.bus_id,driver_version --format=csv,noheader,nounits",
    );
    expect(inv.cpu.id).toBe("cpu");
    expect(inv.cpu.cores).toBeGreaterThan(0);
    expect(inv.memory.total_bytes).toBe(os.totalmem());
    expect(inv.os.hostname).toBe(os.hostname());
    expect(Date.parse(inv.generated)).not.toBeNaN();
  });

  it("a missing nvidia-smi is a note, not an error", async () => {
    const inv = await collectInventory({
      nvidiaSmi: path.join(dir, "absent-nvidia-smi"),
      sysfsRoot: emptySysfs,
    });
    expect(inv.gpus).toEqual([]);
    expect(inv.notes).toContain(`${path.join(dir, "absent-nvidia-smi")} not found: no NVIDIA GPU assumed`);
  });

  it("'No devices were found' means no NVIDIA GPU", async () => {
    const bin = await writeFakeNvidiaSmi(dir, "no-devices");
    expect(await queryNvidiaInventory(bin, 5000)).toEqual([]);
    const inv = await collectInventory({ nvidiaSmi: bin, sysfsRoot: emptySysfs });
    expect(inv.gpus).toEqual([]);
    expect(inv.notes).toEqual([]);
  });

  it("a slow nvidia-smi times out, is killed, and known GPUs become unknown with the reason", async () => {
    const previous = await goodInventory();
    const slowDir = await mkdtemp(path.join(os.tmpdir(), "rmx-nvsmi-slow-"));
    try {
      const bin = await writeFakeNvidiaSmi(slowDir, "slow");
      // The fake records its pid before exec'ing sleep, so we can check nothing is left running.
      const script = await readFile(bin, "utf8");
      await writeFile(
        bin,
        script.replace("exec sleep", `echo $$ > '${path.join(slowDir, "pid")}'\nexec sleep`),
      );
      const inv = await collectInventory({ nvidiaSmi: bin, sysfsRoot: emptySysfs, timeoutMs: 300, previous });
      expect(inv.gpus.map((g) => [g.id, g.status, g.reason])).toEqual([
        ["gpu:0", "unknown", `${bin} timed out after 300 ms`],
        ["gpu:1", "unknown", `${bin} timed out after 300 ms`],
      ]);
      expect(inv.gpus[0]?.vram_bytes).toBe(24576 * MiB);
      expect(inv.notes).toContain(`NVIDIA GPUs not inventoried: ${bin} timed out after 300 ms`);
      const pid = Number(await readFile(path.join(slowDir, "pid"), "utf8"));
      await waitFor(() => !isAlive(pid), 2000, "the timed-out nvidia-smi to be gone");
    } finally {
      await rm(slowDir, { recursive: true, force: true });
    }
  });

  it("a broken nvidia-smi (exit 9) keeps the inventory, GPUs unknown with the driver's message", async () => {
    const previous = await goodInventory();
    const bin = await writeFakeNvidiaSmi(dir, "broken");
    const inv = await collectInventory({ nvidiaSmi: bin, sysfsRoot: emptySysfs, previous });
    expect(inv.gpus).toHaveLength(2);
    for (const gpu of inv.gpus) {
      expect(gpu.status).toBe("unknown");
      expect(gpu.reason).toContain("exited with code 9: NVIDIA-SMI has failed");
    }
    expect(inv.cpu.cores).toBeGreaterThan(0);
  });

  it("garbage output keeps the inventory, GPUs unknown", async () => {
    const previous = await goodInventory();
    const bin = await writeFakeNvidiaSmi(dir, "garbage");
    const inv = await collectInventory({ nvidiaSmi: bin, sysfsRoot: emptySysfs, previous });
    expect(inv.gpus.map((g) => g.status)).toEqual(["unknown", "unknown"]);
    expect(inv.gpus[0]?.reason).toContain("not the expected CSV");
  });

  it("a broken nvidia-smi with no GPUs known before leaves a note and no GPUs", async () => {
    const bin = await writeFakeNvidiaSmi(dir, "broken");
    const inv = await collectInventory({ nvidiaSmi: bin, sysfsRoot: emptySysfs });
    expect(inv.gpus).toEqual([]);
    expect(inv.notes.some((n) => n.includes("exited with code 9"))).toBe(true);
  });

  it("samples utilisation, VRAM and temperature per GPU", async () => {
    const inventory = await goodInventory();
    const bin = path.join(dir, "nvidia-smi");
    expect(await queryNvidiaSample(bin, 5000)).toHaveLength(2);
    const sampler = new HardwareSampler({
      intervalMs: 1000,
      inventory,
      pids: () => [],
      onSample: () => {},
      nvidiaSmi: bin,
    });
    const sample = await sampler.sampleOnce();
    expect(sample.gpus).toEqual([
      {
        id: "gpu:0",
        util_percent: 37,
        vram_used_bytes: 1024 * MiB,
        vram_total_bytes: 24576 * MiB,
        temperature_c: 61,
        status: "ok",
      },
      { id: "gpu:1", vram_used_bytes: 0, vram_total_bytes: 12282 * MiB, status: "ok" },
    ]);
  });

  it("a sample from a broken nvidia-smi marks the GPUs unknown with the reason", async () => {
    const inventory = await goodInventory();
    const broken = await writeFakeNvidiaSmi(dir, "broken");
    const sampler = new HardwareSampler({
      intervalMs: 1000,
      inventory,
      pids: () => [],
      onSample: () => {},
      nvidiaSmi: broken,
    });
    const sample = await sampler.sampleOnce();
    expect(sample.gpus.map((g) => g.status)).toEqual(["unknown", "unknown"]);
    expect(sample.gpus[0]?.reason).toContain("exited with code 9");
  });
});

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
