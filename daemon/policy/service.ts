/**
 * The policy service: pins and fallback, leases, idle stop and on-demand start, schedules, quick actions
 * (reload / switch) and chat routed through the matrix, wired onto the daemon's runtimes, store and bus.
 *
 * Runtime overrides that are NOT written to the configuration file and last until the next config reload:
 * `policy.set` (the switches go back to `policy:` in the file) and `runtime.reload` / `runtime.switch` (the
 * runtime goes back to its spec in the file). Pins and leases are persisted in the state file.
 */
import os from "node:os";
import type { Logger } from "pino";
import { rfc3339 } from "../../base/clock.js";
import { isRmxError, RmxError } from "../../base/errors.js";
import type { Daemon } from "../daemon.js";
import { RouteStats } from "../health/routes.js";
import { readGguf } from "../models/gguf.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import type {
  DaemonConfig,
  NodeEntry,
  PolicySpec,
  RuntimeSpec,
  RuntimeState,
  ScheduleSpec,
} from "../types.js";
import { placeOf } from "./candidates.js";
import { CHAT_ROUTE, respondChat } from "./chat.js";
import { IdleTracker } from "./idle.js";
import { type Lease, LeaseManager } from "./lease.js";
import { type PinRecord, PinStore, pinScopeKey } from "./pins.js";
import {
  checkHardware,
  checkModel,
  checkSandbox,
  keepsServing,
  type ModelCheck,
  type QuickActionHost,
} from "./quick-actions.js";
import { RequestStats } from "./request-stats.js";
import { Router } from "./routing.js";
import { Scheduler } from "./schedule.js";
import type {
  ChatParams,
  ChatResult,
  LeaseAcquireParams,
  LeaseResult,
  PinScopeParams,
  PinSetParams,
  PolicySetParams,
  PolicyView,
  QuickActionResult,
  ReloadParams,
  ResolveParams,
  ResolveResult,
  SwitchParams,
} from "./wire.js";

export interface PolicyService {
  /** Routed-request statistics for the node entry's `http` block. */
  http(): NodeEntry["http"] | undefined;
  onConfig(config: DaemonConfig): void;
  stop(): void;
}

/** Window of the node entry's `http` block. */
const HTTP_WINDOW_MS = 300_000;
const DEFAULT_WAKE_TIMEOUT_MS = 120_000;
const DEFAULT_QUICK_WAIT_MS = 120_000;
const SETTLED: readonly RuntimeState[] = ["ready", "failed", "exhausted", "stopped"];
const OVERRIDE_NOTE =
  "the new spec is kept in memory until the next config reload; edit the config file to make it permanent";

