/**
 * How a runtime maps onto the matrix: its model id, and the cell key `model@hardware/sandbox`
 * (remote runtimes: `remote:<model>`, hardware "remote"). Shared by the matrix and by policy.
 */

import path from "node:path";
import { getAdapter } from "../../adapters/registry.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { ModelEntry } from "../../ipc/protocol/models.js";

export const REMOTE_HARDWARE = "remote";

export function cellKey(model: string, hardware: string, sandbox: string): string {
  return hardware === REMOTE_HARDWARE ? `remote:${model}` : `${model}@${hardware}/${sandbox}`;
}

/** The value of `--alias NAME` in the runtime's args, if any. */
function aliasOf(spec: RuntimeSpec): string | undefined {
  const i = spec.args.indexOf("--alias");
  return i >= 0 ? spec.args[i + 1] : undefined;
}

/**
 * A runtime's model id: the configured model id; for a path, the catalog entry with that path or
 * the file name without `.gguf` / `.onnx`; with no model, `--alias` or the runtime id.
 */
export function modelIdOf(spec: RuntimeSpec, lookup: (idOrPath: string) => ModelEntry | undefined): string {
  if (spec.model !== undefined) {
    const entry = lookup(spec.model);
    if (entry) return entry.id;
    if (getAdapter(spec.adapter).modelFormat === "name") return spec.model;
    return path.basename(spec.model).replace(/\.(gguf|onnx)$/i, "");
  }
  return aliasOf(spec) ?? spec.id;
}

export function runtimeCellKey(
  spec: RuntimeSpec,
  lookup: (idOrPath: string) => ModelEntry | undefined,
): string {
  const model = modelIdOf(spec, lookup);
  return !getAdapter(spec.adapter).spawns
    ? cellKey(model, REMOTE_HARDWARE, "none")
    : cellKey(model, spec.hardware, spec.sandbox.kind);
}
