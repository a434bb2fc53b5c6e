/**
 * Which matrix model a request's `model` names: a model id the matrix serves, a catalog id or path, a
 * runtime id (its model), or a cell key (`model@hardware/sandbox`, its model). Undefined: none.
 */
import type { ModelEntry } from "../../ipc/protocol/models.js";
import type { Candidate } from "../policy/resolve.js";
import type { GatewayRouting } from "./host.js";

/** The models the candidates serve, per build of the candidates (routing caches the array itself). */
const servedOf = new WeakMap<readonly Candidate[], Set<string>>();

export function resolveModelName(
  asked: string,
  routing: Pick<GatewayRouting, "candidates">,
  lookupModel: (idOrPath: string) => ModelEntry | undefined,
): string | undefined {
  const candidates = routing.candidates();
  let served = servedOf.get(candidates);
  if (served === undefined) {
    served = new Set(candidates.map((c) => c.cell.model));
    servedOf.set(candidates, served);
  }
  if (served.has(asked)) return asked;
  const entry = lookupModel(asked);
  if (entry !== undefined && served.has(entry.id)) return entry.id;
  const byRuntime = candidates.find((c) => c.runtimeId === asked);
  if (byRuntime !== undefined) return byRuntime.cell.model;
  const byCell = candidates.find((c) => c.cell.key === asked);
  return byCell?.cell.model;
}
