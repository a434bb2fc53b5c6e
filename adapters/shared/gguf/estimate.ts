import type { FitVerdict } from "../../../base/fit.js";
import { formatBytes } from "../../../base/format.js";
import type { GgufInfo } from "./reader.js";

/**
 * Compute buffers, scratch and runtime allocations on top of weights + KV, as a fraction of them. llama.cpp's
 * compute buffer is a few hundred MiB for 7B models at ctx 4096 (~5-8% of weights + KV); 10% leaves headroom.
 */
export const OVERHEAD_FRACTION = 0.1;
/**
 * The context a runtime gets when its config sets none: the model's training context capped at this
 * (llama-server's own default `-c`). rmxd always passes it as `-c`, so the estimate is what runs.
 */
export const DEFAULT_CONTEXT = 4096;

/** The context (`-c`) a runtime of this model is launched with, and its KV cache is estimated at. */
export function launchContext(
  info: Pick<GgufInfo, "context_length"> | undefined,
  configured?: number,
): number {
  if (configured !== undefined) return configured;
  const trained = info?.context_length;
  return trained !== undefined && trained > 0 ? Math.min(trained, DEFAULT_CONTEXT) : DEFAULT_CONTEXT;
}
/** f16 K and V caches: 2 bytes per element. */
const KV_BYTES_PER_ELEMENT = 2;

export interface MemoryEstimate {
  weights_bytes: number;
  kv_cache_bytes: number;
  overhead_bytes: number;
  total_bytes: number;
  /** Context the KV cache was sized for. */
  context: number;
  /** False when the metadata lacks what the KV formula needs (the KV term is then 0). */
  kv_known: boolean;
  explanation: string;
  /** Why llama.cpp would refuse the file: such a model fits nowhere. */
  load_problems?: string[];
}

export type FitTarget =
  | { kind: "cpu"; available_bytes: number; id?: string }
  | { kind: "gpu"; vram_bytes?: number; id?: string };

/**
 * Memory a runtime of this model needs: weights (the tensor data; the file size when a tensor type is unknown) + f16 KV cache
 * (2 × layers × context × head_dim × kv_heads × 2 bytes) + OVERHEAD_FRACTION of both. llama-server splits `-c`
 * across its slots, so slots do not multiply the KV cache.
 */
export function estimateMemory(
  info: GgufInfo,
  opts: { context?: number; slots?: number } = {},
): MemoryEstimate {
  const context = launchContext(info, opts.context);
  const weights = info.tensor_data_bytes ?? info.file_size;
  const layers = info.block_count;
  const embedding = info.embedding_length;
  const heads = info.head_count;
  const kvHeads = info.head_count_kv ?? heads;
  let kv = 0;
  let kvText: string;
  const kvKnown = layers !== undefined && embedding !== undefined && heads !== undefined && heads > 0;
  if (kvKnown && kvHeads !== undefined) {
    const headDim = embedding / heads;
    kv = Math.round(2 * layers * context * headDim * kvHeads * KV_BYTES_PER_ELEMENT);
    kvText = `KV ${formatBytes(kv)} (2 × ${layers} layers × ctx ${context} × ${kvHeads} KV heads × ${headDim} dims × 2 bytes f16)`;
  } else {
    kvText = "KV unknown (metadata lacks block_count, embedding_length or head_count)";
  }
  const overhead = Math.round((weights + kv) * OVERHEAD_FRACTION);
  const total = weights + kv + overhead;
  const slots = opts.slots !== undefined && opts.slots > 1 ? `; ctx shared by ${opts.slots} slots` : "";
  const problems =
    info.load_problems !== undefined && info.load_problems.length > 0
      ? { load_problems: info.load_problems }
      : {};
  return {
    ...problems,
    weights_bytes: weights,
    kv_cache_bytes: kv,
    overhead_bytes: overhead,
    total_bytes: total,
    context,
    kv_known: kvKnown,
    explanation:
      `weights ${formatBytes(weights)} + ${kvText} + overhead ${formatBytes(overhead)} ` +
      `(${OVERHEAD_FRACTION * 100}%) = ${formatBytes(total)}${slots}`,
  };
}

/** Whether the estimate fits the target, with the numbers in the reason. */
export function fitOn(estimate: MemoryEstimate, target: FitTarget): FitVerdict {
  const need =
    `needs ${formatBytes(estimate.total_bytes)} (weights ${formatBytes(estimate.weights_bytes)} + ` +
    `KV ${estimate.kv_known ? formatBytes(estimate.kv_cache_bytes) : "unknown"} at ctx ${estimate.context} + ` +
    `overhead ${formatBytes(estimate.overhead_bytes)})`;
  const id = target.id ?? target.kind;
  if (estimate.load_problems !== undefined && estimate.load_problems.length > 0) {
    return {
      fits: false,
      need_bytes: estimate.total_bytes,
      reason: `not loadable: ${estimate.load_problems.join("; ")}`,
    };
  }
  const available = target.kind === "cpu" ? target.available_bytes : target.vram_bytes;
  if (available === undefined) {
    return {
      fits: "unknown",
      need_bytes: estimate.total_bytes,
      reason: `${need}; ${id} memory size is unknown`,
    };
  }
  const has = target.kind === "cpu" ? `${formatBytes(available)} available` : formatBytes(available);
  return {
    fits: estimate.total_bytes <= available,
    need_bytes: estimate.total_bytes,
    available_bytes: available,
    reason: `${need}, ${id} has ${has}`,
  };
}
