/**
 * Every model file format rmxd reads, told apart by the file's magic: GGUF (llama.cpp) and whisper.cpp's GGML
 * `.bin`, each with its memory estimate for the fit check; a directory is a Hugging Face model (vLLM's). A new format (ONNX…) is a new branch here and a new
 * `ModelFormat` in adapters/types.ts.
 */
import { stat } from "node:fs/promises";
import { estimateMemory, type MemoryEstimate } from "./shared/gguf/estimate.js";
import { openModelFile } from "./shared/gguf/open-model.js";
import { type GgufInfo, readGguf } from "./shared/gguf/reader.js";
import { estimateHfMemory, type HfModelInfo, readHfModel } from "./vllm/hf/model.js";
import {
  estimateWhisperMemory,
  GGML_MAGIC,
  readWhisperModel,
  type WhisperModelInfo,
} from "./whisper-cpp/ggml.js";

export type ModelReading =
  | { format: "gguf"; info: GgufInfo; estimate: MemoryEstimate }
  | { format: "whisper-ggml"; info: WhisperModelInfo; estimate: MemoryEstimate }
  | { format: "hf-dir"; info: HfModelInfo; estimate: MemoryEstimate };

/** The first four bytes as a little-endian uint32; `undefined` for a shorter file or one that cannot be opened. */
async function magicOf(file: string): Promise<number | undefined> {
  const opened = await openModelFile(file).catch(() => undefined);
  if (opened === undefined) return undefined;
  try {
    const bytes = Buffer.alloc(4);
    const { bytesRead } = await opened.handle.read(bytes, 0, 4, 0);
    return bytesRead === 4 ? bytes.readUInt32LE(0) : undefined;
  } finally {
    await opened.handle.close();
  }
}

/**
 * Reads any supported model. A whisper GGML magic reads as whisper; anything else goes to the GGUF reader,
 * whose errors (MODEL_MISSING, MODEL_INVALID naming the file) stay what they were for a GGUF-only daemon.
 */
export async function readModel(file: string, opts: { context?: number } = {}): Promise<ModelReading> {
  if ((await stat(file).catch(() => undefined))?.isDirectory() === true) {
    const info = await readHfModel(file);
    return { format: "hf-dir", info, estimate: estimateHfMemory(info, opts) };
  }
  if ((await magicOf(file)) === GGML_MAGIC) {
    const info = await readWhisperModel(file);
    return { format: "whisper-ggml", info, estimate: estimateWhisperMemory(info) };
  }
  const info = await readGguf(file);
  return { format: "gguf", info, estimate: estimateMemory(info, opts) };
}
