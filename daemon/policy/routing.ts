/**
 * Routing: turns a request into the cell and runtime that serve it. Builds the candidates from the live
 * runtimes, resolves with the scope's pin and the policy switches, and — for a scope's default routing
 * (balanced, no model or SLO or needs) — keeps users on their fallback cell until their pinned cell has been
 * healthy for `restore_after`. The pinned scopes are also re-evaluated on every runtime state change and
 * when a restore falls due, so `policy.fallback` / `policy.restored` fire without any request.
 */

import type { Clock } from "../../base/clock.js";
import { rfc3339 } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { PolicySpec, RuntimeSpec } from "../../base/spec.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { ModelEntry } from "../../ipc/protocol/models.js";
import type { CellRef, PinRecord, ResolveResult } from "../../ipc/protocol/policy.js";
import type { RuntimeView } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";
import type { SandboxDetection } from "../sandbox/detect.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import {
  buildCandidates,
  capabilitiesOf,
  LeaseBook,
  placeOf,
  type RuntimePlace,
  refreshLatencies,
} from "./candidates.js";
import { FallbackTracker } from "./fallback.js";
import type { PinStore } from "./pins.js";
import type { Candidate, Resolution, ResolveRequest } from "./resolve.js";
import { resolveCell } from "./resolve.js";

export interface RoutingHost {
  clock: Clock;
  bus: EventBus;
  runtimes: () => Iterable<RuntimeSupervisor>;
  lookupModel: (idOrPath: string) => ModelEntry | undefined;
  sandboxes: () => readonly SandboxDetection[];
  matrixCells: () => readonly MatrixCell[];
  leasesHeld: (target: string) => number;
  routedP95: (cellKey: string) => number | undefined;
  parameterCount: (spec: RuntimeSpec) => number | undefined;
  pins: PinStore;
  policy: () => PolicySpec;
}

export interface Routed {
  resolution: Resolution;
  /** Who serves: the tracker's cell for tracked scopes, else the resolution's choice. */
  serve?: CellRef;
  /** The pin scope the request fell under. */
  scope?: string;
  candidates: Candidate[];
}

/** Requests whose routing the fallback tracker follows: a scope's default (balanced, unconstrained) routing. */
function isDefaultRouting(req: ResolveRequest): boolean {
  return (
    (req.mode ?? "balanced") === "balanced" &&
    req.model === undefined &&
    req.slo_ms === undefined &&
    (req.needs === undefined || req.needs.length === 0)
  );
}

const MAX_LISTED = 6;
/** Routing decisions kept per build of the candidates; more distinct requests than this start over. */
const MAX_MEMO = 64;

/** A decision of a request the fallback tracker does not follow, and the inputs it was made on. */
interface Memo {
  asked: ResolveRequest;
  pin: PinRecord | undefined;
  routed: Routed;
}

/**
 * How long one build of the candidates serves requests: building them (every runtime's view, the matrix
 * cells, the lease book) was most of the gateway's own cost per request. Anything that changes them
 * publishes an event (below) that drops the cache at once; only the routed p95s may be this much stale.
 */
/**
 * Candidates are built again on the events that change them (INVALIDATING_TOPICS) and at the latest
 * every CANDIDATES_REBUILD_MS (a change that publishes nothing); in between, only their latencies, which
 * move with every request, are refreshed every CANDIDATES_TTL_MS. A full build (the matrix's cells,
 * leases, sandboxes) cost more than the routing decision every 100 ms under load.
 */
const CANDIDATES_TTL_MS = 100;
const CANDIDATES_REBUILD_MS = 2000;
/**
 * Not "runtime.*": runtime.health comes every health interval and only carries latencies (refreshed
 * on their own) and statuses (which follow runtime.state.changed); subscribing to it also made the
 * health publisher compose a status snapshot nobody else asked for.
 */
const INVALIDATING_TOPICS = [
  "runtime.state.changed",
  "runtime.exited",
  "runtime.restart",
  "runtime.budget.denied",
  "runtime.probe.failed",
  "runtime.reload.failed",
  "runtime.swap",
  "lease.*",
  // Not matrix.changed: following it would make the matrix compose every tick for nobody (compute on read);
  // what changes a cell's eligibility arrives as the runtime events above, and the 2 s rebuild covers the rest.
  "models.changed",
  "hardware.inventory",
  "config.reloaded",
];

