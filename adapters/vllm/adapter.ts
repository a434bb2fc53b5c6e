/**
 * vLLM's OpenAI-compatible server (`vllm serve`). It binds its socket before building the engine but only
 * listens once the engine is up (vllm/entrypoints/openai/api_server.py `setup_server`, issue #8204), so a
 * start-up is minutes of refused connections, then `GET /health` 200; `/health` answers 503 when the engine is
 * dead (EngineDeadError). Ready also means `/v1/models` lists the served name: chat requests send it as
 * `model`, and vLLM answers 404 for any other. Throughput and load come from its Prometheus `/metrics`.
 */
import type { RuntimeSpec } from "../../base/spec.js";
import { bearerHeaders } from "../shared/auth.js";
import { localEndpoint } from "../shared/endpoint.js";
import { httpRequest } from "../shared/http.js";
import { getOptional, jsonCheck, probeGet, toProbeOutcome } from "../shared/probe.js";
import type { Adapter, LaunchPlan, ProbeOutcome } from "../types.js";
import { nodeOrBinary } from "../whisper-cpp/launch.js";
import { assertHfModelDir } from "./hf/model.js";
import { servedModelName, vllmArgs, vllmBinary, vllmEnv } from "./launch.js";
import { parseVllmMetrics } from "./metrics.js";

/** Loading a model, compiling CUDA graphs and profiling memory take minutes on a large model. */
export const VLLM_START_TIMEOUT_MS = 15 * 60_000;
/** The engine core and its workers are separate processes that free GPU memory on the way out. */
export const VLLM_STOP_GRACE_MS = 30_000;

function trimSlash(endpoint: string): string {
  return endpoint.replace(/\/+$/, "");
}

/** The ids `/v1/models` lists, or why the answer is not a model list. */
function modelIds(body: string): string[] | string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return "answer is not JSON";
  }
  const data = (value as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return "answer has no `data` list";
  return data.flatMap((m: unknown) => {
    const id = (m as { id?: unknown } | null)?.id;
    return typeof id === "string" ? [id] : [];
  });
}

/**
 * `/v1/models` must list `name`. A list without it is `wrong_backend`: the port is answered by a server that is
 * not the one rmxd launched there (another server holds it), which no retry fixes.
 */
async function probeServedName(
  base: string,
  spec: RuntimeSpec,
  timeoutMs: number,
  name: string,
): Promise<ProbeOutcome> {
  const url = `${base}/v1/models`;
  const result = await httpRequest(url, { method: "GET", timeoutMs, headers: bearerHeaders(spec) });
  let served: string[] = [];
  const outcome = toProbeOutcome(result, `GET ${url}`, (body) => {
    const ids = modelIds(body);
    if (typeof ids === "string") return ids;
    served = ids;
    return undefined;
  });
  if (outcome.kind !== "ok" || served.includes(name)) return outcome;
  return {
    kind: "wrong_backend",
    ms: outcome.ms,
    status: outcome.status,
    served,
    expected: name,
    message: `GET ${url} lists ${JSON.stringify(served)}, not "${name}", the --served-model-name rmxd launched vLLM with`,
  };
}

const completionHasText = jsonCheck((value) => {
  const choice = (value as { choices?: Array<{ text?: unknown }> } | null)?.choices?.[0];
  return typeof choice?.text === "string" ? undefined : "answer has no `choices[0].text` string";
});

export const vllmAdapter: Adapter = {
  kind: "vllm",
  spawns: true,
  capabilities: ["chat", "completion"],
  modelFormat: "hf-dir",
  protocol: "openai",
  scrapesLoad: true,
  multiGpu: true,
  defaults: { startTimeoutMs: VLLM_START_TIMEOUT_MS, stopGraceMs: VLLM_STOP_GRACE_MS },
  config: {
    requires: {
      model: "a models[].id or a path to a Hugging Face model directory (config.json + *.safetensors)",
    },
    accepts: ["api_key_env"],
  },
  binaryHint: (configKey) => `set VLLM_BIN or ${configKey}`,
  assertModel: assertHfModelDir,
  endpoint: (spec, port) => localEndpoint(spec, port),
  plan(spec, ctx) {
    const plan: LaunchPlan = {
      ...nodeOrBinary(vllmBinary(spec), vllmArgs(spec, ctx)),
      env: vllmEnv(spec, ctx),
    };
    if (spec.cwd !== undefined) plan.cwd = spec.cwd;
    return plan;
  },
  async probeHealth(endpoint, spec, timeoutMs, ctx) {
    const base = trimSlash(endpoint);
    const url = `${base}${spec.health.path || "/health"}`;
    // A 503 stays an http_error: in steady state it is vLLM's dead engine (a failure to count), and the
    // start-up poll retries it until start_timeout (an engine still coming up may answer it).
    const health = await probeGet(url, timeoutMs);
    if (health.kind !== "ok") return health;
    const served = await probeServedName(base, spec, timeoutMs, servedModelName(spec, ctx?.modelId));
    return served.kind === "ok" ? health : served;
  },
  async probeInference(endpoint, spec, timeoutMs, ctx): Promise<ProbeOutcome> {
    const url = `${trimSlash(endpoint)}/v1/completions`;
    const body = {
      model: servedModelName(spec, ctx?.modelId),
      prompt: spec.health.inference.prompt,
      max_tokens: 1,
    };
    const result = await httpRequest(url, { method: "POST", body, timeoutMs, headers: bearerHeaders(spec) });
    return toProbeOutcome(result, `POST ${url}`, completionHasText);
  },
  async scrapeMetrics(endpoint, timeoutMs, spec) {
    const text = await getOptional(
      `${trimSlash(endpoint)}/metrics`,
      timeoutMs,
      spec ? bearerHeaders(spec) : {},
    );
    return text === undefined ? undefined : parseVllmMetrics(text);
  },
  async scrapeSlots() {
    return undefined;
  },
  chatUrl(endpoint) {
    return `${trimSlash(endpoint)}/v1/chat/completions`;
  },
  authHeaders(spec) {
    return bearerHeaders(spec);
  },
};
