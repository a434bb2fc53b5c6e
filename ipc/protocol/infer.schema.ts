/** Params schema of `infer.respond` (KServe v2 tensors routed through the matrix); daemon-only (zod). */
import * as z from "zod";
import { lazySchemas } from "./lazy-schemas.js";

const MAX_NAME = 256;
const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const MAX_TENSORS = 64;
const name = z.string().min(1).max(MAX_NAME);

/** Shape and data are checked against the model by the backend, which knows it (400 with its message). */
const tensor = () =>
  z.strictObject({
    name,
    shape: z.array(z.number().int().min(0)).max(16),
    datatype: z.enum([
      "BOOL",
      "UINT8",
      "UINT16",
      "UINT32",
      "UINT64",
      "INT8",
      "INT16",
      "INT32",
      "INT64",
      "FP16",
      "FP32",
      "FP64",
      "BF16",
      "BYTES",
    ]),
    data: z.array(z.unknown()),
  });

export const inferSchemas = lazySchemas({
  "infer.respond": () =>
    z.strictObject({
      /** The model: the matrix's model id (also the KServe name rmxd's ONNX server gives it). */
      model: name,
      inputs: z.array(tensor()).min(1).max(MAX_TENSORS),
      outputs: z.array(z.strictObject({ name })).max(MAX_TENSORS).optional(),
      agent: name.optional(),
      project: name.optional(),
      timeout_ms: z.number().int().min(1).max(MAX_TIMEOUT_MS).optional(),
    }),
});

export type InferParams = z.input<(typeof inferSchemas)["infer.respond"]>;
