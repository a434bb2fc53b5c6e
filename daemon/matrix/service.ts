/** Placeholder: the matrix service (replaced by the matrix feature). */
import type { Daemon } from "../daemon.js";
import type { DaemonConfig, MatrixCell } from "../types.js";

export interface MatrixService {
  cells(): MatrixCell[];
  onConfig(config: DaemonConfig): void;
  stop(): void;
}

export async function attachMatrix(_daemon: Daemon): Promise<MatrixService> {
  return { cells: () => [], onConfig: () => {}, stop: () => {} };
}
