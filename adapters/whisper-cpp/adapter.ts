/**
 * whisper.cpp's `whisper-server` (facts recorded from a real build in test/fixtures/whisper-server/): it loads
 * the model before it binds, so start-up is refused connections then `GET /health` 200 (no 503 phase); errors
 * are mostly 200 with `{"error":…}`, so the inference probe reads the body; it has no `/metrics`, so throughput
 * comes from the transcriptions rmxd routed (recorder.ts).
 */
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { localEndpoint } from "../shared/endpoint.js";
import { httpRequest } from "../shared/http.js";
import { placementEnv } from "../shared/placement.js";
import { jsonCheck, toProbeOutcome } from "../shared/probe.js";
import type { Adapter, LaunchContext, LaunchPlan, ProbeOutcome } from "../types.js";
import { checkWhisperArgs } from "./flags.js";
import { nodeOrBinary } from "./launch.js";
import { buildMultipart } from "./multipart.js";
import { transcriptions } from "./recorder.js";
import { PROBE_WAV } from "./wav.js";

export const INFERENCE_PATH = "/inference";

function trimSlash(endpoint: string): string {
  return endpoint.replace(/\/+$/, "");
}

export function whisperServerBinary(spec: RuntimeSpec): string {
  return spec.binary ?? process.env.WHISPER_SERVER_BIN ?? "whisper-server";
}

/** `-m MODEL --host H --port P`, `-t` threads, `--no-gpu` on cpu (a CUDA build would take a GPU), then `args`. */
export function whisperServerArgs(spec: RuntimeSpec, ctx: LaunchContext): string[] {
  if (ctx.modelPath === undefined) {
    throw new RmxError(
      "CONFIG_INVALID",
      `runtime "${spec.id}": adapter whisper.cpp needs a model (a GGML .bin file)`,
      {
        runtime: spec.id,
        field: "model",
      },
    );
  }
  checkWhisperArgs(spec, spec.args);
  const args = ["-m", ctx.modelPath, "--host", ctx.host, "--port", String(ctx.port)];
  if (spec.threads !== undefined) args.push("-t", String(spec.threads));
  if (ctx.hardware.kind === "cpu") args.push("--no-gpu");
  args.push(...spec.args);
  return args;
}

const healthOk = jsonCheck((value) =>
  (value as { status?: unknown } | null)?.status === "ok" ? undefined : 'answer is not {"status":"ok"}',
);

/** whisper-server reports most failures as 200 `{"error": …}`: only a `text` string is a transcription. */
export const transcriptionOk = jsonCheck((value) => {
  const v = value as { text?: unknown; error?: unknown } | null;
  if (typeof v?.error === "string") return `whisper-server said: ${v.error}`;
  return typeof v?.text === "string" ? undefined : "answer has no `text` string";
});

export const whisperCppAdapter: Adapter = {
  kind: "whisper.cpp",
  spawns: true,
  capabilities: ["transcription"],
  modelFormat: "whisper-ggml",
  protocol: "whisper-inference",
  // No /metrics or /slots; scrapeMetrics reads the counters of the transcriptions rmxd routed (recorder.ts).
  scrapesLoad: true,
  config: {
    requires: { model: "a models[].id or a path to a whisper GGML .bin file" },
    accepts: ["threads"],
  },
  binaryHint: (configKey) => `set WHISPER_SERVER_BIN or ${configKey}`,
  endpoint: (spec, port) => localEndpoint(spec, port),
  plan(spec, ctx) {
    const plan: LaunchPlan = {
      ...nodeOrBinary(whisperServerBinary(spec), whisperServerArgs(spec, ctx)),
      env: { ...placementEnv(ctx.hardware), ...spec.env },
    };
    if (spec.cwd !== undefined) plan.cwd = spec.cwd;
    return plan;
  },
  async probeHealth(endpoint, spec, timeoutMs) {
    const url = `${trimSlash(endpoint)}${spec.health.path || "/health"}`;
    const result = await httpRequest(url, { method: "GET", timeoutMs });
    return toProbeOutcome(result, `GET ${url}`, healthOk);
  },
  async probeInference(endpoint, _spec, timeoutMs): Promise<ProbeOutcome> {
    const url = `${trimSlash(endpoint)}${INFERENCE_PATH}`;
    const form = buildMultipart([
      { name: "file", filename: "probe.wav", data: PROBE_WAV, contentType: "audio/wav" },
      { name: "response_format", value: "json" },
    ]);
    const result = await httpRequest(url, {
      method: "POST",
      body: form.body,
      headers: { "content-type": form.contentType },
      timeoutMs,
    });
    return toProbeOutcome(result, `POST ${url}`, transcriptionOk);
  },
  async scrapeMetrics(endpoint) {
    return transcriptions.metrics(trimSlash(endpoint));
  },
  async scrapeSlots() {
    return undefined;
  },
  chatUrl(endpoint) {
    return `${trimSlash(endpoint)}${INFERENCE_PATH}`;
  },
  authHeaders() {
    return {};
  },
};
