import type { AdapterKind, RuntimeSpec } from "../base/spec.js";

export interface HardwareTarget {
  /** `cpu`, `gpu:N`, or a list `gpu:0,1` (adapters with `multiGpu` only). */
  id: string;
  kind: "cpu" | "gpu";
  /** Device index for `gpu:N` (the first of a list); required when `kind` is `gpu`. */
  index?: number;
  /** Every listed GPU's device index, in order; set for a list (`gpu:0,1`) only. */
  indices?: number[];
  vendor?: "nvidia" | "amd" | "apple" | "intel" | "unknown";
}

export interface LaunchPlan {
  command: string;
  args: string[];
  /** Variables to set on top of the daemon's own environment (an empty string hides an inherited value). */
  env: Record<string, string>;
  cwd?: string;
}

export interface LaunchContext {
  port: number;
  host: string;
  /** Resolved model file (a model id in the spec is resolved by the caller). */
  modelPath?: string;
  /** Context to launch with when the spec sets none: the model's training context, capped (the estimate's rule). */
  context?: number;
  hardware: HardwareTarget;
  /** Absolute path of `dist/adapters/llama-stub/main.js` (see `stubEntryPath()`). */
  stubEntry: string;
  /**
   * The matrix's model id for the runtime (daemon/matrix/keys.ts `modelIdOf`: a catalog entry's id also when
   * `model` is its path): the name clients send as `model`, so a backend that checks it serves under it.
   */
  modelId?: string;
}

/** What the supervisor knows of a runtime beyond its spec, for the probes: the name it launched it to serve. */
export interface ProbeContext {
  /** As in LaunchContext: the matrix's model id for the runtime. */
  modelId?: string;
}

export type ProbeOutcome =
  | { kind: "ok"; ms: number; status: number }
  /** 503 "Loading model". A refused connection is reported as `refused`: only the caller knows it is starting. */
  | { kind: "loading"; ms: number; status?: number; message: string }
  /** 401/403: the backend is up and refuses our key. Never a reason to restart it (the key is the problem). */
  | { kind: "auth"; ms: number; status: number; message: string }
  | { kind: "refused" | "timeout" | "http_error" | "error"; ms: number; status?: number; message: string }
  /**
   * The port answers, but not as the backend rmxd launched there: it serves `served`, not `expected` (another
   * server holds the port). At start-up a definite failure that will not fix itself; in steady state a failure.
   */
  | {
      kind: "wrong_backend";
      ms: number;
      status: number;
      message: string;
      served: string[];
      expected: string;
    };

/** llama-server's `/metrics`, by name; a field is absent when the build does not report it or it is not finite. */
export interface LlamaMetrics {
  prompt_tokens_total?: number;
  prompt_seconds_total?: number;
  tokens_predicted_total?: number;
  tokens_predicted_seconds_total?: number;
  n_decode_total?: number;
  n_busy_slots_per_decode?: number;
  prompt_tokens_seconds?: number;
  predicted_tokens_seconds?: number;
  kv_cache_usage_ratio?: number;
  kv_cache_tokens?: number;
  requests_processing?: number;
  requests_deferred?: number;
  n_tokens_max?: number;
  prompt_tokens_cached_total?: number;
}

/**
 * A backend's counters: llama-server's `/metrics` fields, plus what they cannot say. whisper.cpp has no
 * `/metrics`; its adapter reports the transcriptions rmxd routed (audio seconds transcribed and the wall time
 * those requests took), which the matrix turns into audio seconds per second.
 */
export interface BackendMetrics extends LlamaMetrics {
  audio_seconds_total?: number;
  audio_busy_seconds_total?: number;
  /** onnxruntime / Triton: successful inference requests, failed ones, and the seconds the successes took. */
  inference_requests_total?: number;
  inference_failures_total?: number;
  inference_busy_seconds_total?: number;
}

/** One entry of llama-server's `/slots`. */
export interface SlotInfo {
  id: number;
  n_ctx?: number;
  is_processing: boolean;
}

/** What a backend serves. Declared per adapter; requests name one (leases' `capability`, future routing). */
export const CAPABILITIES = ["chat", "completion", "embeddings", "transcription", "infer"] as const;
export type Capability = (typeof CAPABILITIES)[number];

