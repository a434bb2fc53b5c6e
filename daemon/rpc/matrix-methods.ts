/** Placeholder: socket methods of the matrix feature (matrix.get, hardware.get, models.*). */
import type { MethodTable } from "../../ipc/server.js";
import type { Daemon } from "../daemon.js";

export function matrixMethods(_daemon: Daemon): MethodTable {
  return {};
}
