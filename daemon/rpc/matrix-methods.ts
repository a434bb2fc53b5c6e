/** Socket methods of the matrix feature: matrix.get, hardware.get, models.list, models.inspect. */
import { RmxError } from "../../base/errors.js";
import { type HandlerParams, paramSchemas } from "../../ipc/protocol/schemas.js";
import type { MethodTable } from "../../ipc/server.js";
import type { MatrixService } from "../matrix/service.js";

export interface MatrixMethodsHost {
  /** Looked up at call time: the socket opens before the matrix service is attached. */
  matrix(): Pick<MatrixService, "result" | "hardware" | "models" | "inspect"> | undefined;
}

function service(host: MatrixMethodsHost) {
  const matrix = host.matrix();
  if (matrix === undefined) throw new RmxError("INTERNAL", "the matrix service is not running yet");
  return matrix;
}

export function matrixMethods(daemon: MatrixMethodsHost): MethodTable {
  const s = paramSchemas;
  return {
    "matrix.get": { params: s["matrix.get"], handler: () => service(daemon).result() },
    "hardware.get": {
      params: s["hardware.get"],
      handler: (p: HandlerParams<"hardware.get">) => service(daemon).hardware({ refresh: p.refresh }),
    },
    "models.list": { params: s["models.list"], handler: () => service(daemon).models() },
    "models.inspect": {
      params: s["models.inspect"],
      handler: (p: HandlerParams<"models.inspect">) => service(daemon).inspect(p),
    },
  };
}
