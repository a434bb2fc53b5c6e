/**
 * ONNX models over the KServe v2 / Triton HTTP protocol. By default rmxd launches its own model server
 * (server/main.js, on the optional onnxruntime-node) with the runtime's `.onnx` file; with `binary` set it
 * launches that program as Triton (`tritonserver`, triton.ts). Readiness is `GET /v2/health/ready` (503
 * until the session exists), the inference probe `GET /v2/models/{name}/ready`, load from Triton's
 * `nv_inference_*` metrics.
 */
import path from "node:path";
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { localEndpoint } from "../shared/endpoint.js";
import { gpuIndex, placementEnv } from "../shared/placement.js";
import { getOptional, probeGet } from "../shared/probe.js";
import type { Adapter, BackendMetrics, LaunchContext, LaunchPlan } from "../types.js";
import { parseTritonMetrics } from "./metrics.js";
import { defaultModelName } from "./server/options.js";
import { assertOnnxRuntimeInstalled, onnxServerEntry } from "./server-entry.js";
import { tritonArgs, tritonLayout, tritonMetricsPort } from "./triton.js";

function trimSlash(endpoint: string): string {
  return endpoint.replace(/\/+$/, "");
}

/** Triton when a binary is given; rmxd's own server otherwise. */
export function isTriton(spec: Pick<RuntimeSpec, "binary">): boolean {
  return spec.binary !== undefined;
}

/**
 * The name the model has on the KServe routes, from the configured `model` (a path is absolute after config
 * load): Triton's model directory (REPO/NAME/VERSION/model.onnx); else the file name without `.onnx`, or the
 * catalog id — the matrix's model id for the same runtime (daemon/matrix/keys.ts).
 */
export function kserveModelName(spec: Pick<RuntimeSpec, "binary" | "model">): string {
  if (spec.model === undefined) return "model";
  return isTriton(spec) ? tritonLayout(spec.model).name : defaultModelName(path.basename(spec.model));
}

function needModel(spec: RuntimeSpec, ctx: LaunchContext): string {
  if (ctx.modelPath === undefined)
    throw new RmxError(
      "CONFIG_INVALID",
      `runtime "${spec.id}": adapter onnxruntime needs a model (a .onnx file)`,
      {
        runtime: spec.id,
        field: "model",
      },
    );
  return ctx.modelPath;
}

/** rmxd's server: `--provider cuda --device-id N` on gpu:N (0 when CUDA_VISIBLE_DEVICES already narrows to it). */
function serverPlan(spec: RuntimeSpec, ctx: LaunchContext, env: Record<string, string>): LaunchPlan {
  const model = needModel(spec, ctx);
  const entry = onnxServerEntry();
  assertOnnxRuntimeInstalled(spec.id, entry);
  const args = [entry, "--model", model, "--host", ctx.host, "--port", String(ctx.port)];
  args.push("--model-name", kserveModelName(spec));
  if (ctx.hardware.kind === "gpu") {
    const index = gpuIndex(ctx.hardware);
    const narrowed = env.CUDA_VISIBLE_DEVICES === String(index);
    args.push("--provider", "cuda", "--device-id", String(narrowed ? 0 : index));
  } else args.push("--provider", "cpu");
  return { command: process.execPath, args: [...args, ...spec.args], env };
}

export const onnxRuntimeAdapter: Adapter = {
  kind: "onnxruntime",
  spawns: true,
  capabilities: ["infer"],
  modelFormat: "onnx",
  protocol: "kserve-v2",
  scrapesLoad: true,
  config: {
    requires: { model: "a models[].id or a path to a .onnx file (Triton: REPO/NAME/VERSION/model.onnx)" },
    accepts: [],
  },
  binaryHint: (configKey) =>
    `${configKey} is Triton's tritonserver; leave it out to run rmxd's own ONNX server`,
  endpoint: (spec, port) => localEndpoint(spec, port),
  plan(spec, ctx) {
    const env = { ...placementEnv(ctx.hardware), ...spec.env };
    const plan: LaunchPlan = isTriton(spec)
      ? {
          command: spec.binary as string,
          args: tritonArgs(spec, needModel(spec, ctx), ctx.host, ctx.port),
          env,
        }
      : serverPlan(spec, ctx, env);
    if (spec.cwd !== undefined) plan.cwd = spec.cwd;
    return plan;
  },
  probeHealth(endpoint, _spec, timeoutMs) {
    return probeGet(`${trimSlash(endpoint)}/v2/health/ready`, timeoutMs);
  },
  probeInference(endpoint, spec, timeoutMs) {
    return probeGet(
      `${trimSlash(endpoint)}/v2/models/${encodeURIComponent(kserveModelName(spec))}/ready`,
      timeoutMs,
    );
  },
  async scrapeMetrics(endpoint, timeoutMs, spec): Promise<BackendMetrics | undefined> {
    let base = trimSlash(endpoint);
    if (spec !== undefined && isTriton(spec)) {
      const port = tritonMetricsPort(spec.args);
      if (port === undefined) return undefined;
      base = `http://${spec.host}:${port}`;
    }
    const text = await getOptional(`${base}/metrics`, timeoutMs);
    return text === undefined ? undefined : parseTritonMetrics(text);
  },
  async scrapeSlots() {
    return undefined;
  },
  chatUrl(endpoint) {
    return `${trimSlash(endpoint)}/v2/models`;
  },
  authHeaders() {
    return {};
  },
};
