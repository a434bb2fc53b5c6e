/** Socket methods of the matrix feature: matrix.get, hardware.get, models.list, models.inspect. */
import path from "node:path";
import { z } from "zod";
import { RmxError } from "../../base/errors.js";
import { paramSchemas } from "../../ipc/schemas.js";
import type { MethodTable } from "../../ipc/server.js";
import type { MatrixService } from "../matrix/service.js";

export interface MatrixMethodsHost {
  /** Looked up at call time: the socket opens before the matrix service is attached. */
  matrix(): Pick<MatrixService, "result" | "hardware" | "models" | "inspect"> | undefined;
}

const MAX_PATH_CHARS = 4096;
const MAX_CONTEXT = 16 * 1024 * 1024;

export const matrixParamSchemas = {
  "matrix.get": paramSchemas["matrix.get"],
  "hardware.get": z.strictObject({ refresh: z.boolean().default(false) }),
  "models.list": z.strictObject({}),
  "models.inspect": z
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
} as const;

function service(host: MatrixMethodsHost) {
  const matrix = host.matrix();
  if (matrix === undefined) throw new RmxError("INTERNAL", "the matrix service is not running yet");
  return matrix;
}

export function matrixMethods(daemon: MatrixMethodsHost): MethodTable {
  const s = matrixParamSchemas;
  return {
    "matrix.get": { params: s["matrix.get"], handler: () => service(daemon).result() },
    "hardware.get": {
      params: s["hardware.get"],
      handler: (p: { refresh: boolean }) => service(daemon).hardware({ refresh: p.refresh }),
    },
    "models.list": { params: s["models.list"], handler: () => service(daemon).models() },
    "models.inspect": {
      params: s["models.inspect"],
      handler: (p: { path?: string; model?: string; context?: number }) => service(daemon).inspect(p),
    },
  };
}
