/**
 * The models axis as `models.list` and `models.inspect` answer it: GGUF facts, the estimated need, and the
 * fit verdict on every hardware id of this machine.
 */

import path from "node:path";
import { estimateMemory } from "../../adapters/shared/gguf/estimate.js";
import type { GgufInfo } from "../../adapters/shared/gguf/reader.js";
import { readGguf } from "../../adapters/shared/gguf/reader.js";
import { RmxError } from "../../base/errors.js";
import type { FitVerdict } from "../../base/fit.js";
import { looksLikePath } from "../../base/model-ref.js";
import type { HardwareId } from "../../base/spec.js";
import type { HardwareInventory, HardwareSample } from "../../ipc/protocol/hardware.js";
import type {
  ModelEntry,
  ModelInspectResult,
  ModelListEntry,
  ModelListResult,
} from "../../ipc/protocol/models.js";
import { cellFit, fitForEstimate, type MatrixRuntime } from "./compose.js";

interface Machine {
  inventory: HardwareInventory;
  sample?: HardwareSample;
}

function hardwareIdsOf(inventory: HardwareInventory): string[] {
  return ["cpu", ...inventory.gpus.map((g) => g.id)];
}

function fitsEverywhere(
  facts: { id: string; gguf?: GgufInfo; error?: string },
  runtimes: readonly MatrixRuntime[],
  machine: Machine,
): Record<HardwareId, FitVerdict> {
  const fit: Record<HardwareId, FitVerdict> = {};
  for (const hw of hardwareIdsOf(machine.inventory)) {
    const on = runtimes.filter((r) => r.spec.hardware === hw);
    fit[hw] = cellFit(facts, facts.id, hw, on, machine);
  }
  return fit;
}

export function listModels(
  entries: readonly ModelEntry[],
  runtimes: readonly MatrixRuntime[],
  machine: Machine,
  generated: string,
  notes: readonly string[] = [],
): ModelListResult {
  const models = entries.map((entry): ModelListEntry => {
    const mine = runtimes.filter((r) => r.model === entry.id);
    const out: ModelListEntry = {
      ...entry,
      fit: fitsEverywhere(entry, mine, machine),
      runtimes: mine.map((r) => r.view.id),
    };
    if (entry.gguf !== undefined) {
      const contexts = mine.flatMap((r) => (r.spec.context !== undefined ? [r.spec.context] : []));
      out.estimate = estimateMemory(
        entry.gguf,
        contexts.length > 0 ? { context: Math.max(...contexts) } : {},
      );
    }
    return out;
  });
  return { generated, models, notes: [...notes] };
}

/**
 * GGUF facts of any file (or catalog id), the estimate at `context` (default: the model's, capped at the
 * default context), and the fit per hardware id. RmxError MODEL_MISSING / MODEL_INVALID.
 */
export async function inspectModel(
  target: { path?: string; model?: string; context?: number },
  lookup: (idOrPath: string) => ModelEntry | undefined,
  machine: Machine,
): Promise<ModelInspectResult> {
  let file = target.path;
  if (file === undefined && target.model !== undefined) {
    const entry = lookup(target.model);
    if (entry !== undefined) file = entry.path;
    else if (looksLikePath(target.model)) file = target.model;
    else {
      throw new RmxError(
        "MODEL_MISSING",
        `model "${target.model}" is neither a known model id nor a file path`,
        { model: target.model },
      );
    }
  }
  if (file === undefined) throw new RmxError("MODEL_MISSING", "no model file given", {});
  const info = await readGguf(path.resolve(file));
  const estimate = estimateMemory(info, target.context !== undefined ? { context: target.context } : {});
  const fit: Record<HardwareId, FitVerdict> = {};
  for (const hw of hardwareIdsOf(machine.inventory)) fit[hw] = fitForEstimate(estimate, hw, machine);
  return { info, estimate, fit };
}
