/**
 * How the daemon's runtimes become resolution candidates: one per runtime, keyed by its matrix cell, with
 * health from its state, lease room from the lease book, capabilities from its hardware, sandbox and adapter, and
 * fit / size from the matrix or the model catalog. Pure: the caller passes a snapshot.
 */

import { getAdapter } from "../../adapters/registry.js";
import type { FitVerdict } from "../../base/fit.js";
import type { RuntimeSpec, SandboxKind } from "../../base/spec.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { ModelEntry } from "../../ipc/protocol/models.js";
import type { RuntimeState, RuntimeView } from "../../ipc/protocol/runtime.js";
import { cellKey, modelIdOf, REMOTE_HARDWARE } from "../matrix/keys.js";
import type { SandboxDetection } from "../sandbox/detect.js";
import type { Candidate } from "./resolve.js";

/** Where a runtime sits in the matrix. */
export interface RuntimePlace {
  runtime: string;
  key: string;
  model: string;
  hardware: string;
  sandbox: SandboxKind;
  remote: boolean;
  /** Lease capacity: `slots`, default 1. */
  slots: number;
}

/**
 * Places by spec, with the catalog entry their model was looked up as: a spec is replaced, never changed,
 * on a reload, so a place is worked out once per spec and catalog entry, not on every request that asks.
 */
const places = new WeakMap<RuntimeSpec, { entry: ModelEntry | undefined; place: Readonly<RuntimePlace> }>();

export function placeOf(
  spec: RuntimeSpec,
  lookup: (idOrPath: string) => ModelEntry | undefined,
): RuntimePlace {
  // The one lookup the place depends on (modelIdOf asks for the spec's model and nothing else).
  const entry = spec.model === undefined ? undefined : lookup(spec.model);
  const known = places.get(spec);
  if (known !== undefined && known.entry === entry) return known.place;
  const remote = !getAdapter(spec.adapter).spawns;
  const model = modelIdOf(spec, () => entry);
  const hardware = remote ? REMOTE_HARDWARE : spec.hardware;
  const sandbox: SandboxKind = remote ? "none" : spec.sandbox.kind;
  // Frozen: shared by every caller.
  const place = Object.freeze({
    runtime: spec.id,
    key: cellKey(model, hardware, sandbox),
    model,
    hardware,
    sandbox,
    remote,
    slots: spec.slots ?? 1,
  });
  places.set(spec, { entry, place });
  return place;
}

function sandboxWorks(kind: SandboxKind, sandboxes: readonly SandboxDetection[]): SandboxDetection {
  if (kind === "none") return { kind, available: true };
  return (
    sandboxes.find((s) => s.kind === kind) ?? { kind, available: false, reason: `${kind} was not detected` }
  );
}

/**
 * What a runtime's cell offers to leases and requests: `slot` always, `gpu` on `gpu:N`, `sandbox:<kind>` when
 * its sandbox works here (`sandbox:none` for unsandboxed ones), `remote` for remote endpoints.
 */
export function capabilitiesOf(place: RuntimePlace, sandboxes: readonly SandboxDetection[]): string[] {
  const caps = ["slot"];
  if (place.remote) caps.push("remote");
  if (place.hardware.startsWith("gpu:")) caps.push("gpu");
  if (!place.remote && sandboxWorks(place.sandbox, sandboxes).available)
    caps.push(`sandbox:${place.sandbox}`);
  return caps;
}

/**
 * Lease room. A lease targets a runtime id or a cell key; both draw on the same slots, so a cell's free room
 * is its runtimes' slots minus every lease on the cell or on one of its runtimes, and a runtime's room is
 * also bounded by its own slots.
 */
export class LeaseBook {
  private readonly byRuntime = new Map<string, RuntimePlace>();
  private readonly byCell = new Map<string, RuntimePlace[]>();

  constructor(
    places: readonly RuntimePlace[],
    private readonly held: (target: string) => number,
  ) {
    for (const p of places) {
      this.byRuntime.set(p.runtime, p);
      const list = this.byCell.get(p.key) ?? [];
      list.push(p);
      this.byCell.set(p.key, list);
    }
  }

  /** Runtimes a target names: the runtime itself, or every runtime of the cell. */
  runtimesOf(target: string): RuntimePlace[] {
    const rt = this.byRuntime.get(target);
    if (rt !== undefined) return [rt];
    return this.byCell.get(target) ?? [];
  }

  /** Free slots of a cell, counting leases on the cell and on each of its runtimes. */
  cellFree(key: string): number {
    const places = this.byCell.get(key) ?? [];
    let total = 0;
    let used = this.held(key);
    for (const p of places) {
      total += p.slots;
      used += this.held(p.runtime);
    }
    return Math.max(0, total - used);
  }

  /** Free slots for a request served by this runtime. */
  runtimeFree(runtimeId: string): number {
    const p = this.byRuntime.get(runtimeId);
    if (p === undefined) return 0;
    return Math.max(0, Math.min(p.slots - this.held(runtimeId), this.cellFree(p.key)));
  }

  /** The LeaseManager's capacity: what the target already holds plus its free room; undefined = unknown. */
  capacityOf(target: string): number | undefined {
    if (this.byRuntime.has(target)) return this.held(target) + this.runtimeFree(target);
    if (this.byCell.has(target)) return this.held(target) + this.cellFree(target);
    return undefined;
  }

