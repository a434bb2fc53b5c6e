/**
 * The vLLM launch plan (`vllm serve` argv, devices, tensor parallelism), the GPU-list hardware id through
 * config, resolver and fit, and vLLM's own start/stop defaults.
 */
import { describe, expect, it } from "vitest";
import { gpuIndices } from "../../adapters/shared/placement.js";
import type { LaunchContext } from "../../adapters/types.js";
import { vllmAdapter } from "../../adapters/vllm/adapter.js";
import { isRmxError } from "../../base/errors.js";
import { parseConfigText } from "../../config/load.js";
import { hardwareTarget } from "../../daemon/hardware/placement.js";
import { fitForEstimate } from "../../daemon/matrix/compose.js";
import { runtimeCellKey } from "../../daemon/matrix/keys.js";
import { matchPin, parsePinPattern } from "../../daemon/policy/pins.js";
import { QuickActions, type QuickActionsHost } from "../../daemon/policy/quick-actions.js";
import { acceleratorLabel } from "../../daemon/status/compose.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";

const GiB = 1024 ** 3;
const inv: HardwareInventory = {
  generated: "2025-01-01T00:00:00.000Z",
  cpu: { id: "cpu", model: "x", cores: 8, arch: "x64" },
  memory: { total_bytes: 64 * GiB },
  os: { platform: "linux", hostname: "h" },
  gpus: [
    {
      id: "gpu:0",
      index: 0,
      vendor: "nvidia",
      model: "A",
      source: "nvidia-smi",
      status: "ok",
      vram_bytes: 24 * GiB,
    },
    {
      id: "gpu:1",
      index: 1,
      vendor: "nvidia",
      model: "A",
      source: "nvidia-smi",
      status: "ok",
      vram_bytes: 24 * GiB,
    },
    { id: "gpu:2", index: 0, vendor: "amd", model: "R", source: "sysfs", status: "ok", vram_bytes: 16 * GiB },
  ],
  notes: [],
};

const spec = (over: Partial<ReturnType<typeof defaultRuntimeSpec>> = {}) =>
  defaultRuntimeSpec("big", { adapter: "vllm", binary: "/opt/vllm", model: "/models/Qwen2.5-7B", ...over });
const ctx = (hardware: LaunchContext["hardware"]): LaunchContext => ({
  port: 8123,
  host: "127.0.0.1",
  modelPath: "/models/Qwen2.5-7B",
  hardware,
  stubEntry: "",
});

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isRmxError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected an RmxError");
}

