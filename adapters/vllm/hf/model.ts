/**
 * A Hugging Face model directory (what `vllm serve DIR` loads): `config.json` gives the architecture, the
 * `*.safetensors` headers (when present) the exact parameter count. Facts, a parameter estimate and a memory
 * estimate for the fit check; nothing here reads tensor data.
 */

import path from "node:path";
import { RmxError } from "../../../base/errors.js";
import { formatBytes } from "../../../base/format.js";
import { readdir, readFile, stat } from "../../../base/fs-async.js";
import type { MemoryEstimate } from "../../shared/gguf/estimate.js";
import { summarizeSafetensors } from "./safetensors.js";

export interface HfModelInfo {
  format: "hf-dir";
  path: string;
  architectures: string[];
  num_hidden_layers: number;
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  /** Grouped-query attention; `num_attention_heads` when config.json has none. */
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  max_position_embeddings: number;
  /** `torch_dtype` (or `dtype`, its newer name); `float32` when absent, as transformers assumes. */
  dtype: string;
  tie_word_embeddings: boolean;
  /** Exact from safetensors headers when there are any, else the llama-style formula (`parameterEstimate`). */
  parameter_count: number;
  parameter_source: "safetensors" | "config";
  /** The formula's figure, kept beside an exact count so the two can be compared. */
  parameter_estimate: number;
  safetensors_files: number;
  /** K and V of one token across every layer, at the KV dtype (vLLM's `--kv-cache-dtype auto` = the model's). */
  kv_bytes_per_token: number;
}

/** The architecture keys the formulas need; a config lacking one is MODEL_INVALID naming it. */
const REQUIRED = [
  "num_hidden_layers",
  "hidden_size",
  "intermediate_size",
  "num_attention_heads",
  "vocab_size",
  "max_position_embeddings",
] as const;

/**
 * Bytes per weight as vLLM runs them with `--dtype auto`: bf16 and fp16 as stored, fp32 checkpoints cast to
 * 16 bits (vLLM's documented `auto`: "FP16 precision for FP32 and FP16 models, BF16 precision for BF16 models").
 */
const RUNTIME_BYTES: Readonly<Record<string, number>> = {
  float16: 2,
  half: 2,
  bfloat16: 2,
  float32: 2,
  float: 2,
};

export type HfArchitecture = Pick<
  HfModelInfo,
  | "num_hidden_layers"
  | "hidden_size"
  | "intermediate_size"
  | "num_attention_heads"
  | "num_key_value_heads"
  | "head_dim"
  | "vocab_size"
  | "tie_word_embeddings"
>;

/**
 * Parameters of a llama-style decoder (embeddings, L × (attention + gated MLP + 2 norms), final norm, LM head):
 *   V·h + L·(h·(n_q·d) + 2·h·(n_kv·d) + (n_q·d)·h + 3·h·i + 2·h) + h + (tied ? 0 : V·h)
 * with V vocab, h hidden, L layers, i intermediate, d head_dim, n_q / n_kv attention / KV heads. Biases
 * (Qwen's QKV bias) and MoE experts are not counted: safetensors headers, when present, replace the figure.
 */
export function parameterEstimate(a: HfArchitecture): number {
  const h = a.hidden_size;
  const q = a.num_attention_heads * a.head_dim;
  const kv = a.num_key_value_heads * a.head_dim;
  const attention = h * q + 2 * h * kv + q * h;
  const mlp = 3 * h * a.intermediate_size;
  const perLayer = attention + mlp + 2 * h;
  const embeddings = a.vocab_size * h;
  return embeddings + a.num_hidden_layers * perLayer + h + (a.tie_word_embeddings ? 0 : embeddings);
}

/** K and V, every layer, one token: 2 × L × n_kv × d × bytes. */
export function kvBytesPerToken(
  a: Pick<HfModelInfo, "num_hidden_layers" | "num_key_value_heads" | "head_dim">,
  bytes: number,
): number {
  return 2 * a.num_hidden_layers * a.num_key_value_heads * a.head_dim * bytes;
}

function invalid(file: string, key: string, why: string): RmxError {
  return new RmxError("MODEL_INVALID", `${file}: ${key} ${why}`, { path: file, key });
}

