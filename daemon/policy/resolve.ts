/**
 * Cell resolution: which cell (and runtime) serves a request, and why every other one was passed over.
 * Pure: the caller supplies the candidates (one per cell × runtime), the pin and the policy switches.
 *
 * Each candidate is checked in the order of `CHECK_ORDER`; the first failing check is its one reason.
 * The eligible ones are ranked by the mode:
 *  - balanced (default): the pin order — candidates matching pin 1, then pin 2, …, then unpinned ones —
 *    and inside each group local GPU before CPU before remote, then cell key, then runtime id;
 *  - quick: lowest p95 (unknown last), ties in balanced order;
 *  - deep: largest parameter_count (unknown last), ties in balanced order;
 *  - verified: the balanced first, plus (`also`) the first in balanced order with a different model.
 *
 * "The first allowed pin" is the first pin pattern that at least one candidate matches while passing the
 * static switches (model, remote, cpu, required sandbox). With `allow_fallback: false` only candidates of
 * that pin are eligible: other pinned ones get `fallback_not_allowed`, unpinned ones `not_pinned`.
 * With `allow_fallback: true` everything that passes the checks is eligible, pinned ones first.
 */

import { CAPABILITIES } from "../../adapters/types.js";
import type { SandboxKind } from "../../base/spec.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { CellRef, PassedOver, PassReason, PinRecord, ResolveMode } from "../../ipc/protocol/policy.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import type { PinPattern } from "./pins.js";
import { matchPin, parsePinPattern } from "./pins.js";

export interface Candidate {
  cell: MatrixCell;
  runtimeId?: string;
  remote: boolean;
  p95_ms?: number;
  parameter_count?: number;
  healthy: boolean;
  state?: RuntimeState;
  /** capacity - held */
  lease_free: number;
  /** What the cell offers: "gpu", "sandbox:bwrap", … A cell whose sandbox is not "none" must offer `sandbox:<kind>` when that sandbox works. */
  capabilities: string[];
}

export interface ResolveRequest {
  /** Who asks; the caller looks the pin up with these (`PinStore.lookup`) and passes it in. */
  agent?: string;
  project?: string;
  model?: string;
  mode?: ResolveMode;
  slo_ms?: number;
  /** Capabilities the request needs. */
  needs?: string[];
}

export interface PolicySwitches {
  allow_fallback: boolean;
  allow_remote: boolean;
  allow_cpu: boolean;
  required_sandbox?: SandboxKind;
}

/** The documented check order: a passed-over candidate's reason is the first of these that fails. */
export const CHECK_ORDER: readonly PassReason[] = [
  "model_mismatch",
  "remote_not_allowed",
  "cpu_not_allowed",
  "sandbox_required",
  "not_pinned",
  "fallback_not_allowed",
  "sandbox_unavailable",
  "does_not_fit",
  "exhausted",
  "unhealthy",
  "missing_capability",
  "no_lease_capacity",
  "over_slo",
];

export interface Resolution {
  chosen?: CellRef;
  /** verified: a second eligible cell with a different model. */
  also?: CellRef;
  passed_over: PassedOver[];
  mode: ResolveMode;
  /** The pin's patterns, when a pin applied. */
  pin?: string[];
  /** The chosen cell does not match the first allowed pin. */
  fallback: boolean;
  /** First candidate (balanced order, health ignored) of the first allowed pin: what users belong on. */
  preferred?: CellRef;
  /** Every eligible candidate, best first, in the mode's ranking; `chosen` is the first. */
  ranked: CellRef[];
  /** Why the answer is partial (verified with a single eligible model). */
  note?: string;
}

interface Failure {
  why: PassReason;
  detail: string;
}

function refOf(c: Candidate): CellRef {
  return c.runtimeId === undefined ? { cell: c.cell.key } : { cell: c.cell.key, runtime: c.runtimeId };
}