describe("vllm plan", () => {
  it("serves the model directory under the matrix's model name, on rmxd's address, then args", () => {
    const plan = vllmAdapter.plan(
      spec({ context: 8192, args: ["--enforce-eager"] }),
      ctx(hardwareTarget("gpu:1", inv)),
    );
    expect(plan.command).toBe("/opt/vllm");
    expect(plan.args).toEqual([
      "serve",
      "/models/Qwen2.5-7B",
      "--host",
      "127.0.0.1",
      "--port",
      "8123",
      "--served-model-name",
      "Qwen2.5-7B",
      "--max-model-len",
      "8192",
      "--gpu-memory-utilization",
      "0.9",
      "--tensor-parallel-size",
      "1",
      "--enforce-eager",
    ]);
    expect(plan.env).toMatchObject({ CUDA_VISIBLE_DEVICES: "1", CUDA_DEVICE_ORDER: "PCI_BUS_ID" });
  });

  it("a models[].id is served under that id; no context leaves vLLM's own max-model-len", () => {
    const plan = vllmAdapter.plan(spec({ model: "qwen" }), ctx(hardwareTarget("gpu:0", inv)));
    expect(plan.args.slice(6, 8)).toEqual(["--served-model-name", "qwen"]);
    expect(plan.args).not.toContain("--max-model-len");
  });

  it("the launch context's modelId (the matrix's model id) is the served name, over the path's folder", () => {
    const plan = vllmAdapter.plan(spec({ model: "/models/Qwen2.5-0.5B" }), {
      ...ctx(hardwareTarget("gpu:0", inv)),
      modelId: "qwen-small",
    });
    expect(plan.args.slice(6, 8)).toEqual(["--served-model-name", "qwen-small"]);
  });

  it("a GPU list is tensor parallelism over exactly those devices", () => {
    const hw = hardwareTarget("gpu:0,1", inv);
    expect(hw).toEqual({ id: "gpu:0,1", kind: "gpu", index: 0, indices: [0, 1], vendor: "nvidia" });
    const plan = vllmAdapter.plan(spec(), ctx(hw));
    expect(plan.args.slice(-2)).toEqual(["--tensor-parallel-size", "2"]);
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe("0,1");
  });

  it("cpu hides CUDA devices and asks no GPU memory (vLLM's CPU backend build)", () => {
    const plan = vllmAdapter.plan(spec(), ctx({ id: "cpu", kind: "cpu" }));
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe("");
    expect(plan.args).not.toContain("--gpu-memory-utilization");
    expect(plan.args).not.toContain("--tensor-parallel-size");
  });

  it("AMD: ROCR picks the device, HIP counts from 0", () => {
    const plan = vllmAdapter.plan(spec(), ctx(hardwareTarget("gpu:2", inv)));
    expect(plan.env).toMatchObject({ ROCR_VISIBLE_DEVICES: "0", HIP_VISIBLE_DEVICES: "0" });
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBeUndefined();
  });

  it("refuses args that would move rmxd's port or rename the model", () => {
    for (const arg of ["--port", "--served-model-name=x", "-tp"]) {
      const err = errorOf(() =>
        vllmAdapter.plan(spec({ args: [arg, "2"] }), ctx({ id: "cpu", kind: "cpu" })),
      );
      expect(err.code).toBe("CONFIG_INVALID");
      expect(err.message).toContain(`args has "${arg}"`);
    }
  });

  it("api_key_env goes to VLLM_API_KEY, never argv; binary defaults to VLLM_BIN, then vllm", () => {
    process.env.RMX_TEST_VLLM_KEY = "sekrit";
    try {
      const plan = vllmAdapter.plan(
        spec({ api_key_env: "RMX_TEST_VLLM_KEY" }),
        ctx({ id: "cpu", kind: "cpu" }),
      );
      expect(plan.env.VLLM_API_KEY).toBe("sekrit");
      expect(plan.args.join(" ")).not.toContain("sekrit");
    } finally {
      delete process.env.RMX_TEST_VLLM_KEY;
    }
    const { binary: _b, ...noBinary } = spec();
    const saved = process.env.VLLM_BIN;
    process.env.VLLM_BIN = "/usr/local/bin/vllm";
    expect(vllmAdapter.plan(noBinary, ctx({ id: "cpu", kind: "cpu" })).command).toBe("/usr/local/bin/vllm");
    delete process.env.VLLM_BIN;
    expect(vllmAdapter.plan(noBinary, ctx({ id: "cpu", kind: "cpu" })).command).toBe("vllm");
    if (saved !== undefined) process.env.VLLM_BIN = saved;
    expect(vllmAdapter.binaryHint("runtimes[0].binary")).toBe("set VLLM_BIN or runtimes[0].binary");
  });
});

