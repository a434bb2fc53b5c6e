/**
 * Every model file format rmxd reads, told apart by the file's magic: GGUF (llama.cpp) and whisper.cpp's GGML
 * `.bin`, ONNX (by name or protobuf shape), and a directory as a Hugging Face model (vLLM's), each with its
 * memory estimate for the fit check. A new format is a new branch here and a new `ModelFormat` in
 * adapters/types.ts.
 */
import { stat } from "../base/fs-async.js";
import { estimateOnnxMemory, type OnnxModelInfo, readOnnxModel } from "./onnxruntime/onnx-model.js";
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
  | { format: "hf-dir"; info: HfModelInfo; estimate: MemoryEstimate }
  | { format: "onnx"; info: OnnxModelInfo; estimate: MemoryEstimate };

/** "GGUF" as a little-endian uint32. */
const GGUF_MAGIC = 0x46554747;

/**
 * ONNX has no magic: a `.onnx` name, or (not named `.gguf`) a protobuf whose first field is ModelProto's
 * ir_version (tag 0x08, a varint). Checked after the GGUF and whisper magics.
 */
function looksOnnx(file: string, magic: number | undefined): boolean {
  if (/\.onnx$/i.test(file)) return true;
  if (/\.gguf$/i.test(file) || magic === undefined || magic === GGUF_MAGIC) return false;
  return (magic & 0xff) === 0x08;
}

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

/** The format a file is read as: the whisper and GGUF magics first, then ONNX, else GGUF (its errors). */
export async function sniffFormat(file: string): Promise<ModelReading["format"]> {
  const magic = await magicOf(file);
  if (magic === GGML_MAGIC) return "whisper-ggml";
  if (magic !== GGUF_MAGIC && looksOnnx(file, magic)) return "onnx";
  return "gguf";
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
  const format = await sniffFormat(file);
  if (format === "whisper-ggml") {
    const info = await readWhisperModel(file);
    return { format: "whisper-ggml", info, estimate: estimateWhisperMemory(info) };
  }
  if (format === "onnx") {
    const info = await readOnnxModel(file);
    return { format: "onnx", info, estimate: estimateOnnxMemory(info) };
  }
  const info = await readGguf(file);
  return { format: "gguf", info, estimate: estimateMemory(info, opts) };
}
