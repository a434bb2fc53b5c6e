import type { FitVerdict } from "../types.js";
import type { GgufInfo } from "./gguf.js";

/**
 * Compute buffers, scratch and runtime allocations on top of weights + KV, as a fraction of them. llama.cpp's
 * compute buffer is a few hundred MiB for 7B models at ctx 4096 (~5-8% of weights + KV); 10% leaves headroom.
 */
export const OVERHEAD_FRACTION = 0.1;
/** Context assumed when neither the runtime nor the model says (llama-server's default `-c`). */
export const DEFAULT_CONTEXT = 4096;
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
}

export type FitTarget =
  | { kind: "cpu"; available_bytes: number; id?: string }
  | { kind: "gpu"; vram_bytes?: number; id?: string };

const UNITS: [number, string][] = [
  [1024 ** 3, "GiB"],
  [1024 ** 2, "MiB"],
  [1024, "KiB"],
];

/** 5476083302 → "5.1 GiB"; small sizes in MiB / KiB / B so tiny test models still read sensibly. */
export function formatBytes(bytes: number): string {
  for (const [size, unit] of UNITS)
    if (Math.abs(bytes) >= size) return `${(bytes / size).toFixed(1)} ${unit}`;
  return `${Math.round(bytes)} B`;
}

/**
 * Memory a runtime of this model needs: weights (the file size: tensor data dominates it) + f16 KV cache
 * (2 × layers × context × head_dim × kv_heads × 2 bytes) + OVERHEAD_FRACTION of both. llama-server splits `-c`
 * across its slots, so slots do not multiply the KV cache.
 */
export function estimateMemory(
  info: GgufInfo,
  opts: { context?: number; slots?: number } = {},
): MemoryEstimate {
  const context =
    opts.context ??
    (info.context_length !== undefined ? Math.min(info.context_length, DEFAULT_CONTEXT) : DEFAULT_CONTEXT);
  const weights = info.file_size;
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
  return {
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
