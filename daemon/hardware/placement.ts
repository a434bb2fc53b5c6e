import { RmxError } from "../../base/errors.js";
import type { GpuVendor, HardwareInventory } from "../../ipc/protocol/hardware.js";

export interface HardwareTarget {
  id: string;
  kind: "cpu" | "gpu";
  /** Vendor-local device index (CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES); GPUs only; a list's first. */
  index?: number;
  /** A GPU list's (`gpu:0,1`) vendor-local indices, in order. */
  indices?: number[];
  vendor?: GpuVendor;
}

/** Every hardware id this machine offers, `cpu` first. */
export function hardwareIds(inv: HardwareInventory): string[] {
  return ["cpu", ...inv.gpus.map((gpu) => gpu.id)];
}

/** Resolves `cpu` / `gpu:N` against the inventory; HARDWARE_UNKNOWN names what the machine does have. */
export function hardwareTarget(id: string, inv: HardwareInventory): HardwareTarget {
  if (id === "cpu") return { id: "cpu", kind: "cpu" };
  if (/^gpu:\d+(,\d+)+$/.test(id)) return gpuListTarget(id, inv);
  const gpu = /^gpu:\d+$/.test(id) ? inv.gpus.find((g) => g.id === id) : undefined;
  if (gpu !== undefined) return { id: gpu.id, kind: "gpu", index: gpu.index, vendor: gpu.vendor };
  const has = hardwareIds(inv).join(", ");
  const message = /^gpu:\d+$/.test(id)
    ? `hardware ${id} not found; this machine has: ${has}`
    : `hardware ${JSON.stringify(id)} is not a hardware id (expected cpu or gpu:N); this machine has: ${has}`;
  throw new RmxError("HARDWARE_UNKNOWN", message, { hardware: id, available: hardwareIds(inv) });
}

/** `gpu:0,1`: every listed GPU must exist, once each, all of one vendor (one runtime drives them together). */
function gpuListTarget(id: string, inv: HardwareInventory): HardwareTarget {
  const ids = id
    .slice("gpu:".length)
    .split(",")
    .map((n) => `gpu:${n}`);
  const gpus = ids.map((gpuId) => {
    const gpu = inv.gpus.find((g) => g.id === gpuId);
    if (gpu === undefined) {
      throw new RmxError(
        "HARDWARE_UNKNOWN",
        `hardware ${id}: ${gpuId} not found; this machine has: ${hardwareIds(inv).join(", ")}`,
        { hardware: id, missing: gpuId, available: hardwareIds(inv) },
      );
    }
    return gpu;
  });
  const duplicate = ids.find((gpuId, i) => ids.indexOf(gpuId) !== i);
  if (duplicate !== undefined) {
    throw new RmxError("HARDWARE_UNKNOWN", `hardware ${id} lists ${duplicate} twice`, { hardware: id });
  }
  const first = gpus[0] as (typeof gpus)[number];
  const other = gpus.find((g) => g.vendor !== first.vendor);
  if (other !== undefined) {
    throw new RmxError(
      "HARDWARE_UNKNOWN",
      `hardware ${id} mixes vendors (${first.id} is ${first.vendor}, ${other.id} is ${other.vendor}); list GPUs of one vendor`,
      { hardware: id },
    );
  }
  return { id, kind: "gpu", index: first.index, indices: gpus.map((g) => g.index), vendor: first.vendor };
}