/** Whether something made at `since` is under `ms` old at `now` (a clock set back makes it stale). */
function fresh(now: number, since: number, ms: number): boolean {
  return now - since >= 0 && now - since < ms;
}

/**
 * What resolveCell reads of a request besides its pin (agent and project only select the pin). Two
 * requests may share a key (a NUL in a name); `sameAsked` tells them apart, so a hit is always exact.
 */
function memoKey(req: ResolveRequest): string {
  return `${req.model ?? ""}\u0000${req.mode ?? ""}\u0000${req.slo_ms ?? ""}\u0000${req.needs?.join("\u0000") ?? ""}`;
}

function sameAsked(a: ResolveRequest, b: ResolveRequest): boolean {
  if (a.model !== b.model || a.mode !== b.mode || a.slo_ms !== b.slo_ms) return false;
  const x = a.needs;
  const y = b.needs;
  if (x === undefined || y === undefined) return x === y;
  return x.length === y.length && x.every((n, i) => n === y[i]);
}

export function noEligibleCell(req: ResolveRequest, routed: Routed): RmxError {
  const asked = [
    req.agent !== undefined ? `agent ${req.agent}` : undefined,
    req.project !== undefined ? `project ${req.project}` : undefined,
    req.model !== undefined ? `model ${req.model}` : undefined,
    `mode ${routed.resolution.mode}`,
  ].filter((x) => x !== undefined);
  const passed = routed.resolution.passed_over;
  const lines = passed
    .slice(0, MAX_LISTED)
    .map((p) => `${p.cell}${p.runtime ? ` (runtime ${p.runtime})` : ""}: ${p.why} (${p.detail})`);
  if (passed.length > MAX_LISTED) lines.push(`and ${passed.length - MAX_LISTED} more`);
  const why = passed.length === 0 ? "no runtime is configured" : lines.join("; ");
  return new RmxError("NO_ELIGIBLE_CELL", `no eligible cell for ${asked.join(", ")}: ${why}`, {
    passed_over: passed,
    mode: routed.resolution.mode,
    ...(routed.resolution.pin ? { pin: routed.resolution.pin } : {}),
    ...(routed.resolution.note ? { note: routed.resolution.note } : {}),
  });
}

export class Router {
  readonly fallback: FallbackTracker;
  private evaluationQueued = false;
  private restoreTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private cached: { builtAt: number; at: number; candidates: Candidate[] } | undefined;
  /** The lease book's places change with the runtimes' specs: on the same events as the candidates. */
  private book: { at: number; book: LeaseBook } | undefined;
  private readonly offBus: () => void;
  /**
   * resolveCell is pure over the request, the candidates, the pin and the switches: a request routed again
   * against the same (identical) inputs gets the same decision, shared (callers only read it).
   */
  private memo: { candidates: Candidate[]; policy: PolicySpec; byRequest: Map<string, Memo> } | undefined;

  constructor(private readonly host: RoutingHost) {
    this.offBus = host.bus.subscribe(INVALIDATING_TOPICS, () => this.invalidate());
    const policy = host.policy;
    this.fallback = new FallbackTracker({
      clock: host.clock,
      // A getter: `policy.set` changes the restore period of scopes already on fallback.
      get restoreAfterMs() {
        return policy().restore_after_ms;
      },
      emit: (topic, payload) => host.bus.publish(topic, payload),
    });
  }

  places(): RuntimePlace[] {
    return [...this.host.runtimes()].map((rt) => placeOf(rt.spec, this.host.lookupModel));
  }

  /** The book's counts are live (`leasesHeld`); only its places are kept, as the candidates are. */
  leaseBook(): LeaseBook {
    const now = this.host.clock.now();
    const hit = this.book;
    if (hit !== undefined && now - hit.at >= 0 && now - hit.at < CANDIDATES_REBUILD_MS) return hit.book;
    const book = new LeaseBook(this.places(), this.host.leasesHeld);
    this.book = { at: now, book };
    return book;
  }

