/** Wire shapes of `infer.respond` (KServe v2 tensors routed to a cell that serves `infer`). Types only. */

import type { InferTensor } from "../../adapters/onnxruntime/infer-backend.js";

export type { InferTensor };

export interface InferResult {
  /** The backend's answer: `model_name` and `outputs` as KServe v2 gives them. */
  model_name: string;
  model_version?: string;
  outputs: InferTensor[];
  latency_ms: number;
  cell: string;
  runtime: string;
  /** The matrix's model id of the cell that answered. */
  model: string;
}