describe("GPU lists", () => {
  it("gpuIndices names the gpu:N ids a hardware id covers", () => {
    expect(gpuIndices("gpu:0,1")).toEqual([0, 1]);
    expect(gpuIndices("gpu:3")).toEqual([3]);
    expect(gpuIndices("cpu")).toEqual([]);
    expect(gpuIndices("gpu:")).toEqual([]);
  });

  it("the resolver refuses a missing, repeated or mixed-vendor GPU", () => {
    expect(errorOf(() => hardwareTarget("gpu:0,7", inv))).toEqual({
      code: "HARDWARE_UNKNOWN",
      message: "hardware gpu:0,7: gpu:7 not found; this machine has: cpu, gpu:0, gpu:1, gpu:2",
    });
    expect(errorOf(() => hardwareTarget("gpu:1,1", inv)).message).toBe("hardware gpu:1,1 lists gpu:1 twice");
    expect(errorOf(() => hardwareTarget("gpu:1,2", inv)).message).toMatch(/mixes vendors/);
  });

  it("only vllm may name a list; others get CONFIG_INVALID naming the key and value", () => {
    const yaml = (adapter: string) =>
      `runtimes:\n  - id: r\n    adapter: ${adapter}\n    model: /m/x${adapter === "vllm" ? "" : ".gguf"}\n    hardware: gpu:0,1\n`;
    expect(parseConfigText(yaml("vllm"), "rmx.yaml", "/").runtimes[0]?.hardware).toBe("gpu:0,1");
    let message = "";
    try {
      parseConfigText(yaml("llama.cpp"), "rmx.yaml", "/");
    } catch (err) {
      if (isRmxError(err)) message = `${err.code}: ${err.message}`;
    }
    expect(message).toMatch(/^CONFIG_INVALID/);
    expect(message).toContain("runtimes[0].hardware");
    expect(message).toContain(
      'hardware "gpu:0,1" is a GPU list, which adapter llama.cpp cannot use (only vllm)',
    );
  });

  it("the list is the cell's hardware: its key, a pin on it, its accelerator label", () => {
    const key = runtimeCellKey(spec({ hardware: "gpu:0,1" }), () => undefined);
    expect(key).toBe("Qwen2.5-7B@gpu:0,1/none");
    const pin = parsePinPattern("Qwen2.5-7B@gpu:0,1/none");
    expect(matchPin(pin, { model: "Qwen2.5-7B", hardware: "gpu:0,1", sandbox: "none" })).toBe(true);
    expect(
      matchPin(parsePinPattern("Qwen2.5-7B@gpu:*"), {
        model: "Qwen2.5-7B",
        hardware: "gpu:0,1",
        sandbox: "none",
      }),
    ).toBe(true);
    expect(acceleratorLabel("gpu:0,1")).toBe("GPU");
  });

  it("the fit check counts the VRAM of every listed GPU", () => {
    const estimate = {
      weights_bytes: 30 * GiB,
      kv_cache_bytes: 0,
      overhead_bytes: 0,
      total_bytes: 30 * GiB,
      context: 4096,
      kv_known: true,
      explanation: "30 GiB",
    };
    expect(fitForEstimate(estimate, "gpu:0", { inventory: inv }).fits).toBe(false);
    const both = fitForEstimate(estimate, "gpu:0,1", { inventory: inv });
    expect(both.fits).toBe(true);
    expect(fitForEstimate(estimate, "gpu:0,5", { inventory: inv }).fits).toBe("unknown");
  });
});

describe("vllm defaults", () => {
  const yaml = (extra = "") =>
    `${extra}runtimes:\n  - id: v\n    adapter: vllm\n    model: /m/dir\n  - id: l\n    adapter: llama.cpp\n    model: /m/x.gguf\n`;

  it("a vllm runtime waits 15 min for start-up and gives 30 s to stop; other adapters keep the built-ins", () => {
    const [v, l] = parseConfigText(yaml(), "rmx.yaml", "/").runtimes;
    expect(v?.health.start_timeout_ms).toBe(15 * 60_000);
    expect(v?.stop.grace_ms).toBe(30_000);
    expect(l?.health.start_timeout_ms).toBe(120_000);
    expect(l?.stop.grace_ms).toBe(10_000);
  });

  it("the file's defaults: and the runtime's own keys still win over the adapter's", () => {
    const [v] = parseConfigText(
      yaml("defaults: { health: { start_timeout: 5m } }\n"),
      "rmx.yaml",
      "/",
    ).runtimes;
    expect(v?.health.start_timeout_ms).toBe(300_000);
    expect(v?.stop.grace_ms).toBe(30_000);
    const own = parseConfigText(
      "runtimes:\n  - id: v\n    adapter: vllm\n    model: /m/dir\n    stop: { grace: 2s }\n",
      "rmx.yaml",
      "/",
    ).runtimes[0];
    expect(own?.stop.grace_ms).toBe(2_000);
    expect(own?.health.start_timeout_ms).toBe(15 * 60_000);
  });
});

describe("runtime.switch to a GPU list", () => {
  const host = (adapter: "llama.cpp" | "vllm") => {
    const rt = { id: "r", state: "ready", spec: spec({ adapter, id: "r", hardware: "gpu:0" }) };
    return {
      runtimes: new Map([["r", rt]]),
      getRuntime: () => rt,
      resolveModelPath: (m: string | undefined) => m,
      resolveHardware: (id: string) => hardwareTarget(id, inv),
      inventory: () => inv,
      sandboxes: () => [],
    } as unknown as QuickActionsHost;
  };
  const logger = { info() {}, warn() {}, error() {} };

  it("is refused for an adapter without multiGpu, naming the value, before anything changes", async () => {
    const quick = new QuickActions(host("llama.cpp"), logger, () => {});
    await expect(quick.switchRuntime({ id: "r", hardware: "gpu:0,1" })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringMatching(/^hardware gpu:0,1 is a GPU list, which adapter llama\.cpp cannot use/),
    });
  });
});
