import fs from "node:fs";
import { llamaCppLoadProblems } from "../shared/gguf/load-problems.js";
import { GgufHeaderError, readGgufHeader } from "./gguf-header.js";

/** What `/v1/models` `meta` reports, read from the GGUF like llama-server does. */
export interface ModelInfo {
  nCtxTrain: number;
  nEmbd: number;
  nVocab: number;
  /** llama_vocab_type: 1 SPM ("llama"), 2 BPE ("gpt2"), 3 WPM ("bert"), 4 UGM ("t5"), 5 RWKV. */
  vocabType: number;
  nParams: number;
  size: number;
}

export type ModelLoad = { ok: true; info: ModelInfo } | { ok: false; lines: string[] };

const VOCAB_TYPES: Record<string, number> = { llama: 1, gpt2: 2, bert: 3, t5: 4, rwkv: 5 };

/** The lines b4748 prints after the loader's own error, up to (not including) the abort. */
function failure(modelPath: string, first: string[]): ModelLoad {
  return {
    ok: false,
    lines: [
      ...first,
      "llama_model_load_from_file_impl: failed to load model",
      `common_init_from_params: failed to load model '${modelPath}'`,
      `srv    load_model: failed to load model, '${modelPath}'`,
      "srv    operator(): operator(): cleaning up before exit...",
      "main: exiting due to model loading error",
    ],
  };
}

/** Which loader stage reads a key, for b4748's "error loading model <stage>: …" wording. */
function stage(key: string): string {
  if (key === "general.architecture") return "architecture";
  return key.startsWith("tokenizer.") ? "vocabulary" : "hyperparameters";
}

function numberOf(value: unknown, fallback: number): number {
  return typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : fallback;
}

/** Reads and checks the model as b4748's loader would, as far as metadata goes. */
export function loadModel(modelPath: string): ModelLoad {
  try {
    if (!fs.statSync(modelPath).isFile()) throw new Error("not a regular file");
    fs.accessSync(modelPath, fs.constants.R_OK);
  } catch {
    return failure(modelPath, [`gguf_init_from_file: failed to open GGUF file '${modelPath}'`]);
  }
  let header: ReturnType<typeof readGgufHeader>;
  try {
    header = readGgufHeader(modelPath);
  } catch (err) {
    const reason = err instanceof GgufHeaderError ? err.message : String(err);
    return failure(modelPath, [
      `gguf_init_from_file_impl: ${reason}`,
      `llama_model_load: error loading model: llama_model_loader: failed to load model from ${modelPath}`,
    ]);
  }
  const meta = header.metadata;
  const loaded = `llama_model_loader: loaded meta data with ${meta.size} key-value pairs and ${header.tensorCount} tensors from ${modelPath} (version GGUF V${header.version}${header.version === 3 ? " (latest)" : ""})`;
  const architecture = meta.get("general.architecture");
  const arch = typeof architecture === "string" ? architecture : undefined;
  const problems = llamaCppLoadProblems(arch, (key) => meta.has(key));
  if (arch !== undefined && problems[0]?.startsWith("unknown architecture")) {
    return failure(modelPath, [
      loaded,
      `llama_model_load: error loading model: error loading model architecture: unknown model architecture: '${arch}'`,
    ]);
  }
  const missing = problems[0]?.replace(/^missing /, "");
  if (missing !== undefined) {
    return failure(modelPath, [
      loaded,
      `llama_model_load: error loading model: error loading model ${stage(missing)}: key not found in model: ${missing}`,
    ]);
  }
  const a = arch as string;
  return {
    ok: true,
    info: {
      nCtxTrain: numberOf(meta.get(`${a}.context_length`), 4096),
      nEmbd: numberOf(meta.get(`${a}.embedding_length`), 64),
      nVocab: numberOf(meta.get("tokenizer.ggml.tokens"), 0),
      vocabType: VOCAB_TYPES[String(meta.get("tokenizer.ggml.model"))] ?? 1,
      nParams: header.parameterCount,
      size: header.dataBytes,
    },
  };
}
