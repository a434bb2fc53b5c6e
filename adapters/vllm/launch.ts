/**
 * `vllm serve`'s command line and environment. rmxd owns the address (`--host`, `--port`) and the name the
 * model is served under (`--served-model-name`, the matrix's model id, which chat requests send as `model`);
 * the hardware id decides the devices (`CUDA_VISIBLE_DEVICES`) and the tensor-parallel size (one per GPU).
 */
import path from "node:path";
import { RmxError } from "../../base/errors.js";
import { looksLikePath } from "../../base/model-ref.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { backendKeyEnv } from "../shared/auth.js";
import { gpuIndex } from "../shared/placement.js";
import type { HardwareTarget, LaunchContext } from "../types.js";

/** vLLM's own default, passed explicitly so the launch line says what the GPU is asked for; `args` may override it. */
export const DEFAULT_GPU_MEMORY_UTILIZATION = 0.9;

/** Flags rmxd sets itself: a second value in `args` would silently move the port or rename the model. */
const OWNED_FLAGS = new Set(["--host", "--port", "--served-model-name", "--tensor-parallel-size", "-tp"]);

export function vllmBinary(spec: RuntimeSpec): string {
  return spec.binary ?? process.env.VLLM_BIN ?? "vllm";
}

/**
 * The name the runtime's model is served under: the matrix's model id for it (daemon/matrix/keys.ts
 * `modelIdOf`), which the supervisor passes as `modelId` (a catalog entry's id also when `model` is its path,
 * so chat's `model: <id>` is served). Without it: a models[].id as it is, a path's last component.
 */
export function servedModelName(spec: RuntimeSpec, modelId?: string): string {
  if (modelId !== undefined && modelId !== "") return modelId;
  const model = spec.model ?? spec.id;
  return looksLikePath(model) ? path.basename(model).replace(/\.gguf$/i, "") : model;
}

/** The GPUs' device indices, in the order listed. */
function devices(hardware: HardwareTarget): number[] {
  return hardware.indices ?? [gpuIndex(hardware)];
}

function refuseOwnedFlags(spec: RuntimeSpec): void {
  for (const arg of spec.args) {
    const flag = arg.split("=")[0] as string;
    if (OWNED_FLAGS.has(flag)) {
      throw new RmxError(
        "CONFIG_INVALID",
        `runtime "${spec.id}": args has "${arg}", which rmxd sets itself for adapter vllm ` +
          "(host and port from the runtime, the served name from its model, the tensor-parallel size from hardware: gpu:0,1); remove it",
        { runtime: spec.id, field: "args", value: arg },
      );
    }
  }
}

/** `serve MODEL --host H --port P --served-model-name NAME [--max-model-len C] [GPU flags]`, then `args`. */
export function vllmArgs(spec: RuntimeSpec, ctx: LaunchContext): string[] {
  if (ctx.modelPath === undefined) {
    throw new RmxError(
      "CONFIG_INVALID",
      `runtime "${spec.id}": adapter vllm needs a model (a Hugging Face model directory with config.json)`,
      { runtime: spec.id, field: "model" },
    );
  }
  refuseOwnedFlags(spec);
  const args = ["serve", ctx.modelPath, "--host", ctx.host, "--port", String(ctx.port)];
  args.push("--served-model-name", servedModelName(spec, ctx.modelId));
  const context = spec.context ?? ctx.context;
  if (context !== undefined) args.push("--max-model-len", String(context));
  if (ctx.hardware.kind === "gpu") {
    args.push("--gpu-memory-utilization", String(DEFAULT_GPU_MEMORY_UTILIZATION));
    args.push("--tensor-parallel-size", String(devices(ctx.hardware).length));
  }
  args.push(...spec.args);
  return args;
}

/**
 * Devices: `cpu` hides every CUDA device (vLLM's CPU backend is a separate build, see docs/backends.md); a GPU
 * or a list sets CUDA_VISIBLE_DEVICES to the indices (AMD: ROCR filters, HIP then counts from 0). The key of
 * `api_key_env` goes in VLLM_API_KEY (vLLM reads it there, so it is not on the command line); `env` wins.
 */
export function vllmEnv(spec: RuntimeSpec, ctx: LaunchContext): Record<string, string> {
  const env: Record<string, string> = {};
  if (ctx.hardware.kind === "cpu") env.CUDA_VISIBLE_DEVICES = "";
  else {
    const list = devices(ctx.hardware);
    if (ctx.hardware.vendor === "amd") {
      env.ROCR_VISIBLE_DEVICES = list.join(",");
      env.HIP_VISIBLE_DEVICES = list.map((_, i) => i).join(",");
    } else {
      // nvidia-smi numbers by PCI bus id; CUDA's default order is "fastest first". Make them agree.
      if (ctx.hardware.vendor === "nvidia") env.CUDA_DEVICE_ORDER = "PCI_BUS_ID";
      env.CUDA_VISIBLE_DEVICES = list.join(",");
    }
  }
  Object.assign(env, backendKeyEnv(spec, "VLLM_API_KEY"));
  return { ...env, ...spec.env };
}
