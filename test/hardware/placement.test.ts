import { describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import { hardwareIds, hardwareTarget } from "../../daemon/hardware/placement.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";

const inv: HardwareInventory = {
  generated: "2025-01-01T00:00:00.000Z",
  cpu: { id: "cpu", model: "x", cores: 8, arch: "x64" },
  memory: { total_bytes: 16 * 1024 ** 3 },
  os: { platform: "linux", hostname: "h" },
  gpus: [
    { id: "gpu:0", index: 0, vendor: "nvidia", model: "RTX", source: "nvidia-smi", status: "ok" },
    { id: "gpu:1", index: 0, vendor: "amd", model: "Radeon", source: "sysfs", status: "ok" },
  ],
  notes: [],
};

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isRmxError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected an RmxError");
}

describe("hardwareTarget", () => {
  it("resolves cpu and each GPU with its vendor-local index", () => {
    expect(hardwareTarget("cpu", inv)).toEqual({ id: "cpu", kind: "cpu" });
    expect(hardwareTarget("gpu:0", inv)).toEqual({ id: "gpu:0", kind: "gpu", index: 0, vendor: "nvidia" });
    expect(hardwareTarget("gpu:1", inv)).toEqual({ id: "gpu:1", kind: "gpu", index: 0, vendor: "amd" });
    expect(hardwareIds(inv)).toEqual(["cpu", "gpu:0", "gpu:1"]);
  });

  it("an absent GPU is HARDWARE_UNKNOWN naming what the machine has", () => {
    expect(errorOf(() => hardwareTarget("gpu:7", inv))).toEqual({
      code: "HARDWARE_UNKNOWN",
      message: "hardware gpu:7 not found; this machine has: cpu, gpu:0, gpu:1",
    });
    const cpuOnly = { ...inv, gpus: [] };
    expect(errorOf(() => hardwareTarget("gpu:0", cpuOnly)).message).toBe(
      "hardware gpu:0 not found; this machine has: cpu",
    );
  });

  it("a malformed id is HARDWARE_UNKNOWN too", () => {
    const err = errorOf(() => hardwareTarget("tpu", inv));
    expect(err.code).toBe("HARDWARE_UNKNOWN");
    expect(err.message).toBe(
      'hardware "tpu" is not a hardware id (expected cpu or gpu:N); this machine has: cpu, gpu:0, gpu:1',
    );
  });
});
