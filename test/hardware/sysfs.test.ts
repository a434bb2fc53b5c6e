import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { collectInventory } from "../../daemon/hardware/inventory.js";
import { HardwareSampler } from "../../daemon/hardware/sampler.js";
import { scanDrmCards } from "../../daemon/hardware/sysfs-gpu.js";

let root: string;
let dir: string;

async function put(rel: string, content: string): Promise<void> {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

/** A fake /sys: an AMD card with amdgpu counters, an Intel iGPU, a BMC framebuffer, connectors, 4 CPUs on 2 cores. */
async function buildFakeSysfs(): Promise<void> {
  await put("class/drm/card0/device/vendor", "0x1002\n");
  await put("class/drm/card0/device/device", "0x73bf\n");
  await put("class/drm/card0/device/uevent", "DRIVER=amdgpu\nPCI_CLASS=30000\nPCI_SLOT_NAME=0000:03:00.0\n");
  await put("class/drm/card0/device/mem_info_vram_total", "17163091968\n");
  await put("class/drm/card0/device/mem_info_vram_used", "1073741824\n");
  await put("class/drm/card0/device/gpu_busy_percent", "42\n");
  await put("class/drm/card0/device/hwmon/hwmon3/temp1_input", "55000\n");
  await put("class/drm/card0-DP-1/status", "connected\n");
  await put("class/drm/renderD128/dev", "226:128\n");
  await put("class/drm/card1/device/vendor", "0x8086\n");
  await put("class/drm/card1/device/device", "0x9a49\n");
  await put("class/drm/card1/device/uevent", "DRIVER=i915\nPCI_SLOT_NAME=0000:00:02.0\n");
  await put("class/drm/card2/device/vendor", "0x1a03\n");
  for (let cpu = 0; cpu < 4; cpu++) {
    await put(`devices/system/cpu/cpu${cpu}/topology/physical_package_id`, "0\n");
    await put(`devices/system/cpu/cpu${cpu}/topology/core_id`, `${cpu % 2}\n`);
  }
}

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "rmx-sysfs-"));
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-sysfs-bin-"));
  await buildFakeSysfs();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

const noNvidia = () => path.join(dir, "no-nvidia-smi");

describe.runIf(process.platform === "linux")("AMD and Intel GPUs from sysfs", () => {
  it("scans DRM cards of GPU vendors only, in card order", async () => {
    const cards = await scanDrmCards(root);
    expect(cards.map((c) => [c.card, c.vendor, c.busId, c.driver])).toEqual([
      ["card0", "amd", "0000:03:00.0", "amdgpu"],
      ["card1", "intel", "0000:00:02.0", "i915"],
    ]);
  });

  it("inventories the AMD GPU with its VRAM, and counts physical cores from the topology", async () => {
    const clock = new ManualClock(Date.parse("2025-01-02T03:04:05.000Z"));
    const inv = await collectInventory({ nvidiaSmi: noNvidia(), sysfsRoot: root, clock });
    expect(inv.generated).toBe("2025-01-02T03:04:05.000Z");
    expect(inv.gpus).toEqual([
      {
        id: "gpu:0",
        index: 0,
        vendor: "amd",
        model: "AMD GPU [1002:73bf]",
        vram_bytes: 17163091968,
        bus_id: "0000:03:00.0",
        driver: "amdgpu",
        source: "sysfs",
        status: "ok",
      },
      {
        id: "gpu:1",
        index: 0,
        vendor: "intel",
        model: "Intel GPU [8086:9a49]",
        bus_id: "0000:00:02.0",
        driver: "i915",
        source: "sysfs",
        status: "ok",
      },
    ]);
    expect(inv.cpu.physical_cores).toBe(2);
  });

  it("samples amdgpu busy percent, VRAM use and temperature", async () => {
    const inventory = await collectInventory({ nvidiaSmi: noNvidia(), sysfsRoot: root });
    const sampler = new HardwareSampler({
      intervalMs: 1000,
      inventory,
      pids: () => [],
      onSample: () => {},
      nvidiaSmi: noNvidia(),
      sysfsRoot: root,
    });
    const first = await sampler.sampleOnce();
    expect(first.gpus).toEqual([
      {
        id: "gpu:0",
        util_percent: 42,
        vram_used_bytes: 1073741824,
        vram_total_bytes: 17163091968,
        temperature_c: 55,
        status: "ok",
      },
      { id: "gpu:1", status: "unknown", reason: "utilisation is not sampled for intel GPUs" },
    ]);
    await put("class/drm/card0/device/gpu_busy_percent", "99\n");
    const second = await sampler.sampleOnce();
    expect(second.gpus[0]?.util_percent).toBe(99);
  });

  it("an NVIDIA card seen in sysfs while nvidia-smi is missing is listed as unknown, with the reason", async () => {
    await put("class/drm/card3/device/vendor", "0x10de\n");
    await put("class/drm/card3/device/device", "0x2204\n");
    await put("class/drm/card3/device/uevent", "DRIVER=nouveau\nPCI_SLOT_NAME=0000:01:00.0\n");
    const inv = await collectInventory({ nvidiaSmi: noNvidia(), sysfsRoot: root });
    expect(inv.gpus[0]).toEqual({
      id: "gpu:0",
      index: 0,
      vendor: "nvidia",
      model: "NVIDIA GPU [10de:2204]",
      bus_id: "0000:01:00.0",
      driver: "nouveau",
      source: "sysfs",
      status: "unknown",
      reason: `${noNvidia()} not found`,
    });
    expect(inv.gpus.map((g) => g.id)).toEqual(["gpu:0", "gpu:1", "gpu:2"]);
  });

  it("an absent sysfs tree means no sysfs GPUs", async () => {
    const inv = await collectInventory({ nvidiaSmi: noNvidia(), sysfsRoot: path.join(root, "nothing") });
    expect(inv.gpus).toEqual([]);
    expect(inv.cpu.physical_cores).toBeUndefined();
  });
});
