/** Wire shapes of `matrix.get` and the `matrix.*` events: cells of models x hardware x sandboxes. */

import type { Capability } from "../../adapters/types.js";
import type { FitVerdict } from "../../base/fit.js";
import type { HardwareId, SandboxKind } from "../../base/spec.js";
import type { CellRequestTelemetry } from "./gateway.js";
import type { LatencySummary, StatusCode, StatusObject } from "./runtime.js";

export type { CellRequestTelemetry, FitVerdict };

export interface Throughput {
  generated_tokens_per_second?: number;
  prompt_tokens_per_second?: number;
  /** whisper.cpp: audio seconds transcribed per second of request wall time (of the transcriptions rmxd routed). */
  audio_seconds_per_second?: number;
  /** onnxruntime / Triton: successful inference requests per second (Δnv_inference_request_success / Δt). */
  inferences_per_second?: number;
  /** Window the rates were computed over. */
  window_seconds?: number;
  /** Why rates are missing for a live runtime: its scrape failed ("llama: backend refuses our key (401)"). */
  note?: string;
}

export interface CellLoad {
  requests_processing?: number;
  requests_deferred?: number;
  slots_busy?: number;
  slots_total?: number;
  cpu_percent?: number;
  rss_bytes?: number;
  gpu_util_percent?: number;
  vram_share?: number;
  leases_held: number;
  lease_capacity: number;
}

export interface MatrixCell {
  key: string; // `${model}@${hardware}/${sandbox}`
  model: string;
  hardware: HardwareId;
  sandbox: SandboxKind;
  available: boolean;
  unavailable_reason?: string;
  runtimes: string[];
  /**
   * What the cell serves, in the order chat, completion, embeddings, transcription, infer: its runtimes'
   * adapters' capabilities; a cell without a runtime takes those of the model's runtimes on other cells, or,
   * for a GGUF model no runtime names, llama.cpp's. Absent when not known (a non-GGUF model without runtimes).
   */
  capabilities?: Capability[];
  status: StatusObject;
  health?: LatencySummary;
  throughput: Throughput;
  load: CellLoad;
  fit: FitVerdict;
  /** Requests rmxd routed to this cell (gateway, chat.respond); absent before the first. */
  requests?: CellRequestTelemetry;
  updated: string;
}

export interface MatrixResult {
  generated: string;
  axes: { models: string[]; hardware: HardwareId[]; sandboxes: SandboxKind[] };
  cells: MatrixCell[];
}

export interface MatrixChange {
  changed: { key: string; from: StatusCode; to: StatusCode }[];
  added: string[];
  removed: string[];
}