function hardwareRank(c: Candidate): number {
  if (c.remote) return 2;
  return c.cell.hardware === "cpu" ? 1 : 0;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function staticFailure(c: Candidate, req: ResolveRequest, policy: PolicySwitches): Failure | undefined {
  if (req.model !== undefined && c.cell.model !== req.model) {
    return { why: "model_mismatch", detail: `serves model ${c.cell.model}, request asks for ${req.model}` };
  }
  if (c.remote && !policy.allow_remote) {
    return { why: "remote_not_allowed", detail: "remote cell and policy allow_remote is false" };
  }
  if (!c.remote && c.cell.hardware === "cpu" && !policy.allow_cpu) {
    return { why: "cpu_not_allowed", detail: "CPU cell and policy allow_cpu is false" };
  }
  if (policy.required_sandbox !== undefined && c.cell.sandbox !== policy.required_sandbox) {
    return {
      why: "sandbox_required",
      detail: `sandbox ${c.cell.sandbox}, policy requires ${policy.required_sandbox}`,
    };
  }
  return undefined;
}

function runtimeName(c: Candidate): string {
  return c.runtimeId === undefined ? `cell ${c.cell.key}` : `runtime ${c.runtimeId}`;
}

function dynamicFailure(c: Candidate, req: ResolveRequest): Failure | undefined {
  if (c.cell.sandbox !== "none" && !c.capabilities.includes(`sandbox:${c.cell.sandbox}`)) {
    const why = c.cell.unavailable_reason === undefined ? "" : `: ${c.cell.unavailable_reason}`;
    return { why: "sandbox_unavailable", detail: `sandbox ${c.cell.sandbox} is not available here${why}` };
  }
  if (c.cell.fit.fits === false) {
    return { why: "does_not_fit", detail: c.cell.fit.reason };
  }
  if (c.state === "exhausted") {
    return { why: "exhausted", detail: `${runtimeName(c)} has exhausted its restart budget` };
  }
  if (!c.healthy || !c.cell.available) {
    const parts = [
      c.state === undefined ? undefined : `state ${c.state}`,
      c.cell.available ? undefined : (c.cell.unavailable_reason ?? "cell unavailable"),
    ].filter((p): p is string => p !== undefined);
    return {
      why: "unhealthy",
      detail: `${runtimeName(c)} is not healthy${parts.length > 0 ? ` (${parts.join("; ")})` : ""}`,
    };
  }
  const missing = servedNeeds(req.needs ?? [], c.capabilities).filter((n) => !c.capabilities.includes(n));
  if (missing.length > 0) {
    const offers = c.capabilities.length > 0 ? c.capabilities.join(", ") : "nothing";
    return { why: "missing_capability", detail: `needs ${missing.join(", ")}; offers ${offers}` };
  }
  if (c.lease_free <= 0) {
    return { why: "no_lease_capacity", detail: `every lease slot on ${c.cell.key} is held` };
  }
  if (req.slo_ms !== undefined && c.p95_ms !== undefined && c.p95_ms > req.slo_ms) {
    return { why: "over_slo", detail: `p95 ${Math.round(c.p95_ms)} ms exceeds the ${req.slo_ms} ms SLO` };
  }
  return undefined;
}

/**
 * A request that names no served capability (chat, transcription, …) is a chat request, so a cell that says
 * what it serves, and chat is not among it (whisper.cpp), is not eligible for it; the fallback tracker's
 * re-resolutions count as chat too. A candidate that names no served capability at all is not judged.
 */
const SERVED: ReadonlySet<string> = new Set<string>(CAPABILITIES);
function servedNeeds(needs: readonly string[], offers: readonly string[]): readonly string[] {
  const named = needs.some((n) => SERVED.has(n));
  return named || !offers.some((o) => SERVED.has(o)) ? needs : [...needs, "chat"];
}

export function resolveCell(
  req: ResolveRequest,
  candidates: Candidate[],
  pins: PinRecord | undefined,
  policy: PolicySwitches,
): Resolution {
  const mode: ResolveMode = req.mode ?? "balanced";
  const patterns: PinPattern[] = (pins?.patterns ?? []).map(parsePinPattern);
  const pinned = patterns.length > 0;

  const entries = candidates.map((c) => {
    const target = {
      model: c.cell.model,
      hardware: c.cell.hardware,
      sandbox: c.cell.sandbox,
      remote: c.remote,
    };
    const pinIndex = patterns.findIndex((p) => matchPin(p, target));
    return { c, pinIndex, staticFail: staticFailure(c, req, policy) };
  });
  type Entry = (typeof entries)[number];

  const rankOf = (e: Entry): number => (e.pinIndex < 0 ? patterns.length : e.pinIndex);
  const balanced = (a: Entry, b: Entry): number =>
    rankOf(a) - rankOf(b) ||
    hardwareRank(a.c) - hardwareRank(b.c) ||
    compareText(a.c.cell.key, b.c.cell.key) ||
    compareText(a.c.runtimeId ?? "", b.c.runtimeId ?? "");
  const ordered = [...entries].sort(balanced);

  let firstAllowed: number | undefined;
  for (const e of ordered) {
    if (e.pinIndex >= 0 && e.staticFail === undefined) {
      firstAllowed = e.pinIndex;
      break;
    }
  }
  const preferredEntry =
    firstAllowed === undefined
      ? undefined
      : ordered.find((e) => e.pinIndex === firstAllowed && e.staticFail === undefined);

  const pinFailure = (e: Entry): Failure | undefined => {
    if (!pinned || policy.allow_fallback) return undefined;
    const list = patterns.map((p) => p.source).join(", ");
    if (e.pinIndex < 0) {
      return { why: "not_pinned", detail: `matches none of the pins (${list}) and allow_fallback is false` };
    }
    if (firstAllowed !== undefined && e.pinIndex !== firstAllowed) {
      const mine = patterns[e.pinIndex]?.source;
      const first = patterns[firstAllowed]?.source;
      return {
        why: "fallback_not_allowed",
        detail: `matches pin ${mine} but only the first allowed pin ${first} may serve (allow_fallback is false)`,
      };
    }
    return undefined;
  };

  const eligible: Entry[] = [];
  const passed_over: PassedOver[] = [];
  for (const e of ordered) {
    const failure = e.staticFail ?? pinFailure(e) ?? dynamicFailure(e.c, req);
    if (failure === undefined) eligible.push(e);
    else passed_over.push({ ...refOf(e.c), why: failure.why, detail: failure.detail });
  }

  let ranked = eligible;
  if (mode === "quick") {
    const p95 = (e: Entry) => e.c.p95_ms ?? Number.POSITIVE_INFINITY;
    ranked = [...eligible].sort((a, b) => p95(a) - p95(b) || balanced(a, b));
  } else if (mode === "deep") {
    const params = (e: Entry) => e.c.parameter_count ?? Number.NEGATIVE_INFINITY;
    ranked = [...eligible].sort((a, b) => params(b) - params(a) || balanced(a, b));
  }

  const chosenEntry = ranked[0];
  const resolution: Resolution = {
    passed_over,
    mode,
    fallback: chosenEntry !== undefined && pinned && chosenEntry.pinIndex !== firstAllowed,
    ranked: ranked.map((e) => refOf(e.c)),
  };
  if (chosenEntry !== undefined) resolution.chosen = refOf(chosenEntry.c);
  if (pinned) resolution.pin = patterns.map((p) => p.source);
  if (preferredEntry !== undefined) resolution.preferred = refOf(preferredEntry.c);

  if (mode === "verified" && chosenEntry !== undefined) {
    const other = ranked.find((e) => e.c.cell.model !== chosenEntry.c.cell.model);
    if (other !== undefined) {
      resolution.also = refOf(other.c);
    } else {
      resolution.note = `verified needs two different models; only ${chosenEntry.c.cell.model} is eligible`;
    }
  }
  return resolution;
}
