import { RmxError } from "../../base/errors.js";
import { formatBytes } from "../../base/format.js";
import type { MemoryEstimate } from "../shared/gguf/estimate.js";
import { openModelOf } from "../shared/gguf/open-model.js";

export const GGML_MAGIC = 0x67676d6c;
const HEADER_FIELDS = [
  "n_vocab",
  "n_audio_ctx",
  "n_audio_state",
  "n_audio_head",
  "n_audio_layer",
  "n_text_ctx",
  "n_text_state",
  "n_text_head",
  "n_text_layer",
  "n_mels",
  "ftype",
] as const;
export const GGML_HEADER_BYTES = 4 + HEADER_FIELDS.length * 4;

export type WhisperHeader = Record<(typeof HEADER_FIELDS)[number], number>;

export interface WhisperModelInfo extends WhisperHeader {
  format: "whisper-ggml";
  path: string;
  file_size: number;
  /** `ftype % 1000`: the weight type (0 f32, 1 f16, 2 q4_0, …). */
  weight_type: number;
  weight_type_name: string;
  /** `ftype / 1000`: ggml's quantization version. */
  quantization_version: number;
  /** tiny, base, small, medium, large, large-v3 (from n_audio_layer and n_vocab), or unknown. */
  size_class: string;
  parameter_count: number;
}

/** Bytes per weight of each ggml type whisper.cpp writes (block size / elements per block). */
const WEIGHT_TYPES: Readonly<Record<number, { name: string; bytes: number }>> = {
  0: { name: "f32", bytes: 4 },
  1: { name: "f16", bytes: 2 },
  2: { name: "q4_0", bytes: 18 / 32 },
  3: { name: "q4_1", bytes: 20 / 32 },
  6: { name: "q5_0", bytes: 22 / 32 },
  7: { name: "q5_1", bytes: 24 / 32 },
  8: { name: "q8_0", bytes: 34 / 32 },
};

const SIZE_BY_AUDIO_LAYERS: Readonly<Record<number, string>> = {
  4: "tiny",
  6: "base",
  12: "small",
  24: "medium",
  32: "large",
};

/** Parses the 48-byte header; throws RmxError MODEL_INVALID naming the file and what is wrong. */
export function parseWhisperHeader(bytes: Buffer, file: string): WhisperHeader {
  if (bytes.length < GGML_HEADER_BYTES) {
    throw new RmxError(
      "MODEL_INVALID",
      `${file}: ${bytes.length} bytes is too short for a whisper GGML header (${GGML_HEADER_BYTES} bytes)`,
      { path: file },
    );
  }
  const magic = bytes.readUInt32LE(0);
  if (magic !== GGML_MAGIC) {
    throw new RmxError(
      "MODEL_INVALID",
      `${file}: bad magic 0x${magic.toString(16).padStart(8, "0")} (a whisper GGML file starts with 0x67676d6c "ggml")`,
      { path: file, magic },
    );
  }
  const header = {} as WhisperHeader;
  HEADER_FIELDS.forEach((field, i) => {
    const value = bytes.readInt32LE(4 + i * 4);
    if (value < 0 || (field !== "ftype" && value === 0)) {
      throw new RmxError("MODEL_INVALID", `${file}: header field ${field} is ${value}`, {
        path: file,
        field,
      });
    }
    header[field] = value;
  });
  return header;
}

export function sizeClass(h: Pick<WhisperHeader, "n_audio_layer" | "n_vocab">): string {
  const base = SIZE_BY_AUDIO_LAYERS[h.n_audio_layer] ?? "unknown";
  return base === "large" && h.n_vocab === 51866 ? "large-v3" : base;
}

/**
 * Parameters of the whisper architecture from its dimensions (weights and biases; the encoder's sinusoidal
 * positions count too, as whisper.cpp stores them):
 * - encoder: conv1 (n_mels × d × 3 + d), conv2 (d × d × 3 + d), positions (n_audio_ctx × d), per layer
 *   self-attention (4 d² + 3 d: q, v, out have biases) + MLP (8 d² + 5 d) + two layer norms (4 d); final norm 2 d.
 * - decoder: token embedding (n_vocab × t), positions (n_text_ctx × t), per layer self- and cross-attention
 *   (2 × (4 t² + 3 t)) + MLP (8 t² + 5 t) + three layer norms (6 t); final norm 2 t.
 * tiny gives 37.8 M (OpenAI quotes 39 M).
 */