/**
 * What a runtime's `model` is. `gguf`: a file rmxd reads (header facts, memory estimate, fit, parameter
 * cache); `whisper-ggml`: whisper.cpp's GGML `.bin` (header facts, estimate, fit); `hf-dir`: a Hugging Face
 * model directory (config.json + safetensors headers: facts, estimate, fit); `onnx`: an ONNX ModelProto
 * (graph facts, weights, estimate, fit); `name`: a name the endpoint serves, never read (remote).
 */
export type ModelFormat = "gguf" | "whisper-ggml" | "hf-dir" | "onnx" | "name";

/** Start-up and stop timings a backend needs beyond the built-in defaults (vLLM loads for minutes). */
export interface AdapterDefaults {
  startTimeoutMs?: number;
  stopGraceMs?: number;
}

/** Runtime config keys an adapter may need or accept beyond the common ones. */
export type AdapterKey = "model" | "binary" | "url" | "api_key_env" | "threads";

/** The per-adapter config rules config/ checks: keys it needs (with what to put there) and keys only it accepts. */
export interface AdapterConfigRules {
  requires: Partial<Record<AdapterKey, string>>;
  /** Keys that apply to this adapter only (`url` for remote); any other adapter setting them is an error. */
  accepts: readonly AdapterKey[];
}

/**
 * One backend: what it can do (the traits below, read by daemon/ instead of testing adapter names) and how
 * (launch plan, probes, scrapes, request URL and headers). A new backend is a folder under adapters/ plus
 * one line in adapters/registry.ts.
 */
export interface Adapter {
  readonly kind: AdapterKind;
  /** `false` for `remote`: nothing to launch, only an endpoint to watch; its cell has no hardware or sandbox. */
  readonly spawns: boolean;
  readonly capabilities: readonly Capability[];
  readonly modelFormat: ModelFormat;
  /**
   * The request protocol rmxd speaks to it: `openai` (adapters/shared/openai-client.ts), or whisper-server's
   * multipart `/inference` upload (adapters/whisper-cpp/transcribe-backend.ts), or KServe v2 tensors
   * (`POST /v2/models/{name}/infer`, adapters/onnxruntime/infer-backend.ts).
   */
  readonly protocol: "openai" | "whisper-inference" | "kserve-v2";
  /** The matrix scrapes `/metrics` and `/slots` (llama-server's) of its live runtimes each tick. */
  readonly scrapesLoad: boolean;
  readonly config: AdapterConfigRules;
  /** May run on a list of GPUs (`hardware: gpu:0,1`); any other adapter given a list is a config error. */
  readonly multiGpu?: boolean;
  /** Defaults of its own over the built-in ones (a config's `defaults:` and the runtime's own keys still win). */
  readonly defaults?: AdapterDefaults;
  /** Checks the resolved model before launch (throws MODEL_MISSING/MODEL_INVALID); default: a readable file. */
  assertModel?(modelPath: string): Promise<void>;
  /** What a user can set when the binary is not found (`configKey` is e.g. `runtimes[0].binary`), if anything. */
  binaryHint(configKey: string): string | undefined;
  /** Base URL rmxd talks to: a remote's `url`, else `http://host:port` once a port is known. */
  endpoint(spec: RuntimeSpec, port: number | undefined): string | undefined;
  /** Throws RmxError (CONFIG_INVALID, HARDWARE_UNKNOWN) for a spec it cannot launch. */
  plan(spec: RuntimeSpec, ctx: LaunchContext): LaunchPlan;
  probeHealth(
    endpoint: string,
    spec: RuntimeSpec,
    timeoutMs: number,
    ctx?: ProbeContext,
  ): Promise<ProbeOutcome>;
  probeInference(
    endpoint: string,
    spec: RuntimeSpec,
    timeoutMs: number,
    ctx?: ProbeContext,
  ): Promise<ProbeOutcome>;
  /**
   * `undefined` when the backend does not serve metrics (501/404); throws RmxError otherwise (BACKEND_FAILED
   * with `data.status` 401/403 when it refuses our key). `spec` gives the key to send.
   */
  scrapeMetrics(endpoint: string, timeoutMs: number, spec?: RuntimeSpec): Promise<BackendMetrics | undefined>;
  /** `undefined` when the backend does not serve slots (501 is not an error); throws RmxError otherwise. */
  scrapeSlots(endpoint: string, timeoutMs: number, spec?: RuntimeSpec): Promise<SlotInfo[] | undefined>;
  chatUrl(endpoint: string): string;
  /** Never log the result: it may carry a secret. */
  authHeaders(spec: RuntimeSpec): Record<string, string>;
}
