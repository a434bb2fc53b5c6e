import { RmxError } from "../../base/errors.js";
import type { AdapterKind, RuntimeSpec } from "../../base/spec.js";
import { backendKeyEnv, bearerHeaders } from "../shared/auth.js";
import { localEndpoint } from "../shared/endpoint.js";
import { httpRequest } from "../shared/http.js";
import { parseLlamaMetrics } from "../shared/metrics.js";
import { placementEnv } from "../shared/placement.js";
import { getOptional, jsonCheck, probeGet, toProbeOutcome } from "../shared/probe.js";
import type { Adapter, LaunchContext, LaunchPlan, ProbeOutcome, SlotInfo } from "../types.js";

const DEFAULT_GPU_LAYERS = 999;

function trimSlash(endpoint: string): string {
  return endpoint.replace(/\/+$/, "");
}

function requireInteger(spec: RuntimeSpec, field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RmxError(
      "CONFIG_INVALID",
      `runtime "${spec.id}": ${field} must be an integer from ${min} to ${max}, got ${value}`,
      { runtime: spec.id, field },
    );
  }
}

/** llama-server's command line: placement and supervision flags first, the user's `spec.args` last so they win. */
export function llamaServerArgs(spec: RuntimeSpec, ctx: LaunchContext): string[] {
  requireInteger(spec, "port", ctx.port, 1, 65535);
  const args: string[] = [];
  if (ctx.modelPath !== undefined) args.push("-m", ctx.modelPath);
  args.push("--host", ctx.host, "--port", String(ctx.port), "--metrics");
  // Always the context the memory estimate assumed: without -c b4748 allocates 4096 whatever the model says.
  const context = spec.context ?? ctx.context;
  if (context !== undefined) {
    requireInteger(spec, "context", context, 1, Number.MAX_SAFE_INTEGER);
    args.push("-c", String(context));
  }
  if (spec.slots !== undefined) {
    requireInteger(spec, "slots", spec.slots, 1, 4096);
    args.push("-np", String(spec.slots));
  }
  const layers = ctx.hardware.kind === "gpu" ? (spec.gpu_layers ?? DEFAULT_GPU_LAYERS) : 0;
  requireInteger(spec, "gpu_layers", layers, 0, Number.MAX_SAFE_INTEGER);
  args.push("-ngl", String(layers));
  args.push(...spec.args);
  return args;
}

/**
 * Placement environment, the key of `api_key_env` as `LLAMA_API_KEY` (llama-server reads it there, so it
 * never shows on the command line `ps` prints), then the user's `spec.env` (the user wins). Throws
 * CONFIG_INVALID when `api_key_env` names a variable rmxd does not have: the backend would run open.
 */
export function llamaServerEnv(spec: RuntimeSpec, ctx: LaunchContext): Record<string, string> {
  const env: Record<string, string> = { ...placementEnv(ctx.hardware) };
  Object.assign(env, backendKeyEnv(spec, "LLAMA_API_KEY"));
  return { ...env, ...spec.env };
}

export function llamaServerBinary(spec: RuntimeSpec): string {
  return spec.binary ?? process.env.LLAMA_SERVER_BIN ?? "llama-server";
}

function parseSlots(body: string, url: string): SlotInfo[] {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new RmxError("BACKEND_FAILED", `GET ${url} answered with something that is not JSON`, { url });
  }
  if (!Array.isArray(value)) {
    throw new RmxError("BACKEND_FAILED", `GET ${url} answered with JSON that is not an array of slots`, {
      url,
    });
  }
  return value.flatMap((entry: unknown): SlotInfo[] => {
    if (typeof entry !== "object" || entry === null) return [];
    const { id, n_ctx, is_processing } = entry as Record<string, unknown>;
    if (typeof id !== "number") return [];
    const slot: SlotInfo = { id, is_processing: is_processing === true };
    if (typeof n_ctx === "number") slot.n_ctx = n_ctx;
    return [slot];
  });
}

const completionHasContent = jsonCheck((value) =>
  typeof (value as { content?: unknown } | null)?.content === "string"
    ? undefined
    : "answer has no `content` string",
);

/**
 * An adapter for anything that speaks llama-server's HTTP API. `launch` turns llama-server's
 * arguments into the actual command (the real binary, or node running the stub).
 */
export function createLlamaFamilyAdapter(
  kind: AdapterKind,
  launch: (spec: RuntimeSpec, ctx: LaunchContext, args: string[]) => Pick<LaunchPlan, "command" | "args">,
  traits: Pick<Adapter, "config" | "binaryHint">,
): Adapter {
  return {
    kind,
    spawns: true,
    capabilities: ["chat", "completion", "embeddings"],
    modelFormat: "gguf",
    protocol: "openai",
    scrapesLoad: true,
    ...traits,
    endpoint: (spec, port) => localEndpoint(spec, port),
    plan(spec, ctx) {
      const plan: LaunchPlan = {
        ...launch(spec, ctx, llamaServerArgs(spec, ctx)),
        env: llamaServerEnv(spec, ctx),
      };
      if (spec.cwd !== undefined) plan.cwd = spec.cwd;
      return plan;
    },
    async probeHealth(endpoint, spec, timeoutMs) {
      const base = trimSlash(endpoint);
      const headers = bearerHeaders(spec);
      const health = await probeGet(`${base}${spec.health.path || "/health"}`, timeoutMs, headers);
      // /health is public in llama-server: with a key, also ask a route that checks it, so a wrong key
      // shows at the next probe rather than only on the first chat.
      if (health.kind !== "ok" || spec.api_key_env === undefined) return health;
      const check = await probeGet(`${base}/props`, timeoutMs, headers);
      return check.kind === "auth" ? check : health;
    },
    async probeInference(endpoint, spec, timeoutMs): Promise<ProbeOutcome> {
      const url = `${trimSlash(endpoint)}/completion`;
      const body = { prompt: spec.health.inference.prompt, n_predict: 1 };
      const result = await httpRequest(url, {
        method: "POST",
        body,
        timeoutMs,
        headers: bearerHeaders(spec),
      });
      return toProbeOutcome(result, `POST ${url}`, completionHasContent);
    },
    async scrapeMetrics(endpoint, timeoutMs, spec) {
      const headers = spec ? bearerHeaders(spec) : {};
      const text = await getOptional(`${trimSlash(endpoint)}/metrics`, timeoutMs, headers);
      return text === undefined ? undefined : parseLlamaMetrics(text);
    },
    async scrapeSlots(endpoint, timeoutMs, spec) {
      const url = `${trimSlash(endpoint)}/slots`;
      const text = await getOptional(url, timeoutMs, spec ? bearerHeaders(spec) : {});
      return text === undefined ? undefined : parseSlots(text, url);
    },
    chatUrl(endpoint) {
      return `${trimSlash(endpoint)}/v1/chat/completions`;
    },
    authHeaders(spec) {
      return bearerHeaders(spec);
    },
  };
}

export const llamaCppAdapter: Adapter = createLlamaFamilyAdapter(
  "llama.cpp",
  (spec, _ctx, args) => ({ command: llamaServerBinary(spec), args }),
  {
    config: { requires: { model: "a models[].id or a path to a GGUF file" }, accepts: ["api_key_env"] },
    binaryHint: (configKey) => `set LLAMA_SERVER_BIN or ${configKey}`,
  },
);
