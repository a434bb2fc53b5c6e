/** `rmx models inspect FILE.onnx`: the ONNX facts, the memory estimate and the fit on this machine's memory. */
import os from "node:os";
import path from "node:path";
import type { FitVerdict } from "../../base/fit.js";
import { formatBytes } from "../../base/format.js";
import { fitOn, type MemoryEstimate } from "../shared/gguf/estimate.js";
import { estimateOnnxMemory, type OnnxModelInfo, type OnnxValueInfo, readOnnxModel } from "./onnx-model.js";

export interface OnnxInspectResult {
  format: "onnx";
  info: OnnxModelInfo;
  estimate: MemoryEstimate;
  fit: Record<string, FitVerdict>;
}

export async function inspectOnnx(file: string): Promise<OnnxInspectResult> {
  const info = await readOnnxModel(path.resolve(file));
  const estimate = estimateOnnxMemory(info);
  return {
    format: "onnx",
    info,
    estimate,
    fit: { cpu: fitOn(estimate, { kind: "cpu", id: "cpu", available_bytes: os.freemem() }) },
  };
}

function tensorLine(v: OnnxValueInfo): string {
  return `${v.name}: ${v.elem_type_name}${v.shape === undefined ? " (rank unknown)" : `[${v.shape.join(", ")}]`}`;
}

export function renderOnnxInspect(r: OnnxInspectResult): string[] {
  const i = r.info;
  const opsets = i.opset_import.map((o) => `${o.domain || "ai.onnx"} ${o.version}`).join(", ");
  const producer = i.producer_name
    ? `, by ${i.producer_name}${i.producer_version ? ` ${i.producer_version}` : ""}`
    : "";
  const lines = [
    `${i.path}${i.graph_name ? `  (${i.graph_name})` : ""}`,
    `  ONNX IR v${i.ir_version}, opset ${opsets || "none"}${producer}, ${i.node_count} nodes, ${i.initializer_count} initializers, file ${formatBytes(i.file_size)}`,
    `  inputs: ${i.inputs.map(tensorLine).join("; ") || "none"}`,
    `  outputs: ${i.outputs.map(tensorLine).join("; ") || "none"}`,
  ];
  if (i.external_files.length > 0)
    lines.push(`  external data: ${i.external_files.join(", ")} (${formatBytes(i.external_weight_bytes)})`);
  lines.push(`  needs ${r.estimate.explanation}`);
  for (const [id, verdict] of Object.entries(r.fit)) {
    const word = verdict.fits === true ? "fits" : verdict.fits === false ? "does not fit" : "unknown";
    lines.push(`  ${id}: ${word} - ${verdict.reason}`);
  }
  return lines;
}
