/** `rmx models inspect FILE.bin` for whisper.cpp's GGML models: header facts, the estimate, the fit on this machine's memory. */
import os from "node:os";
import path from "node:path";
import type { FitVerdict } from "../../base/fit.js";
import { formatBytes } from "../../base/format.js";
import { fitOn, type MemoryEstimate } from "../shared/gguf/estimate.js";
import { estimateWhisperMemory, readWhisperModel, type WhisperModelInfo } from "./ggml.js";

export interface WhisperInspectResult {
  format: "whisper-ggml";
  info: WhisperModelInfo;
  estimate: MemoryEstimate;
  fit: Record<string, FitVerdict>;
}

export async function inspectWhisper(file: string): Promise<WhisperInspectResult> {
  const info = await readWhisperModel(path.resolve(file));
  const estimate = estimateWhisperMemory(info);
  return {
    format: "whisper-ggml",
    info,
    estimate,
    fit: { cpu: fitOn(estimate, { kind: "cpu", id: "cpu", available_bytes: os.freemem() }) },
  };
}

export function renderWhisperInspect(r: WhisperInspectResult): string[] {
  const i = r.info;
  const lines = [
    `${i.path}  (whisper ${i.size_class})`,
    `  whisper.cpp GGML, ${i.weight_type_name} weights (quantization v${i.quantization_version}), ${(i.parameter_count / 1e6).toFixed(1)}M parameters, file ${formatBytes(i.file_size)}`,
    `  audio encoder: ${i.n_audio_layer} layers, width ${i.n_audio_state}, ${i.n_audio_head} heads, ${i.n_audio_ctx} frames, ${i.n_mels} mel bins`,
    `  text decoder: ${i.n_text_layer} layers, width ${i.n_text_state}, ${i.n_text_head} heads, context ${i.n_text_ctx}, vocabulary ${i.n_vocab}`,
    `  needs ${r.estimate.explanation}`,
  ];
  for (const [id, verdict] of Object.entries(r.fit)) {
    const word = verdict.fits === true ? "fits" : verdict.fits === false ? "does not fit" : "unknown";
    lines.push(`  ${id}: ${word} - ${verdict.reason}`);
  }
  return lines;
}
