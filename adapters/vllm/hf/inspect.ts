/** `rmx models inspect DIR`: a Hugging Face model directory's facts, estimate and fit on this machine's memory. */

import os from "node:os";
import path from "node:path";
import type { FitVerdict } from "../../../base/fit.js";
import { formatBytes } from "../../../base/format.js";
import { stat } from "../../../base/fs-async.js";
import { fitOn, type MemoryEstimate } from "../../shared/gguf/estimate.js";
import { estimateHfMemory, type HfModelInfo, readHfModel } from "./model.js";

export interface HfInspectResult {
  info: HfModelInfo;
  estimate: MemoryEstimate;
  fit: Record<string, FitVerdict>;
}

export async function isDirectory(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isDirectory() === true;
}

export async function inspectHfDir(dir: string, context: number | undefined): Promise<HfInspectResult> {
  const info = await readHfModel(path.resolve(dir));
  const estimate = estimateHfMemory(info, context !== undefined ? { context } : {});
  return {
    info,
    estimate,
    fit: { cpu: fitOn(estimate, { kind: "cpu", id: "cpu", available_bytes: os.freemem() }) },
  };
}

export function renderHfInspect(result: HfInspectResult): string[] {
  const { info } = result;
  const params =
    info.parameter_source === "safetensors"
      ? `${info.parameter_count} parameters (safetensors headers, ${info.safetensors_files} files; config.json formula ${info.parameter_estimate})`
      : `${info.parameter_count} parameters (estimated from config.json; no safetensors files)`;
  const lines = [
    `${info.path}  (Hugging Face model directory)`,
    `  ${info.architectures.join(", ") || "unknown architecture"}, ${params}`,
    `  ${info.num_hidden_layers} layers, hidden ${info.hidden_size}, intermediate ${info.intermediate_size}, ` +
      `${info.num_attention_heads} heads (${info.num_key_value_heads} KV, head_dim ${info.head_dim}), vocabulary ${info.vocab_size}, ` +
      `max positions ${info.max_position_embeddings}, ${info.dtype}${info.tie_word_embeddings ? ", tied embeddings" : ""}`,
    `  KV cache ${formatBytes(info.kv_bytes_per_token)} per token`,
    `  needs ${result.estimate.explanation}`,
  ];
  for (const [id, verdict] of Object.entries(result.fit)) {
    const word = verdict.fits === true ? "fits" : verdict.fits === false ? "does not fit" : "unknown";
    lines.push(`  ${id}: ${word} - ${verdict.reason}`);
  }
  return lines;
}
