/**
 * `rmx models`: every model the daemon knows, with GGUF facts, estimated need and fit per hardware id.
 * `rmx models inspect FILE [--context N]`: reads the file here, without the daemon; a directory is read as a
 * Hugging Face model (vLLM's: config.json facts, safetensors parameter count).
 */

import type { MemoryEstimate } from "../../../adapters/shared/gguf/estimate.js";
import type { GgufInfo } from "../../../adapters/shared/gguf/reader.js";
import type { FitVerdict } from "../../../base/fit.js";
import { formatBytes } from "../../../base/format.js";
import type { ModelInspectResult, ModelListEntry, ModelListResult } from "../../protocol/models.js";
import { stringValue, UsageError, usageLine } from "../args.js";
import type { CommandSpec, ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";

/** 1234567 → "1.2M" parameters. */
export function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [size, unit] of units) if (n >= size) return `${(n / size).toFixed(1)}${unit}`;
  return String(n);
}

function factsLine(info: GgufInfo): string {
  const parts = [
    info.architecture ?? "unknown architecture",
    `${formatCount(info.parameter_count)} parameters`,
    info.quantization,
    info.context_length !== undefined ? `trained context ${info.context_length}` : undefined,
    info.block_count !== undefined ? `${info.block_count} layers` : undefined,
    info.embedding_length !== undefined ? `embedding ${info.embedding_length}` : undefined,
    info.head_count !== undefined
      ? `${info.head_count} heads${info.head_count_kv !== undefined ? ` (${info.head_count_kv} KV)` : ""}`
      : undefined,
    info.vocab_size !== undefined ? `vocabulary ${info.vocab_size}` : undefined,
    `${info.tensor_count} tensors`,
    info.tensor_data_bytes !== undefined
      ? `tensor data ${formatBytes(info.tensor_data_bytes)} of a ${formatBytes(info.file_size)} file`
      : `file ${formatBytes(info.file_size)}`,
    `GGUF v${info.version}`,
  ];
  return parts.filter((p) => p !== undefined).join(", ");
}

/** "not loadable: missing llama.attention.layer_norm_rms_epsilon", or nothing when llama.cpp would load it. */
function loadableLine(info: GgufInfo): string | undefined {
  const problems = info.load_problems ?? [];
  return problems.length === 0 ? undefined : `not loadable by llama.cpp: ${problems.join("; ")}`;
}

function fitLine(fit: Record<string, FitVerdict>): string {
  const ids = (fits: FitVerdict["fits"]) =>
    Object.entries(fit)
      .filter(([, v]) => v.fits === fits)
      .map(([id]) => id);
  const parts: string[] = [];
  const yes = ids(true);
  const no = ids(false);
  const unknown = ids("unknown");
  if (yes.length > 0) parts.push(`fits ${yes.join(", ")}`);
  if (no.length > 0) parts.push(`does not fit ${no.join(", ")}`);
  if (unknown.length > 0) parts.push(`unknown on ${unknown.join(", ")}`);
  return parts.join("; ");
}

function estimateLine(estimate: MemoryEstimate): string {
  return `needs ${estimate.explanation}`;
}

export function renderModelList(result: ModelListResult): string[] {
  if (result.models.length === 0) {
    return [
      "No models known: add models or model_dirs to the configuration.",
      ...result.notes.map((n) => `note: ${n}`),
    ];
  }
  const lines: string[] = [];
  for (const m of result.models as ModelListEntry[]) {
    const used = m.runtimes.length > 0 ? `; runtimes ${m.runtimes.join(", ")}` : "";
    lines.push(`${m.id}  (${m.source}) ${m.path}${used}`);
    if (m.gguf !== undefined) lines.push(`  ${factsLine(m.gguf)}`);
    const refused = m.gguf === undefined ? undefined : loadableLine(m.gguf);
    if (refused !== undefined) lines.push(`  ${refused}`);
    if (m.error !== undefined) lines.push(`  error: ${m.error}`);
    if (m.estimate !== undefined) lines.push(`  ${estimateLine(m.estimate)}`);
    lines.push(`  ${fitLine(m.fit)}`);
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  return lines;
}

export function renderInspect(result: ModelInspectResult): string[] {
  const info = result.info;
  const lines = [
    `${info.path}${info.name !== undefined ? `  (${info.name})` : ""}`,
    `  ${factsLine(info)}`,
    ...[loadableLine(info)].filter((l): l is string => l !== undefined).map((l) => `  ${l}`),
    `  ${estimateLine(result.estimate)}`,
  ];
  for (const [id, verdict] of Object.entries(result.fit)) {
    const word = verdict.fits === true ? "fits" : verdict.fits === false ? "does not fit" : "unknown";
    lines.push(`  ${id}: ${word} - ${verdict.reason}`);
  }
  return lines;
}

function parseContext(raw: string | undefined, spec: CommandSpec | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(
      `flag --context needs a positive whole number of tokens (got "${raw}")`,
      spec ? usageLine(spec) : "",
    );
  }
  return Number(raw);
}

/** Local: header, estimate, and fit on this machine's CPU memory (GPUs are the daemon's to know). */
async function inspectLocally(file: string, context: number | undefined): Promise<ModelInspectResult> {
  const [{ readGguf }, { estimateMemory, fitOn }, os, path] = await Promise.all([
    import("../../../adapters/shared/gguf/reader.js"),
    import("../../../adapters/shared/gguf/estimate.js"),
    import("node:os"),
    import("node:path"),
  ]);
  const info = await readGguf(path.resolve(file));
  const estimate = estimateMemory(info, context !== undefined ? { context } : {});
  const fit = { cpu: fitOn(estimate, { kind: "cpu", id: "cpu", available_bytes: os.freemem() }) };
  return { info, estimate, fit };
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  if (args.command[1] === "inspect") {
    const file = args.positionals[0] as string;
    const hf = await import("../../../adapters/vllm/hf/inspect.js");
    if (await hf.isDirectory(file)) {
      const result = await hf.inspectHfDir(file, parseContext(stringValue(args, "context"), args.spec));
      ctx.write(
        ctx.json ? `${JSON.stringify(result, null, 2)}\n` : `${hf.renderHfInspect(result).join("\n")}\n`,
      );
      return ExitCode.OK;
    }
    const { sniffFormat } = await import("../../../adapters/model-formats.js");
    const format = await sniffFormat(file);
    if (format === "whisper-ggml") {
      const whisper = await import("../../../adapters/whisper-cpp/inspect.js");
      const r = await whisper.inspectWhisper(file);
      ctx.write(
        ctx.json ? `${JSON.stringify(r, null, 2)}\n` : `${whisper.renderWhisperInspect(r).join("\n")}\n`,
      );
      return ExitCode.OK;
    }
    if (format === "onnx") {
      const onnx = await import("../../../adapters/onnxruntime/inspect.js");
      const r = await onnx.inspectOnnx(file);
      ctx.write(ctx.json ? `${JSON.stringify(r, null, 2)}\n` : `${onnx.renderOnnxInspect(r).join("\n")}\n`);
      return ExitCode.OK;
    }
    const result = await inspectLocally(file, parseContext(stringValue(args, "context"), args.spec));
    ctx.write(ctx.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderInspect(result).join("\n")}\n`);
    return ExitCode.OK;
  }
  const client = await ctx.connect();
  try {
    const result = (await client.call("models.list")) as ModelListResult;
    ctx.write(ctx.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderModelList(result).join("\n")}\n`);
    return ExitCode.OK;
  } finally {
    await client.close();
  }
}
