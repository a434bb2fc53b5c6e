/** GET /v1/models: every model the matrix can serve, OpenAI's list shape, with each model's state. */
import type { Candidate } from "../policy/resolve.js";

export interface ModelListEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  /** Extra: ready when a cell serves it now; idle / stopped: starts on demand; else the best state seen. */
  state: string;
  cells: { cell: string; runtime?: string; state?: string; healthy: boolean }[];
}

const RANK = [
  "ready",
  "idle",
  "starting",
  "stopped",
  "degraded",
  "backoff",
  "stopping",
  "failed",
  "exhausted",
];

function better(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const ra = RANK.indexOf(a);
  const rb = RANK.indexOf(b);
  return (rb >= 0 && (ra < 0 || rb < ra) ? b : a) as string;
}

export function listModels(
  candidates: readonly Candidate[],
  createdSeconds: number,
): { object: "list"; data: ModelListEntry[] } {
  const byModel = new Map<string, ModelListEntry>();
  for (const c of candidates) {
    let entry = byModel.get(c.cell.model);
    if (entry === undefined) {
      entry = {
        id: c.cell.model,
        object: "model",
        created: createdSeconds,
        owned_by: "runtime-matrix",
        state: "none",
        cells: [],
      };
      byModel.set(c.cell.model, entry);
    }
    const cell: ModelListEntry["cells"][number] = { cell: c.cell.key, healthy: c.healthy };
    if (c.runtimeId !== undefined) cell.runtime = c.runtimeId;
    if (c.state !== undefined) cell.state = c.state;
    entry.cells.push(cell);
    entry.state = better(entry.state === "none" ? undefined : entry.state, c.state) ?? "none";
  }
  return { object: "list", data: [...byModel.values()].sort((a, b) => (a.id < b.id ? -1 : 1)) };
}
