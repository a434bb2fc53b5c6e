import os from "node:os";
import path from "node:path";
import type { Clock } from "../../base/clock.js";
import { rfc3339, systemClock } from "../../base/clock.js";
import { readdir, readFile } from "../../base/fs-async.js";
import type { GpuInfo, GpuVendor, HardwareInventory } from "../../ipc/protocol/hardware.js";
import { Coalescer } from "./coalesce.js";
import { queryNvidiaInventory } from "./nvidia.js";
import { ToolError } from "./run-tool.js";
import { drmCardModel, scanDrmCards } from "./sysfs-gpu.js";

export interface InventoryOptions {
  /** nvidia-smi executable; default `nvidia-smi` on PATH. */
  nvidiaSmi?: string;
  /** Root of sysfs; default `/sys`. Tests point it at a fake tree. */
  sysfsRoot?: string;
  /** Bound on each external probe; default 5000 ms. */
  timeoutMs?: number;
  /** The last inventory: GPUs it knew stay listed (as "unknown") when their probe breaks. */
  previous?: HardwareInventory;
  clock?: Clock;
  /** Overrides process.platform (tests). */
  platform?: NodeJS.Platform;
}

/** Share of unified memory Metal lets one process wire on Apple silicon (recommendedMaxWorkingSetSize). */
const APPLE_GPU_MEMORY_SHARE = 0.75;

type GpuDraft = Omit<GpuInfo, "id">;

/**
 * What this machine has, collected once at start-up or on demand. Never throws for a missing or broken GPU
 * tool: the problem becomes a note, and GPUs that were known become `status: "unknown"` with the reason.
 */
export function collectInventory(opts: InventoryOptions = {}): Promise<HardwareInventory> {
  // Concurrent refreshes share one collection (nvidia-smi, system_profiler, sysfs walk).
  const key = [
    opts.platform ?? process.platform,
    opts.sysfsRoot ?? "/sys",
    opts.nvidiaSmi ?? "nvidia-smi",
  ].join("\0");
  return inventories.run(key, () => collectInventoryNow(opts));
}

const inventories = new Coalescer<HardwareInventory>();

async function collectInventoryNow(opts: InventoryOptions): Promise<HardwareInventory> {
  const clock = opts.clock ?? systemClock;
  const platform = opts.platform ?? process.platform;
  const sysfsRoot = opts.sysfsRoot ?? "/sys";
  const timeoutMs = opts.timeoutMs ?? 5000;
  const notes: string[] = [];

  const [cpu, osInfo, gpus] = await Promise.all([
    cpuInfo(platform, sysfsRoot),
    osDescription(platform),
    collectGpus({ ...opts, platform, sysfsRoot, timeoutMs }, notes),
  ]);

  return {
    generated: rfc3339(clock.now()),
    cpu,
    memory: { total_bytes: os.totalmem() },
    os: osInfo,
    gpus: gpus.map((gpu, n) => ({ id: `gpu:${n}`, ...gpu })),
    notes,
  };
}

async function collectGpus(
  opts: InventoryOptions & { platform: NodeJS.Platform; sysfsRoot: string; timeoutMs: number },
  notes: string[],
): Promise<GpuDraft[]> {
  const bin = opts.nvidiaSmi ?? "nvidia-smi";
  const drmCards = opts.platform === "linux" ? await scanDrmCards(opts.sysfsRoot) : [];
  const nvidia: GpuDraft[] = [];

  try {
    const rows = await queryNvidiaInventory(bin, opts.timeoutMs);
    for (const row of rows) {
      const gpu: GpuDraft = {
        index: row.index,
        vendor: "nvidia",
        model: row.name,
        source: "nvidia-smi",
        status: "ok",
      };
      if (row.memory_total_bytes !== undefined) gpu.vram_bytes = row.memory_total_bytes;
      if (row.bus_id !== undefined) gpu.bus_id = row.bus_id;
      if (row.driver !== undefined) gpu.driver = row.driver;
      nvidia.push(gpu);
    }
  } catch (err) {
    const reason = err instanceof ToolError ? err.message : `nvidia-smi failed: ${String(err)}`;
    const missing = err instanceof ToolError && err.kind === "missing";
    const sysfsNvidia = drmCards.filter((card) => card.vendor === "nvidia");
    const known = (opts.previous?.gpus ?? []).filter((gpu) => gpu.vendor === "nvidia");
    if (missing && known.length === 0 && sysfsNvidia.length === 0) {
      notes.push(`${bin} not found: no NVIDIA GPU assumed`);
    } else {
      notes.push(`NVIDIA GPUs not inventoried: ${reason}`);
      if (known.length > 0) {
        for (const gpu of known) {
          const { id: _id, ...rest } = gpu;
          nvidia.push({ ...rest, status: "unknown", reason });
        }
      } else {
        sysfsNvidia.forEach((card, index) => {
          const gpu: GpuDraft = {
            index,
            vendor: "nvidia",
            model: drmCardModel(card),
            source: "sysfs",
            status: "unknown",
            reason,
          };
          if (card.busId !== undefined) gpu.bus_id = card.busId;
          if (card.driver !== undefined) gpu.driver = card.driver;
          nvidia.push(gpu);
        });
      }
    }
  }

  const fromSysfs = (vendor: "amd" | "intel"): GpuDraft[] =>
    drmCards
      .filter((card) => card.vendor === vendor)
      .map((card, index) => {
        const gpu: GpuDraft = { index, vendor, model: drmCardModel(card), source: "sysfs", status: "ok" };
        if (card.vramTotalBytes !== undefined) gpu.vram_bytes = card.vramTotalBytes;
        if (card.busId !== undefined) gpu.bus_id = card.busId;
        if (card.driver !== undefined) gpu.driver = card.driver;
        return gpu;
      });

  const apple = opts.platform === "darwin" ? await appleGpus(notes) : [];
  if (opts.platform !== "linux" && opts.platform !== "darwin") {
    notes.push(`AMD/Intel GPU discovery uses Linux sysfs; not available on ${opts.platform}`);
  }
  return [...nvidia, ...fromSysfs("amd"), ...fromSysfs("intel"), ...apple];
}