  /** Capabilities a lease target offers: those of the runtime, or of any runtime in the cell. */
  capabilitiesOfTarget(target: string): string[] {
    const sandboxes = this.host.sandboxes();
    const caps = new Set<string>();
    for (const place of this.leaseBook().runtimesOf(target)) {
      for (const c of capabilitiesOf(place, sandboxes)) caps.add(c);
    }
    return [...caps];
  }

  /** The candidates now: built on the events that change them; latencies at most CANDIDATES_TTL_MS old. */
  candidates(): Candidate[] {
    const now = this.host.clock.now();
    const hit = this.cached;
    if (hit !== undefined && fresh(now, hit.builtAt, CANDIDATES_REBUILD_MS)) {
      if (fresh(now, hit.at, CANDIDATES_TTL_MS)) return hit.candidates;
      const views = new Map<string, RuntimeView>();
      for (const rt of this.host.runtimes()) views.set(rt.id, rt.view());
      hit.candidates = refreshLatencies(hit.candidates, views, this.host.routedP95, rfc3339(now));
      hit.at = now;
      return hit.candidates;
    }
    const candidates = this.buildCandidates();
    this.cached = { builtAt: now, at: now, candidates };
    return candidates;
  }

  /** Drops the cached candidates (a change that publishes no event). */
  invalidate(): void {
    this.cached = undefined;
    this.book = undefined;
    this.memo = undefined;
  }

  private buildCandidates(): Candidate[] {
    const runtimes = [...this.host.runtimes()];
    return buildCandidates(
      runtimes.map((rt) => ({ spec: rt.spec, state: rt.state, view: rt.view() })),
      {
        lookupModel: this.host.lookupModel,
        sandboxes: this.host.sandboxes(),
        matrixCells: this.host.matrixCells(),
        leases: this.leaseBook(),
        routedP95: this.host.routedP95,
        parameterCount: this.host.parameterCount,
        updated: rfc3339(this.host.clock.now()),
      },
    );
  }

  route(req: ResolveRequest): Routed {
    const candidates = this.candidates();
    const pin = this.host.pins.lookup(
      req.agent === undefined && req.project === undefined
        ? {}
        : {
            ...(req.agent !== undefined ? { agent: req.agent } : {}),
            ...(req.project !== undefined ? { project: req.project } : {}),
          },
    );
    const policy = this.host.policy();
    // Only the tracker's requests have side effects (and a decision that changes with time): never memoised.
    const key = isDefaultRouting(req) ? undefined : memoKey(req);
    if (key !== undefined) {
      const hit = this.memoFor(candidates, policy).get(key);
      if (hit !== undefined && hit.pin === pin && sameAsked(hit.asked, req)) return hit.routed;
    }
    const resolution = resolveCell(req, candidates, pin, policy);
    const routed: Routed = { resolution, candidates };
    if (pin !== undefined) routed.scope = pin.scope;
    if (resolution.chosen !== undefined) routed.serve = resolution.chosen;
    if (key !== undefined) {
      const byRequest = this.memoFor(candidates, policy);
      if (byRequest.size >= MAX_MEMO) byRequest.clear();
      const asked: ResolveRequest = {};
      if (req.model !== undefined) asked.model = req.model;
      if (req.mode !== undefined) asked.mode = req.mode;
      if (req.slo_ms !== undefined) asked.slo_ms = req.slo_ms;
      // A copy: the caller's array may change after this.
      if (req.needs !== undefined) asked.needs = [...req.needs];
      byRequest.set(key, { asked, pin, routed });
      return routed;
    }
    const preferred = resolution.preferred;
    if (pin === undefined || preferred === undefined) return routed;

    const prefCandidate = candidates.find(
      (c) => c.cell.key === preferred.cell && c.runtimeId === preferred.runtime,
    );
    const tracked = this.fallback.list().some((s) => s.scope === pin.scope && s.preferred === preferred.cell);
    // A pinned runtime still coming up at daemon start is not a failure: start following it once it has settled.
    if (!tracked && prefCandidate?.state === "starting") return routed;
    const { cell } = this.fallback.observe(
      pin.scope,
      preferred.cell,
      prefCandidate?.healthy ?? false,
      resolution,
    );
    this.armRestore();
    if (cell === undefined) {
      delete routed.serve;
      return routed;
    }
    const ref =
      resolution.chosen?.cell === cell ? resolution.chosen : resolution.ranked.find((r) => r.cell === cell);
    if (ref !== undefined) routed.serve = ref;
    return routed;
  }