  /** Total slots of a cell (its lease capacity in the matrix's load). */
  cellSlots(key: string): number {
    return (this.byCell.get(key) ?? []).reduce((n, p) => n + p.slots, 0);
  }

  /** Leases that keep a runtime busy: on it or on its cell. */
  busyLeases(runtimeId: string): number {
    const p = this.byRuntime.get(runtimeId);
    if (p === undefined) return 0;
    return this.held(runtimeId) + this.held(p.key);
  }

  /** Leases counted against a cell: on the cell and on its runtimes. */
  cellHeld(key: string): number {
    return (this.byCell.get(key) ?? []).reduce((n, p) => n + this.held(p.runtime), this.held(key));
  }
}

export interface RuntimeSnapshot {
  spec: RuntimeSpec;
  state: RuntimeState;
  view: Pick<RuntimeView, "status" | "health" | "inference">;
}

export interface CandidateContext {
  lookupModel: (idOrPath: string) => ModelEntry | undefined;
  sandboxes: readonly SandboxDetection[];
  /** The matrix's cells, when it provides them: fit and size are taken from there. */
  matrixCells: readonly MatrixCell[];
  leases: LeaseBook;
  /** p95 of requests routed to a cell in the window, if any. */
  routedP95: (cellKey: string) => number | undefined;
  /** Parameter count of a runtime's model (GGUF), when known. */
  parameterCount: (spec: RuntimeSpec) => number | undefined;
  updated: string;
}

/**
 * A runtime stopped for idleness starts on demand, so it counts as healthy: choosing it wakes it. Degraded
 * counts as unhealthy (its users move on).
 */
export function isServing(state: RuntimeState): boolean {
  return state === "ready" || state === "idle";
}

const NO_SANDBOX: SandboxDetection = { kind: "none", available: true };
const UNKNOWN_FIT: FitVerdict = { fits: "unknown", reason: "no fit verdict for this cell" };

function numberField(cell: MatrixCell | undefined, field: string): number | undefined {
  const value = (cell as unknown as Record<string, unknown> | undefined)?.[field];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function buildCandidates(runtimes: readonly RuntimeSnapshot[], ctx: CandidateContext): Candidate[] {
  const matrix = new Map(ctx.matrixCells.map((c) => [c.key, c]));
  const places = runtimes.map((r) => placeOf(r.spec, ctx.lookupModel));
  const runtimesByCell = new Map<string, string[]>();
  for (const p of places) runtimesByCell.set(p.key, [...(runtimesByCell.get(p.key) ?? []), p.runtime]);
  return runtimes.map((r, i) => {
    const place = places[i] as RuntimePlace;
    const fromMatrix = matrix.get(place.key);
    const sandbox = place.remote ? NO_SANDBOX : sandboxWorks(place.sandbox, ctx.sandboxes);
    const cell: MatrixCell = {
      key: place.key,
      model: place.model,
      hardware: place.hardware,
      sandbox: place.sandbox,
      available: sandbox.available,
      runtimes: runtimesByCell.get(place.key) ?? [place.runtime],
      status: r.view.status,
      throughput: {},
      load: { leases_held: ctx.leases.cellHeld(place.key), lease_capacity: ctx.leases.cellSlots(place.key) },
      fit: fromMatrix?.fit ?? UNKNOWN_FIT,
      updated: ctx.updated,
    };
    if (!sandbox.available) {
      cell.unavailable_reason = `sandbox ${place.sandbox} unavailable${sandbox.reason ? `: ${sandbox.reason}` : ""}`;
    }
    const candidate: Candidate = {
      cell,
      runtimeId: place.runtime,
      remote: place.remote,
      healthy: isServing(r.state),
      state: r.state,
      lease_free: ctx.leases.runtimeFree(place.runtime),
      // Plus what its backend serves (chat, transcription, …), which requests name in `needs`.
      capabilities: [...capabilitiesOf(place, ctx.sandboxes), ...getAdapter(r.spec.adapter).capabilities],
    };
    const p95 = candidateP95(place.key, r.view, ctx.routedP95);
    if (p95 !== undefined) candidate.p95_ms = p95;
    const params = numberField(fromMatrix, "parameter_count") ?? ctx.parameterCount(r.spec);
    if (params !== undefined) candidate.parameter_count = params;
    return candidate;
  });
}

/** A candidate's latency: of the requests routed to its cell, else what its backend or probes report. */
export function candidateP95(
  cellKey: string,
  view: Pick<RuntimeView, "health" | "inference">,
  routedP95: (cellKey: string) => number | undefined,
): number | undefined {
  return routedP95(cellKey) ?? view.inference?.p95_ms ?? view.health.p95_ms;
}

/**
 * The same candidates with their latencies as they are now (the one input that moves with every request
 * and publishes no event); new objects, so a routing decision in progress keeps the set it started with.
 */
export function refreshLatencies(
  candidates: readonly Candidate[],
  views: ReadonlyMap<string, Pick<RuntimeView, "health" | "inference">>,
  routedP95: (cellKey: string) => number | undefined,
  updated: string,
): Candidate[] {
  return candidates.map((c) => {
    const view = c.runtimeId === undefined ? undefined : views.get(c.runtimeId);
    const next: Candidate = { ...c, cell: { ...c.cell, updated } };
    const p95 = view === undefined ? c.p95_ms : candidateP95(c.cell.key, view, routedP95);
    if (p95 === undefined) delete next.p95_ms;
    else next.p95_ms = p95;
    return next;
  });
}