export class Policy implements PolicyService {
  readonly pins: PinStore;
  readonly leases: LeaseManager;
  readonly router: Router;
  private readonly idle: IdleTracker;
  private scheduler: Scheduler;
  private schedulerTimezone: string | undefined;
  private readonly stats: RequestStats;
  private readonly routes: RouteStats;
  private readonly inflight = new Map<string, number>();
  private readonly overridden = new Set<string>();
  private readonly parameterCache = new Map<string, number>();
  private switches: PolicySpec;
  private switchesOverridden = false;
  private readonly logger: Logger;
  private offBus: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly daemon: Daemon) {
    const clock = daemon.clock;
    this.logger = daemon.logger.child({ component: "policy" });
    this.switches = { ...daemon.config.policy };
    this.stats = new RequestStats(clock);
    this.routes = new RouteStats(clock);
    this.pins = new PinStore(
      this.validStoredPins(),
      (all) =>
        daemon.store.update((draft) => {
          draft.pins = all;
        }),
      clock,
    );
    this.router = new Router({
      clock,
      bus: daemon.bus,
      runtimes: () => daemon.runtimes.values(),
      lookupModel: (m) => daemon.models.get(m),
      sandboxes: () => daemon.sandboxes,
      matrixCells: () => daemon.matrix?.cells() ?? [],
      leasesHeld: (target) => this.leases.held(target),
      routedP95: (key) => this.stats.forCell(key).p95_ms,
      parameterCount: (spec) => this.parameterCount(spec),
      pins: this.pins,
      policy: () => this.switches,
    });
    this.leases = new LeaseManager({
      clock,
      capacityOf: (target) => this.router.leaseBook().capacityOf(target),
      capabilitiesOf: (target) => this.router.capabilitiesOfTarget(target),
      persist: (leases) =>
        daemon.store.update((draft) => {
          draft.leases = leases;
        }),
      emit: (topic, lease) => {
        daemon.bus.publish(topic, lease);
        this.syncBusy();
      },
      onPersistError: (error) => this.logger.error({ err: error }, "could not persist leases"),
    });
    this.idle = new IdleTracker({ clock, onIdle: (id) => this.onIdle(id) });
    this.schedulerTimezone = daemon.config.timezone;
    this.scheduler = this.newScheduler(this.schedulerTimezone);
  }

  /** Restores leases, arms idle timers and schedules, and starts following runtime state. */
  start(): void {
    const kept = this.leases.restore(this.daemon.store.get().leases.filter(isStoredLease));
    if (kept.length > 0)
      this.logger.info({ leases: kept.length }, "leases restored with their remaining time");
    for (const rt of this.daemon.runtimes.values()) this.idle.configure(rt.id, rt.spec.idle_ttl_ms);
    this.syncBusy();
    this.setSchedules(this.daemon.config.schedule);
    this.offBus = this.daemon.bus.subscribe(["runtime.state.changed"], (event) => {
      const p = event.payload as { id: string; to: RuntimeState };
      // The idle period starts when the runtime is ready, not when it was asked to start.
      if (p.to === "ready") this.idle.touch(p.id);
      this.router.scheduleEvaluation();
    });
    // Held leases show in each cell's load in the matrix.
    this.daemon.matrix?.setLeaseCounter((key) => {
      const book = this.router.leaseBook();
      const capacity = book.cellSlots(key);
      // A cell no runtime serves has no slots of ours: the matrix keeps its default.
      return capacity === 0 ? undefined : { held: book.cellHeld(key), capacity };
    });
    void this.warmParameterCounts();
  }

  // ─── PolicyService ──────────────────────────────────────────────────────────

  http(): NodeEntry["http"] {
    return this.routes.snapshot(HTTP_WINDOW_MS);
  }

  onConfig(config: DaemonConfig): void {
    this.switches = { ...config.policy };
    this.switchesOverridden = false;
    for (const id of this.overridden) {
      const rt = this.daemon.runtimes.get(id);
      const fileSpec = config.runtimes.find((s) => s.id === id);
      // A runtime the reload rebuilt already runs its file spec; one it left alone goes back to it.
      if (rt !== undefined && fileSpec !== undefined && rt.spec !== fileSpec) rt.reconfigure(fileSpec);
    }
    this.overridden.clear();
    const ids = new Set(config.runtimes.map((s) => s.id));
    for (const rt of this.daemon.runtimes.values()) this.idle.configure(rt.id, rt.spec.idle_ttl_ms);
    for (const id of this.inflight.keys()) if (!ids.has(id)) this.inflight.delete(id);
    if (config.timezone !== this.schedulerTimezone) {
      this.scheduler.stop();
      this.schedulerTimezone = config.timezone;
      this.scheduler = this.newScheduler(config.timezone);
    }
    this.setSchedules(config.schedule);
    this.leases.capacityChanged();
    this.syncBusy();
    void this.warmParameterCounts();
    this.router.scheduleEvaluation();
  }

  stop(): void {
    this.stopped = true;
    this.offBus?.();
    this.router.stop();
    this.leases.stop();
    this.idle.stop();
    this.scheduler.stop();
  }

  // ─── Policy switches ────────────────────────────────────────────────────────

  view(): PolicyView {
    const view: PolicyView = {
      allow_fallback: this.switches.allow_fallback,
      allow_remote: this.switches.allow_remote,
      allow_cpu: this.switches.allow_cpu,
      restore_after_ms: this.switches.restore_after_ms,
      overridden: this.switchesOverridden,
      fallback: this.router.fallback.list(),
      schedules: this.scheduler.list(),
    };
    if (this.switches.required_sandbox !== undefined) view.required_sandbox = this.switches.required_sandbox;
    return view;
  }

  setSwitches(patch: PolicySetParams): PolicyView {
    const next: PolicySpec = { ...this.switches };
    if (patch.allow_fallback !== undefined) next.allow_fallback = patch.allow_fallback;
    if (patch.allow_remote !== undefined) next.allow_remote = patch.allow_remote;
    if (patch.allow_cpu !== undefined) next.allow_cpu = patch.allow_cpu;
    if (patch.restore_after_ms !== undefined) next.restore_after_ms = patch.restore_after_ms;
    if (patch.required_sandbox === null) delete next.required_sandbox;
    else if (patch.required_sandbox !== undefined) next.required_sandbox = patch.required_sandbox;
    this.switches = next;
    this.switchesOverridden = true;
    this.logger.info(
      { policy: next },
      "policy switches changed over the socket (not written to the config file)",
    );
    this.router.evaluateAll();
    return this.view();
  }

  // ─── Pins ───────────────────────────────────────────────────────────────────

  async setPin(p: PinSetParams): Promise<PinRecord> {
    const record = await this.pins.set(scopeOf(p), p.patterns);
    this.router.forget(record.scope);
    this.router.evaluateAll();
    return record;
  }

  async clearPin(p: PinScopeParams): Promise<{ scope: string; removed: boolean }> {
    const scope = pinScopeKey(scopeOf(p));
    const removed = await this.pins.clear(scopeOf(p));
    this.router.forget(scope);
    return { scope, removed };
  }

  // ─── Resolve & chat ─────────────────────────────────────────────────────────

  resolve(p: ResolveParams): ResolveResult {
    return this.router.resolve(p);
  }

  chat(p: ChatParams, notify?: (method: string, payload: unknown) => void): Promise<ChatResult> {
    return respondChat(
      {
        route: (req) => this.router.route(req),
        stickyNote: (routed) => this.router.stickyNote(routed),
        runtime: (id) => this.daemon.runtimes.get(id),
        placeOf: (rt) => placeOf(rt.spec, (m) => this.daemon.models.get(m)),
        ensureReady: (rt, deadline) => this.ensureReady(rt, deadline),
        begin: (id) => this.begin(id),
        record: (key, ms, ok) => this.record(key, ms, ok),
        now: () => this.daemon.clock.now(),
      },
      p,
      notify,
    );
  }

  // ─── Leases ─────────────────────────────────────────────────────────────────

  async acquireLease(p: LeaseAcquireParams): Promise<LeaseResult> {
    let lease: Lease;
    try {
      lease = await this.leases.acquire({
        target: p.target,
        capability: p.capability,
        ttl_ms: p.ttl_ms,
        holder: p.holder,
        ...(p.wait_ms !== undefined ? { wait_ms: p.wait_ms } : {}),
      });
    } catch (error) {
      throw this.explainFull(p.target, error);
    }
    try {
      await this.wake(p.target, this.daemon.clock.now() + (p.timeout_ms ?? DEFAULT_WAKE_TIMEOUT_MS));
    } catch (error) {
      await this.leases.release(lease.id).catch(() => undefined);
      throw error;
    }
    return { ...lease, runtimes: this.targetRuntimes(p.target) };
  }

  /** A full target's refusal names every lease that fills it: on the cell and on each of its runtimes. */
  private explainFull(target: string, error: unknown): unknown {
    if (!isRmxError(error, "LEASE_CAPACITY") || error.data?.waited_ms !== undefined || this.stopped)
      return error;
    const places = this.router.leaseBook().runtimesOf(target);
    if (places.length === 0) return error;
    const targets = new Set([target, ...places.map((p) => p.runtime), ...places.map((p) => p.key)]);
    const holding = this.leases.list().filter((l) => targets.has(l.target));
    const slots = places.reduce((n, p) => n + p.slots, 0);
    const who = holding.map((l) => `${l.holder} on ${l.target}`).join(", ");
    return new RmxError(
      "LEASE_CAPACITY",
      `lease on ${target}: all ${slots} slot(s) are held${who ? ` (${who})` : ""}`,
      { target, capacity: slots, held: holding.length, holders: holding.map((l) => l.holder) },
    );
  }

  async releaseLease(id: string): Promise<{ id: string; released: true }> {
    if (!(await this.leases.release(id))) {
      throw new RmxError("LEASE_NOT_FOUND", `lease ${id} not found (released, expired or never granted)`, {
        id,
      });
    }
    return { id, released: true };
  }

  // ─── Quick actions ──────────────────────────────────────────────────────────

  async reload(p: ReloadParams): Promise<QuickActionResult> {
    const rt = this.daemon.getRuntime(p.id);
    const spec = rt.spec;
    const keeps = keepsServing(spec, rt.state);
    const model = p.model ?? spec.model;
    let check: ModelCheck | undefined;
    if (spec.adapter !== "remote" && model !== undefined) {
      check = await checkModel(this.quickHost(), spec, model, spec.hardware, keeps);
    }
    const next: RuntimeSpec = model === undefined ? { ...spec } : { ...spec, model };
    return this.applySpec(rt, spec, next, "reload", p, check);
  }

  async switchRuntime(p: SwitchParams): Promise<QuickActionResult> {
    const rt = this.daemon.getRuntime(p.id);
    const spec = rt.spec;
    const keeps = keepsServing(spec, rt.state);
    if (p.sandbox === undefined && p.hardware === undefined) {
      throw new RmxError(
        "CONFIG_INVALID",
        `runtime.switch ${spec.id}: give a sandbox, a hardware id, or both`,
        {
          id: spec.id,
        },
      );
    }
    if (spec.adapter === "remote") {
      throw new RmxError(
        "CONFIG_INVALID",
        `runtime ${spec.id} is remote: it has no hardware or sandbox to switch`,
        {
          id: spec.id,
        },
      );
    }
    const host = this.quickHost();
    const hardware = p.hardware === undefined ? spec.hardware : checkHardware(host, p.hardware, keeps);
    const sandbox = p.sandbox === undefined ? spec.sandbox.kind : checkSandbox(host, p.sandbox, keeps);
    let check: ModelCheck | undefined;
    if (spec.model !== undefined && hardware !== spec.hardware) {
      check = await checkModel(host, spec, spec.model, hardware, keeps);
    }
    const next: RuntimeSpec = { ...spec, hardware, sandbox: { ...spec.sandbox, kind: sandbox } };
    return this.applySpec(rt, spec, next, "switch", p, check);
  }

  // ─── Internals ──────────────────────────────────────────────────────────────

  private async applySpec(
    rt: RuntimeSupervisor,
    previous: RuntimeSpec,
    next: RuntimeSpec,
    action: "reload" | "switch",
    p: { wait?: boolean; timeout_ms?: number },
    check: ModelCheck | undefined,
  ): Promise<QuickActionResult> {
    if (this.daemon.runtimes.get(rt.id) !== rt || rt.spec !== previous) {
      throw new RmxError(
        "RUNTIME_BUSY",
        `runtime ${rt.id} changed while ${action} was being checked; try again`,
        {
          id: rt.id,
        },
      );
    }
    const willRestart = rt.desired === "running" && rt.state !== "idle";
    const timeoutMs = p.timeout_ms ?? DEFAULT_QUICK_WAIT_MS;
    const settled =
      p.wait === true && willRestart
        ? this.daemon.bus
            .waitFor<{ id: string; to: RuntimeState }>(
              "runtime.state.changed",
              (e) => e.id === rt.id && SETTLED.includes(e.to),
              timeoutMs,
            )
            .then(
              (e) => ({ outcome: e.payload.to as QuickActionResult["outcome"] }),
              () => ({
                outcome: "timeout" as const,
                detail: `not settled within ${timeoutMs} ms (state ${rt.state})`,
              }),
            )
        : undefined;
    rt.reconfigure(next);
    this.overridden.add(rt.id);
    this.idle.configure(rt.id, next.idle_ttl_ms);
    this.logger.info(
      { runtime: rt.id, action, model: next.model, hardware: next.hardware, sandbox: next.sandbox.kind },
      `runtime ${action}: ${OVERRIDE_NOTE}`,
    );
    if (check !== undefined && next.model !== undefined)
      this.parameterCache.set(check.path, check.parameter_count);
    const result: QuickActionResult = {
      id: rt.id,
      action,
      hardware: next.hardware,
      previous_hardware: previous.hardware,
      sandbox: next.sandbox.kind,
      previous_sandbox: previous.sandbox.kind,
      restarted: willRestart,
      state: rt.state,
      restart_budget: rt.budget(),
      note: willRestart
        ? OVERRIDE_NOTE
        : `${rt.id} is ${rt.state}: the change applies at its next start; ${OVERRIDE_NOTE}`,
    };
    if (next.model !== undefined) result.model = next.model;
    if (previous.model !== undefined) result.previous_model = previous.model;
    if (check !== undefined) {
      const { fits, reason } = check.fit;
      result.fit = { fits, reason };
      if (check.fit.need_bytes !== undefined) result.fit.need_bytes = check.fit.need_bytes;
      if (check.fit.available_bytes !== undefined) result.fit.available_bytes = check.fit.available_bytes;
    }
    if (settled !== undefined) {
      const s = await settled;
      result.outcome = s.outcome;
      const reason = rt.view().reason;
      if ("detail" in s && s.detail !== undefined) result.detail = s.detail;
      else if (reason !== undefined && s.outcome !== "ready") result.detail = reason;
      result.state = rt.state;
      result.restart_budget = rt.budget();
    }
    return result;
  }

  private quickHost(): QuickActionHost {
    const d = this.daemon;
    return {
      resolveModelPath: (m) => d.resolveModelPath(m),
      resolveHardware: (id) => d.resolveHardware(id),
      inventory: d.inventory,
      sandboxes: d.sandboxes,
      freeMemory: () => os.freemem(),
    };
  }

  /** Wakes idle runtimes a lease target names and waits until one is ready. */
  private async wake(target: string, deadline: number): Promise<void> {
    const runtimes = this.router
      .leaseBook()
      .runtimesOf(target)
      .map((p) => this.daemon.runtimes.get(p.runtime))
      .filter((rt): rt is RuntimeSupervisor => rt !== undefined);
    if (runtimes.length === 0 || runtimes.some((rt) => rt.state === "ready")) return;
    const sleeper = runtimes.find((rt) => rt.state === "idle");
    if (sleeper !== undefined) await this.ensureReady(sleeper, deadline);
  }

  private targetRuntimes(target: string): LeaseResult["runtimes"] {
    return this.router
      .leaseBook()
      .runtimesOf(target)
      .flatMap((p) => {
        const rt = this.daemon.runtimes.get(p.runtime);
        if (rt === undefined) return [];
        const endpoint = rt.endpoint;
        return [{ id: rt.id, state: rt.state, ...(endpoint !== undefined ? { endpoint } : {}) }];
      });
  }

  /**
   * An idle runtime is started (no restart budget: idle is not a failure) and awaited until ready; one caught
   * going idle in the meantime is started again.
   */
  private async ensureReady(rt: RuntimeSupervisor, deadline: number): Promise<void> {
    for (;;) {
      if (rt.state === "ready") return;
      if (rt.state === "idle") {
        this.logger.info({ runtime: rt.id }, "starting an idle runtime on demand");
        this.idle.touch(rt.id);
        rt.start();
      }
      const remaining = deadline - this.daemon.clock.now();
      if (remaining <= 0) throw timeoutError(rt, 0);
      let state: RuntimeState;
      try {
        state = await rt.waitForState(["ready", "failed", "exhausted", "stopped", "idle"], remaining);
      } catch {
        throw timeoutError(rt, remaining);
      }
      if (state === "ready" || state === "idle") continue;
      const reason = rt.view().reason;
      throw new RmxError(
        "BACKEND_FAILED",
        `runtime ${rt.id} did not become ready: ${state}${reason ? ` (${reason})` : ""}`,
        { id: rt.id, state },
      );
    }
  }

  private onIdle(id: string): void {
    const rt = this.daemon.runtimes.get(id);
    if (this.stopped || rt === undefined || rt.state !== "ready" || this.busy(id) > 0) return;
    this.logger.info({ runtime: id, idle_ttl_ms: rt.spec.idle_ttl_ms }, "stopping an idle runtime");
    rt.idle();
  }

  private busy(id: string): number {
    return this.router.leaseBook().busyLeases(id) + (this.inflight.get(id) ?? 0);
  }

  /** Leases and requests in flight both keep a runtime from idling. */
  private syncBusy(): void {
    const book = this.router.leaseBook();
    for (const rt of this.daemon.runtimes.values()) {
      this.idle.setLeases(rt.id, book.busyLeases(rt.id) + (this.inflight.get(rt.id) ?? 0));
    }
  }

  private begin(id: string): () => void {
    this.inflight.set(id, (this.inflight.get(id) ?? 0) + 1);
    this.idle.touch(id);
    this.syncBusy();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.inflight.get(id) ?? 1) - 1;
      if (n <= 0) this.inflight.delete(id);
      else this.inflight.set(id, n);
      this.idle.touch(id);
      this.syncBusy();
    };
  }

  private record(cellKey: string, ms: number, ok: boolean): void {
    this.stats.record(cellKey, CHAT_ROUTE, ms, ok);
    this.routes.record(`${CHAT_ROUTE} on ${cellKey}`, ms, ok);
    this.daemon.noteChange();
  }

  private newScheduler(timezone: string | undefined): Scheduler {
    return new Scheduler({
      ...(timezone !== undefined ? { timezone } : {}),
      onFire: (entry, at) => this.onSchedule(entry, at),
      onError: (error, entry) =>
        this.logger.error({ err: error, schedule: entry.id }, "schedule action failed"),
    });
  }

  private setSchedules(entries: ScheduleSpec[]): void {
    try {
      this.scheduler.set(entries);
    } catch (error) {
      this.logger.error({ err: error }, "schedules not applied; the previous ones stay");
    }
  }

  private onSchedule(entry: ScheduleSpec, at: Date): void {
    const payload: Record<string, unknown> = {
      id: entry.id,
      action: entry.action,
      runtime: entry.runtime,
      at: rfc3339(at.getTime()),
    };
    const rt = this.daemon.runtimes.get(entry.runtime);
    if (rt === undefined) {
      payload.error = `runtime ${entry.runtime} is not configured`;
    } else {
      try {
        if (entry.action === "start") {
          const r = rt.start();
          if (r.effects.some((e) => e.type === "denied")) payload.error = "Restart budget exhausted";
        } else if (entry.action === "stop") {
          rt.stop();
        } else {
          rt.restore({ restart: true, reset_budget: false });
        }
      } catch (error) {
        payload.error = error instanceof Error ? error.message : String(error);
      }
      payload.state = rt.state;
    }
    this.daemon.bus.publish("schedule.fired", payload);
    const log = payload.error === undefined ? "info" : "warn";
    this.logger[log](payload, `schedule ${entry.id}: ${entry.action} ${entry.runtime}`);
  }

  private parameterCount(spec: RuntimeSpec): number | undefined {
    if (spec.model === undefined) return undefined;
    const entry = this.daemon.models.get(spec.model);
    if (entry?.gguf !== undefined) return entry.gguf.parameter_count;
    return this.parameterCache.get(entry?.path ?? spec.model);
  }

  /** Reads the GGUF header of runtime models the catalog does not describe (paths outside model_dirs). */
  private async warmParameterCounts(): Promise<void> {
    for (const rt of [...this.daemon.runtimes.values()]) {
      const model = rt.spec.model;
      if (model === undefined || rt.spec.adapter === "remote") continue;
      const entry = this.daemon.models.get(model);
      if (entry?.gguf !== undefined) continue;
      const file = entry?.path ?? model;
      if (this.parameterCache.has(file)) continue;
      try {
        this.parameterCache.set(file, (await readGguf(file)).parameter_count);
      } catch {
        // Unreadable: its size stays unknown and `deep` ranks it last.
      }
    }
  }

  private validStoredPins(): PinRecord[] {
    return this.daemon.store.get().pins.filter((record) => {
      try {
        new PinStore([record], async () => {});
        return true;
      } catch (error) {
        this.logger.warn({ err: error, scope: record.scope }, "ignoring an unreadable stored pin");
        return false;
      }
    });
  }
}

/** The state file is ours, but a hand-edited entry must not stop the daemon: unreadable leases are dropped. */
function isStoredLease(value: unknown): value is Lease {
  if (typeof value !== "object" || value === null) return false;
  const l = value as Record<string, unknown>;
  return (
    ["id", "target", "capability", "holder", "acquired_at", "expires_at"].every(
      (k) => typeof l[k] === "string",
    ) && typeof l.ttl_ms === "number"
  );
}

function scopeOf(p: PinScopeParams): { agent?: string; project?: string } {
  return {
    ...(p.agent !== undefined ? { agent: p.agent } : {}),
    ...(p.project !== undefined ? { project: p.project } : {}),
  };
}

function timeoutError(rt: RuntimeSupervisor, waitedMs: number): RmxError {
  return new RmxError(
    "TIMEOUT",
    `runtime ${rt.id} did not become ready within ${Math.round(waitedMs)} ms (state ${rt.state})`,
    { id: rt.id, state: rt.state },
  );
}

export async function attachPolicy(daemon: Daemon): Promise<PolicyService> {
  const policy = new Policy(daemon);
  policy.start();
  return policy;
}