export function whisperParameterCount(h: WhisperHeader): number {
  const d = h.n_audio_state;
  const t = h.n_text_state;
  const encoderLayer = 4 * d * d + 3 * d + 8 * d * d + 5 * d + 4 * d;
  const encoder =
    h.n_mels * d * 3 + d + d * d * 3 + d + h.n_audio_ctx * d + h.n_audio_layer * encoderLayer + 2 * d;
  const decoderLayer = 2 * (4 * t * t + 3 * t) + 8 * t * t + 5 * t + 6 * t;
  const decoder = h.n_vocab * t + h.n_text_ctx * t + h.n_text_layer * decoderLayer + 2 * t;
  return encoder + decoder;
}

/**
 * Reads the header of a whisper GGML file. Opened like a GGUF (non-blocking, regular files only: a FIFO must
 * not hold a threadpool thread); RmxError MODEL_MISSING (cannot open) or MODEL_INVALID (not a regular file,
 * bad header).
 */
export async function readWhisperModel(file: string): Promise<WhisperModelInfo> {
  const {
    handle,
    info: { size },
  } = await openModelOf(file, "whisper");
  try {
    const bytes = Buffer.alloc(GGML_HEADER_BYTES);
    const { bytesRead } = await handle.read(bytes, 0, GGML_HEADER_BYTES, 0);
    const header = parseWhisperHeader(bytes.subarray(0, bytesRead), file);
    const weightType = header.ftype % 1000;
    return {
      format: "whisper-ggml",
      path: file,
      file_size: size,
      ...header,
      weight_type: weightType,
      weight_type_name: WEIGHT_TYPES[weightType]?.name ?? `unknown (${weightType})`,
      quantization_version: Math.floor(header.ftype / 1000),
      size_class: sizeClass(header),
      parameter_count: whisperParameterCount(header),
    };
  } finally {
    await handle.close();
  }
}

/** f16 K and V. */
const KV_BYTES = 2;
/**
 * Compute buffers whisper_init_state reported for tiny (d = 384) on the recorded build: conv 13.19 + encode
 * 64.79 + cross 3.88 + decode 95.89 MB = 177.75 MB. They grow with the width; scaled linearly from there.
 */
const COMPUTE_BYTES_AT_TINY = 177.75e6;
const TINY_STATE = 384;

/**
 * Memory of a whisper-server on this model: weights (parameters × bytes per weight of ftype; f32 norms and
 * biases are few enough to ignore) + decoder self-attention KV (2 × n_text_layer × n_text_ctx × t × 2 bytes)
 * + cross-attention KV (2 × n_text_layer × n_audio_ctx × t × 2 bytes) + compute buffers (177.75 MB ×
 * n_audio_state / 384). tiny f16: weights 75.7 MB + KV 2.8 + 9.2 MB + compute 177.8 MB.
 */
export function estimateWhisperMemory(info: WhisperModelInfo): MemoryEstimate {
  const perWeight = WEIGHT_TYPES[info.weight_type]?.bytes;
  const weights = perWeight === undefined ? info.file_size : Math.round(info.parameter_count * perWeight);
  const selfKv = 2 * info.n_text_layer * info.n_text_ctx * info.n_text_state * KV_BYTES;
  const crossKv = 2 * info.n_text_layer * info.n_audio_ctx * info.n_text_state * KV_BYTES;
  const overhead = Math.round((COMPUTE_BYTES_AT_TINY * info.n_audio_state) / TINY_STATE);
  const total = weights + selfKv + crossKv + overhead;
  const weightText =
    perWeight === undefined
      ? `weights ${formatBytes(weights)} (file size: unknown ftype ${info.ftype})`
      : `weights ${formatBytes(weights)} (${info.parameter_count} params × ${perWeight} bytes ${info.weight_type_name})`;
  return {
    weights_bytes: weights,
    kv_cache_bytes: selfKv + crossKv,
    overhead_bytes: overhead,
    total_bytes: total,
    context: info.n_text_ctx,
    kv_known: true,
    explanation:
      `${weightText} + self KV ${formatBytes(selfKv)} + cross KV ${formatBytes(crossKv)} ` +
      `+ compute ${formatBytes(overhead)} = ${formatBytes(total)} (whisper ${info.size_class})`,
  };
}

/** A header-only GGML file (tests and the stub's fixtures; whisper-server itself needs the tensors too). */
export function writeWhisperHeader(h: WhisperHeader): Buffer {
  const out = Buffer.alloc(GGML_HEADER_BYTES);
  out.writeUInt32LE(GGML_MAGIC, 0);
  HEADER_FIELDS.forEach((field, i) => {
    out.writeInt32LE(h[field], 4 + i * 4);
  });
  return out;
}

export const TINY_HEADER: WhisperHeader = {
  n_vocab: 51865,
  n_audio_ctx: 1500,
  n_audio_state: 384,
  n_audio_head: 6,
  n_audio_layer: 4,
  n_text_ctx: 448,
  n_text_state: 384,
  n_text_head: 6,
  n_text_layer: 4,
  n_mels: 80,
  ftype: 1,
};
