/** Params schemas of the matrix methods (matrix.get, hardware.get, models.list, models.inspect); daemon-only (zod). */
import path from "node:path";
import * as z from "zod";
import { lazySchemas } from "./lazy-schemas.js";

const MAX_PATH_CHARS = 4096;
const MAX_CONTEXT = 16 * 1024 * 1024;

export const matrixParamSchemas = lazySchemas({
  "matrix.get": () => z.strictObject({}),
  "hardware.get": () => z.strictObject({ refresh: z.boolean().default(false) }),
  "models.list": () => z.strictObject({}),
  "models.inspect": () =>
    z
      .strictObject({
        // The daemon's working directory is not the caller's: a relative path would name another file.
        path: z
          .string()
          .min(1)
          .max(MAX_PATH_CHARS)
          .refine((p) => path.isAbsolute(p), { message: "must be an absolute path" })
          .optional(),
        model: z.string().min(1).max(MAX_PATH_CHARS).optional(),
        context: z.number().int().min(1).max(MAX_CONTEXT).optional(),
      })
      .refine((p) => (p.path === undefined) !== (p.model === undefined), {
        message: "give exactly one of path (an absolute GGUF file path) or model (a model id)",
      }),
});

export type HardwareGetParams = z.input<(typeof matrixParamSchemas)["hardware.get"]>;
export type ModelsInspectParams = z.input<(typeof matrixParamSchemas)["models.inspect"]>;