  /** The memo of the current candidates and switches (a new one when either changed). */
  private memoFor(candidates: Candidate[], policy: PolicySpec): Map<string, Memo> {
    const m = this.memo;
    if (m !== undefined && m.candidates === candidates && m.policy === policy) return m.byRequest;
    const byRequest = new Map<string, Memo>();
    this.memo = { candidates, policy, byRequest };
    return byRequest;
  }

  /** The answer of `runtime.resolve`. Throws NO_ELIGIBLE_CELL with every passed-over cell in `data`. */
  resolve(req: ResolveRequest): ResolveResult {
    const routed = this.route(req);
    if (routed.serve === undefined) throw noEligibleCell(req, routed);
    const r = routed.resolution;
    const result: ResolveResult = {
      mode: r.mode,
      chosen: routed.serve,
      passed_over: r.passed_over,
      fallback: r.preferred !== undefined ? routed.serve.cell !== r.preferred.cell : r.fallback,
      ranked: r.ranked,
    };
    if (r.also !== undefined) result.also = r.also;
    if (r.pin !== undefined && routed.scope !== undefined)
      result.pin = { scope: routed.scope, patterns: r.pin };
    if (r.preferred !== undefined) result.preferred = r.preferred;
    const note = this.stickyNote(routed) ?? r.note;
    if (note !== undefined) result.note = note;
    return result;
  }

  /** Why users are not on their pinned cell although it passes the checks now. */
  stickyNote(routed: Routed): string | undefined {
    const preferred = routed.resolution.preferred;
    if (preferred === undefined || routed.serve === undefined || routed.serve.cell === preferred.cell) {
      return undefined;
    }
    const view = this.fallback.list().find((s) => s.scope === routed.scope);
    if (view === undefined || !view.on_fallback || view.preferred_healthy_since === undefined)
      return undefined;
    return `staying on ${routed.serve.cell} until ${preferred.cell} has been healthy for ${this.host.policy().restore_after_ms} ms (healthy since ${view.preferred_healthy_since})`;
  }

  /** Re-evaluates every pinned scope soon (coalesced): runtime state changes call this. */
  scheduleEvaluation(): void {
    if (this.evaluationQueued || this.stopped) return;
    this.evaluationQueued = true;
    setImmediate(() => {
      this.evaluationQueued = false;
      if (!this.stopped) this.evaluateAll();
    });
  }

  evaluateAll(): void {
    for (const pin of this.host.pins.list()) {
      this.route({
        ...(pin.agent !== undefined ? { agent: pin.agent } : {}),
        ...(pin.project !== undefined ? { project: pin.project } : {}),
      });
    }
    this.armRestore();
  }

  forget(scope: string): void {
    this.fallback.forget(scope);
  }

  stop(): void {
    this.stopped = true;
    this.offBus();
    this.invalidate();
    if (this.restoreTimer !== undefined) clearTimeout(this.restoreTimer);
    this.restoreTimer = undefined;
  }

  /** One timer for the earliest due restore: a scope on fallback whose preferred cell is healthy. */
  private armRestore(): void {
    if (this.restoreTimer !== undefined) clearTimeout(this.restoreTimer);
    this.restoreTimer = undefined;
    if (this.stopped) return;
    const after = this.host.policy().restore_after_ms;
    let due = Number.POSITIVE_INFINITY;
    for (const s of this.fallback.list()) {
      if (s.on_fallback && s.preferred_healthy_since !== undefined) {
        due = Math.min(due, Date.parse(s.preferred_healthy_since) + after);
      }
    }
    if (!Number.isFinite(due)) return;
    const delay = Math.min(Math.max(0, due - this.host.clock.now()) + 1, 2_147_483_647);
    this.restoreTimer = setTimeout(() => {
      this.restoreTimer = undefined;
      this.evaluateAll();
    }, delay);
    this.restoreTimer.unref();
  }
}
