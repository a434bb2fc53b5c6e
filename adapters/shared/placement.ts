import { RmxError } from "../../base/errors.js";
import type { HardwareTarget } from "../types.js";

/**
 * The N of each `gpu:N` a hardware id names: `gpu:3` → [3], `gpu:0,1` → [0, 1], `cpu` (or anything else) → [].
 * These are rmxd's hardware ids (the inventory's `gpu:N`), not vendor-local device indices.
 */
export function gpuIndices(hardwareId: string): number[] {
  const list = /^gpu:(\d+(?:,\d+)*)$/.exec(hardwareId)?.[1];
  return list === undefined ? [] : list.split(",").map(Number);
}

/** The device index of a `gpu:N` target; HARDWARE_UNKNOWN when it has none. */
export function gpuIndex(hardware: HardwareTarget): number {
  const index = hardware.index ?? Number(/^gpu:(\d+)$/.exec(hardware.id)?.[1]);
  if (!Number.isInteger(index) || index < 0) {
    throw new RmxError("HARDWARE_UNKNOWN", `hardware target "${hardware.id}" has no GPU index`, {
      hardware: hardware.id,
    });
  }
  return index;
}

/**
 * Environment that pins a backend to one device. Vulkan builds read GGML_VK_VISIBLE_DEVICES whatever
 * the vendor, so it is always set; `cpu` hides CUDA devices so a CUDA build cannot grab one. On AMD,
 * ROCr filters first and HIP indexes what is left, so HIP must say 0: `HIP_VISIBLE_DEVICES=N` next to
 * `ROCR_VISIBLE_DEVICES=N` would leave no device at all for N > 0.
 */
export function placementEnv(hardware: HardwareTarget): Record<string, string> {
  if (hardware.kind === "cpu") return { CUDA_VISIBLE_DEVICES: "" };
  const device = String(gpuIndex(hardware));
  const env: Record<string, string> = {};
  if (hardware.vendor === "nvidia") {
    // nvidia-smi numbers by PCI bus id; CUDA's default order is "fastest first". Make them agree.
    env.CUDA_DEVICE_ORDER = "PCI_BUS_ID";
    env.CUDA_VISIBLE_DEVICES = device;
  }
  if (hardware.vendor === "amd") {
    env.ROCR_VISIBLE_DEVICES = device;
    env.HIP_VISIBLE_DEVICES = "0";
  }
  env.GGML_VK_VISIBLE_DEVICES = device;
  return env;
}
