import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { localEndpoint } from "../shared/endpoint.js";
import { parseLlamaMetrics } from "../shared/metrics.js";
import { placementEnv } from "../shared/placement.js";
import { getOptional, probeGet } from "../shared/probe.js";
import type { Adapter, LaunchContext, LaunchPlan } from "../types.js";

function trimSlash(endpoint: string): string {
  return endpoint.replace(/\/+$/, "");
}

/** Replaces `{port}`, `{host}` and `{model}` in one argument; `{model}` without a model is a config error. */
export function substitutePlaceholders(arg: string, spec: RuntimeSpec, ctx: LaunchContext): string {
  return arg.replace(/\{(port|host|model)\}/g, (_match, name: string) => {
    if (name === "port") return String(ctx.port);
    if (name === "host") return ctx.host;
    if (ctx.modelPath === undefined) {
      throw new RmxError(
        "CONFIG_INVALID",
        `runtime "${spec.id}": args use {model} but the runtime has no model`,
        {
          runtime: spec.id,
        },
      );
    }
    return ctx.modelPath;
  });
}

/** Any other HTTP backend: the user's binary and args, told its port by placeholder and `PORT`. */
export const commandAdapter: Adapter = {
  kind: "command",
  spawns: true,
  // It speaks the OpenAI API: what it cannot serve it refuses itself (an embeddings refusal lets the next cell try).
  capabilities: ["chat", "completion", "embeddings"],
  // Its model (when set) is handled like llama.cpp's: a models[].id or a GGUF path rmxd reads.
  modelFormat: "gguf",
  protocol: "openai",
  scrapesLoad: false,
  config: { requires: { binary: "the executable to run" }, accepts: [] },
  binaryHint: (configKey) => `set ${configKey}`,
  endpoint: (spec, port) => localEndpoint(spec, port),
  plan(spec, ctx) {
    if (spec.binary === undefined || spec.binary === "") {
      throw new RmxError("CONFIG_INVALID", `runtime "${spec.id}": the command adapter needs a binary`, {
        runtime: spec.id,
        field: "binary",
      });
    }
    const plan: LaunchPlan = {
      command: spec.binary,
      args: spec.args.map((arg) => substitutePlaceholders(arg, spec, ctx)),
      env: { ...placementEnv(ctx.hardware), PORT: String(ctx.port), ...spec.env },
    };
    if (spec.cwd !== undefined) plan.cwd = spec.cwd;
    return plan;
  },
  probeHealth(endpoint, spec, timeoutMs) {
    return probeGet(`${trimSlash(endpoint)}${spec.health.path}`, timeoutMs);
  },
  async probeInference() {
    return { kind: "error", ms: 0, message: "inference probe not supported by the command adapter" };
  },
  async scrapeMetrics(endpoint, timeoutMs) {
    const text = await getOptional(`${trimSlash(endpoint)}/metrics`, timeoutMs);
    return text === undefined ? undefined : parseLlamaMetrics(text);
  },
  async scrapeSlots() {
    return undefined;
  },
  chatUrl(endpoint) {
    return `${trimSlash(endpoint)}/v1/chat/completions`;
  },
  authHeaders() {
    return {};
  },
};