/** systeminformation's graphics() shells out synchronously on Linux; it is called on macOS only. */
async function appleGpus(notes: string[]): Promise<GpuDraft[]> {
  try {
    const si = await import("systeminformation");
    const graphics = await si.graphics();
    const usable = Math.round(os.totalmem() * APPLE_GPU_MEMORY_SHARE);
    const gpus: GpuDraft[] = [];
    for (const controller of graphics.controllers) {
      const vendor = vendorFromName(`${controller.vendor} ${controller.model}`);
      if (vendor !== "apple") continue;
      gpus.push({
        index: gpus.length,
        vendor,
        model: controller.model || "Apple GPU",
        vram_bytes: usable,
        source: "systeminformation",
        status: "ok",
      });
    }
    if (gpus.length > 0) {
      notes.push(
        `Apple GPU shares unified memory: ${APPLE_GPU_MEMORY_SHARE * 100}% of RAM counted as usable VRAM`,
      );
    }
    return gpus;
  } catch (err) {
    notes.push(`Apple GPU discovery failed: ${err instanceof Error ? err.message : String(err)}`);
    return [];
  }
}

function vendorFromName(name: string): GpuVendor {
  if (/apple/i.test(name)) return "apple";
  if (/nvidia/i.test(name)) return "nvidia";
  if (/amd|ati|radeon/i.test(name)) return "amd";
  if (/intel/i.test(name)) return "intel";
  return "unknown";
}

async function cpuInfo(platform: NodeJS.Platform, sysfsRoot: string): Promise<HardwareInventory["cpu"]> {
  const cpus = os.cpus();
  const cpu: HardwareInventory["cpu"] = {
    id: "cpu",
    model: cpus[0]?.model.trim() || "unknown CPU",
    cores: cpus.length || os.availableParallelism(),
    arch: os.arch(),
  };
  const physical = platform === "linux" ? await linuxPhysicalCores(sysfsRoot) : await siPhysicalCores();
  if (physical !== undefined) cpu.physical_cores = physical;
  return cpu;
}

/** Distinct (package, core) pairs from the CPU topology in sysfs. */
async function linuxPhysicalCores(sysfsRoot: string): Promise<number | undefined> {
  const base = path.join(sysfsRoot, "devices", "system", "cpu");
  let names: string[];
  try {
    names = (await readdir(base)).filter((name) => /^cpu\d+$/.test(name));
  } catch {
    return undefined;
  }
  const cores = new Set<string>();
  for (const name of names) {
    try {
      const [pkg, core] = await Promise.all([
        readFile(path.join(base, name, "topology", "physical_package_id"), "utf8"),
        readFile(path.join(base, name, "topology", "core_id"), "utf8"),
      ]);
      cores.add(`${pkg.trim()}:${core.trim()}`);
    } catch {
      // Offline CPUs have no topology directory.
    }
  }
  return cores.size > 0 ? cores.size : undefined;
}

async function siPhysicalCores(): Promise<number | undefined> {
  try {
    const si = await import("systeminformation");
    const cpu = await si.cpu();
    return cpu.physicalCores > 0 ? cpu.physicalCores : undefined;
  } catch {
    return undefined;
  }
}

async function osDescription(platform: NodeJS.Platform): Promise<HardwareInventory["os"]> {
  const info: HardwareInventory["os"] = { platform, hostname: os.hostname(), kernel: os.release() };
  if (platform === "linux") {
    const release = await readOsRelease();
    if (release.PRETTY_NAME ?? release.NAME) info.distro = release.PRETTY_NAME ?? release.NAME;
    if (release.VERSION_ID) info.release = release.VERSION_ID;
    return info;
  }
  try {
    const si = await import("systeminformation");
    const data = await si.osInfo();
    if (data.distro) info.distro = data.distro;
    if (data.release) info.release = data.release;
  } catch {
    // The kernel release from node:os is enough to go on.
  }
  return info;
}

async function readOsRelease(): Promise<Record<string, string>> {
  for (const file of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      const text = await readFile(file, "utf8");
      const fields: Record<string, string> = {};
      for (const line of text.split("\n")) {
        const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (match?.[1] && match[2] !== undefined) fields[match[1]] = match[2].replace(/^["']|["']$/g, "");
      }
      return fields;
    } catch {
      // Try the next location.
    }
  }
  return {};
}