function positiveInteger(config: Record<string, unknown>, key: string, file: string): number {
  const value = config[key];
  if (value === undefined) throw invalid(file, key, "is missing (a decoder's config.json has it)");
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(file, key, `must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks `dir` is a model directory vLLM can be pointed at: it exists and holds a config.json. */
export async function assertHfModelDir(dir: string): Promise<void> {
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    throw new RmxError("MODEL_MISSING", `model directory not found: ${dir} (${error.code})`, { path: dir });
  });
  if (!info.isDirectory()) {
    throw new RmxError(
      "MODEL_INVALID",
      `model ${dir} is not a directory: vllm serves a Hugging Face model directory (config.json + *.safetensors)`,
      { path: dir },
    );
  }
  const config = path.join(dir, "config.json");
  await stat(config).catch(() => {
    throw new RmxError("MODEL_INVALID", `${config} is missing: not a Hugging Face model directory`, {
      path: config,
    });
  });
}

async function readConfig(dir: string): Promise<{ file: string; config: Record<string, unknown> }> {
  await assertHfModelDir(dir);
  const file = path.join(dir, "config.json");
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new RmxError("MODEL_INVALID", `${file}: cannot read (${error.code})`, { path: file });
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RmxError("MODEL_INVALID", `${file}: not valid JSON (${(error as Error).message})`, {
      path: file,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RmxError("MODEL_INVALID", `${file}: not a JSON object`, { path: file });
  }
  return { file, config: value as Record<string, unknown> };
}

/** Reads a model directory's config.json and safetensors headers. Throws MODEL_MISSING / MODEL_INVALID. */
export async function readHfModel(dir: string): Promise<HfModelInfo> {
  const { file, config } = await readConfig(dir);
  const [layers, hidden, intermediate, heads, vocab, positions] = REQUIRED.map((key) =>
    positiveInteger(config, key, file),
  ) as [number, number, number, number, number, number];
  const kvHeads =
    config.num_key_value_heads === undefined ? heads : positiveInteger(config, "num_key_value_heads", file);
  const headDim = config.head_dim === undefined ? hidden / heads : positiveInteger(config, "head_dim", file);
  if (!Number.isInteger(headDim)) {
    throw invalid(file, "hidden_size", `(${hidden}) is not a multiple of num_attention_heads (${heads})`);
  }
  const dtypeValue = config.torch_dtype ?? config.dtype ?? "float32";
  if (typeof dtypeValue !== "string" || RUNTIME_BYTES[dtypeValue] === undefined) {
    throw invalid(
      file,
      config.torch_dtype !== undefined ? "torch_dtype" : "dtype",
      `${JSON.stringify(dtypeValue)} is not one of ${Object.keys(RUNTIME_BYTES).join(", ")}`,
    );
  }
  const architectures = Array.isArray(config.architectures)
    ? config.architectures.filter((a): a is string => typeof a === "string")
    : [];
  const arch: HfArchitecture = {
    num_hidden_layers: layers,
    hidden_size: hidden,
    intermediate_size: intermediate,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    vocab_size: vocab,
    tie_word_embeddings: config.tie_word_embeddings === true,
  };
  const estimate = parameterEstimate(arch);
  const shards = (await readdir(dir))
    .filter((name) => name.endsWith(".safetensors"))
    .sort()
    .map((name) => path.join(dir, name));
  const exact = shards.length > 0 ? await summarizeSafetensors(shards) : undefined;
  return {
    format: "hf-dir",
    path: dir,
    architectures,
    ...arch,
    max_position_embeddings: positions,
    dtype: dtypeValue,
    parameter_count: exact?.parameter_count ?? estimate,
    parameter_source: exact !== undefined ? "safetensors" : "config",
    parameter_estimate: estimate,
    safetensors_files: shards.length,
    kv_bytes_per_token: kvBytesPerToken(arch, RUNTIME_BYTES[dtypeValue] as number),
  };
}

/** vLLM's CUDA graphs, activations and allocator slack, as a fraction of weights + KV (a rough, documented guess). */
const OVERHEAD_FRACTION = 0.1;

/**
 * Weights (parameters × the runtime dtype's bytes) + the KV cache for one sequence of `context` tokens
 * (vLLM's default `--max-model-len` is `max_position_embeddings`) + OVERHEAD_FRACTION. What vLLM needs at the
 * least; it then claims `--gpu-memory-utilization` of the VRAM whatever the model, for more KV blocks.
 */
export function estimateHfMemory(info: HfModelInfo, opts: { context?: number } = {}): MemoryEstimate {
  const context = opts.context ?? info.max_position_embeddings;
  const bytes = RUNTIME_BYTES[info.dtype] ?? 2;
  const weights = info.parameter_count * bytes;
  const kv = info.kv_bytes_per_token * context;
  const overhead = Math.round((weights + kv) * OVERHEAD_FRACTION);
  const total = weights + kv + overhead;
  return {
    weights_bytes: weights,
    kv_cache_bytes: kv,
    overhead_bytes: overhead,
    total_bytes: total,
    context,
    kv_known: true,
    explanation:
      `weights ${formatBytes(weights)} (${info.parameter_count} params${info.parameter_source === "safetensors" ? "" : " (estimated from config.json)"} × ${bytes} bytes ${info.dtype}) ` +
      `+ KV ${formatBytes(kv)} (${context} tokens × ${info.kv_bytes_per_token} bytes) + overhead ${formatBytes(overhead)} = ${formatBytes(total)}`,
  };
}
