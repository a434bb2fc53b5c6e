import { RmxError } from "../../base/errors.js";
import type { GpuVendor, HardwareInventory } from "../../ipc/protocol/hardware.js";

export interface HardwareTarget {
  id: string;
  kind: "cpu" | "gpu";
  /** Vendor-local device index (CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES); GPUs only. */
  index?: number;
  vendor?: GpuVendor;
}

/** Every hardware id this machine offers, `cpu` first. */
export function hardwareIds(inv: HardwareInventory): string[] {
  return ["cpu", ...inv.gpus.map((gpu) => gpu.id)];
}

/** Resolves `cpu` / `gpu:N` against the inventory; HARDWARE_UNKNOWN names what the machine does have. */
export function hardwareTarget(id: string, inv: HardwareInventory): HardwareTarget {
  if (id === "cpu") return { id: "cpu", kind: "cpu" };
  const gpu = /^gpu:\d+$/.test(id) ? inv.gpus.find((g) => g.id === id) : undefined;
  if (gpu !== undefined) return { id: gpu.id, kind: "gpu", index: gpu.index, vendor: gpu.vendor };
  const has = hardwareIds(inv).join(", ");
  const message = /^gpu:\d+$/.test(id)
    ? `hardware ${id} not found; this machine has: ${has}`
    : `hardware ${JSON.stringify(id)} is not a hardware id (expected cpu or gpu:N); this machine has: ${has}`;
  throw new RmxError("HARDWARE_UNKNOWN", message, { hardware: id, available: hardwareIds(inv) });
}
