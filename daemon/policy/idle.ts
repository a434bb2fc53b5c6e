/**
 * Idle tracking: fires `onIdle` once when a runtime has had no requests and no leases for its idle TTL.
 * One exact timer per runtime, re-armed by every touch; a runtime holding leases never idles, and its idle
 * period starts when the last lease goes. After firing, it fires again only after new activity.
 * `onIdle` must not throw.
 */
import type { Logger } from "pino";
import type { Clock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import { awaitSettled, type SettleBus } from "../supervise/settle.js";
import type { Timers } from "./timers.js";
import { delayUntil, realTimers } from "./timers.js";

interface Entry {
  ttlMs: number | undefined;
  lastActivity: number;
  leases: number;
  fired: boolean;
  timer: unknown;
}

export class IdleTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly timers: Timers;
  private stopped = false;

  constructor(private readonly opts: { clock: Clock; timers?: Timers; onIdle: (runtimeId: string) => void }) {
    this.timers = opts.timers ?? realTimers;
  }

  /** Sets (or, with undefined, disables) the idle TTL. The idle period keeps counting from the last activity. */
  configure(runtimeId: string, idleTtlMs: number | undefined): void {
    const e = this.entry(runtimeId);
    e.ttlMs = idleTtlMs !== undefined && Number.isFinite(idleTtlMs) && idleTtlMs > 0 ? idleTtlMs : undefined;
    this.arm(runtimeId, e);
  }

  /** A request was served (or the runtime was started): the idle period starts again. */
  touch(runtimeId: string): void {
    const e = this.entry(runtimeId);
    e.lastActivity = this.opts.clock.now();
    e.fired = false;
    this.arm(runtimeId, e);
  }

  setLeases(runtimeId: string, held: number): void {
    const e = this.entry(runtimeId);
    const before = e.leases;
    e.leases = Math.max(0, held);
    if (before > 0 && e.leases === 0) {
      e.lastActivity = this.opts.clock.now();
      e.fired = false;
    }
    this.arm(runtimeId, e);
  }

  remove(runtimeId: string): void {
    const e = this.entries.get(runtimeId);
    if (e === undefined) return;
    this.timers.clearTimeout(e.timer);
    this.entries.delete(runtimeId);
  }

  /** How long since the last activity; 0 while leases are held; undefined for an unknown runtime. */
  idleFor(runtimeId: string): number | undefined {
    const e = this.entries.get(runtimeId);
    if (e === undefined) return undefined;
    if (e.leases > 0) return 0;
    return Math.max(0, this.opts.clock.now() - e.lastActivity);
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) {
      this.timers.clearTimeout(e.timer);
      e.timer = undefined;
    }
  }

  private entry(runtimeId: string): Entry {
    let e = this.entries.get(runtimeId);
    if (e === undefined) {
      e = {
        ttlMs: undefined,
        lastActivity: this.opts.clock.now(),
        leases: 0,
        fired: false,
        timer: undefined,
      };
      this.entries.set(runtimeId, e);
    }
    return e;
  }

  private arm(runtimeId: string, e: Entry): void {
    if (e.timer !== undefined) this.timers.clearTimeout(e.timer);
    e.timer = undefined;
    if (this.stopped || e.ttlMs === undefined || e.leases > 0 || e.fired) return;
    const dueAt = e.lastActivity + e.ttlMs;
    e.timer = this.timers.setTimeout(
      () => {
        e.timer = undefined;
        if (this.entries.get(runtimeId) !== e) return;
        if (e.ttlMs !== undefined && e.leases === 0 && !e.fired && this.opts.clock.now() >= dueAt) {
          e.fired = true;
          this.opts.onIdle(runtimeId);
        } else {
          this.arm(runtimeId, e);
        }
      },
      delayUntil(dueAt, this.opts.clock.now()),
    );
  }
}

/** What runtime activity needs: the runtimes, and how many leases keep each one busy. */
export interface ActivityHost {
  readonly clock: Clock;
  readonly bus: SettleBus;
  readonly logger: Pick<Logger, "info">;
  readonly runtimes: ReadonlyMap<string, RuntimeSupervisor>;
  busyLeases(runtimeId: string): number;
  /** Idle timers; real ones unless a test drives time. */
  readonly timers?: Timers;
}

/** Makes room on a runtime's GPU and starts it there, one start per GPU at a time (swap-groups.ts). */
export interface RoomMaker {
  /** Runs `start` once the runtime may start; throws TIMEOUT at `deadline`. */
  startWithRoom(rt: RuntimeSupervisor, deadline: number, start: () => void): Promise<void>;
  wakeWaiters(): void;
}

const WAKE_STATES: readonly RuntimeState[] = ["ready", "failed", "exhausted", "stopped", "idle"];

/**
 * Idle stop and on-demand start: requests in flight and held leases keep a runtime busy; one idle for its
 * TTL is stopped (to `idle`), and one asked for while idle is started again.
 */
export class RuntimeActivity {
  private readonly tracker: IdleTracker;
  private readonly inflight = new Map<string, number>();
  /** Clock time of each runtime's last request (or start): swap groups stop the least recent. */
  private readonly lastRequest = new Map<string, number>();
  private stopped = false;
  private room: RoomMaker | undefined;

  constructor(private readonly host: ActivityHost) {
    this.tracker = new IdleTracker({
      clock: host.clock,
      ...(host.timers !== undefined ? { timers: host.timers } : {}),
      onIdle: (id) => this.onIdle(id),
    });
  }

  /** Every runtime's idle TTL from its spec; in-flight counts of runtimes no longer configured go. */
  configureAll(configured?: ReadonlySet<string>): void {
    for (const rt of this.host.runtimes.values()) this.tracker.configure(rt.id, rt.spec.idle_ttl_ms);
    if (configured !== undefined)
      for (const id of this.inflight.keys()) if (!configured.has(id)) this.inflight.delete(id);
  }

  configure(runtimeId: string, idleTtlMs: number | undefined): void {
    this.tracker.configure(runtimeId, idleTtlMs);
  }

  /** Swap groups: consulted before every on-demand start. */
  useRoomMaker(room: RoomMaker): void {
    this.room = room;
  }

  lastRequestAt(id: string): number {
    return this.lastRequest.get(id) ?? 0;
  }

  /** Requests in flight and busy leases. */
  busy(id: string): number {
    return this.host.busyLeases(id) + (this.inflight.get(id) ?? 0);
  }

  /** The runtime became ready or served a request: its idle period starts again. */
  touch(runtimeId: string): void {
    this.tracker.touch(runtimeId);
    this.lastRequest.set(runtimeId, this.host.clock.now());
  }

  /** Leases and requests in flight both keep a runtime from idling. */
  sync(): void {
    for (const rt of this.host.runtimes.values()) {
      this.tracker.setLeases(rt.id, this.host.busyLeases(rt.id) + (this.inflight.get(rt.id) ?? 0));
    }
  }

  /** One runtime's count: a request beginning or ending changes only its own (leases call `sync`). */
  private syncOne(id: string): void {
    this.tracker.setLeases(id, this.host.busyLeases(id) + (this.inflight.get(id) ?? 0));
  }

  /** A request to the runtime begins; the returned function ends it (once). */
  begin(id: string): () => void {
    this.inflight.set(id, (this.inflight.get(id) ?? 0) + 1);
    this.touch(id);
    this.syncOne(id);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.inflight.get(id) ?? 1) - 1;
      if (n <= 0) this.inflight.delete(id);
      else this.inflight.set(id, n);
      this.touch(id);
      this.syncOne(id);
      this.room?.wakeWaiters();
    };
  }

  /**
   * An idle runtime (with `startStopped`, a stopped one too) is started (no restart budget: idle is not a
   * failure) and awaited until ready; one caught going idle in the meantime is started again. A runtime in a
   * swap group first gets room on its GPU (idle runtimes there may be stopped; busy ones are waited for).
   */
  async ensureReady(rt: RuntimeSupervisor, deadline: number, startStopped = false): Promise<void> {
    const startable = () => rt.state === "idle" || (startStopped && rt.state === "stopped");
    for (;;) {
      if (rt.state === "ready") return;
      if (startable()) {
        // Checked again under the GPU's turn: another request may have started it meanwhile.
        const start = () => {
          if (!startable()) return;
          this.host.logger.info(
            { runtime: rt.id },
            rt.state === "idle"
              ? "starting an idle runtime on demand"
              : "starting a stopped runtime on demand for an HTTP request",
          );
          this.touch(rt.id);
          rt.start();
        };
        if (this.room === undefined) start();
        else await this.room.startWithRoom(rt, deadline, start);
      }
      const remaining = deadline - this.host.clock.now();
      if (remaining <= 0) throw timeoutError(rt, 0);
      const settled = await awaitSettled(rt, this.host.bus, { states: WAKE_STATES, timeoutMs: remaining });
      if (settled.timedOut) throw timeoutError(rt, remaining);
      const state = settled.state;
      if (state === "ready" || state === "idle") continue;
      const reason = rt.view().reason;
      throw new RmxError(
        "BACKEND_FAILED",
        `runtime ${rt.id} did not become ready: ${state}${reason ? ` (${reason})` : ""}`,
        { id: rt.id, state },
      );
    }
  }

  stop(): void {
    this.stopped = true;
    this.tracker.stop();
  }

  private onIdle(id: string): void {
    const rt = this.host.runtimes.get(id);
    if (this.stopped || rt === undefined || rt.state !== "ready" || this.busy(id) > 0) return;
    this.host.logger.info({ runtime: id, idle_ttl_ms: rt.spec.idle_ttl_ms }, "stopping an idle runtime");
    rt.idle();
  }
}

function timeoutError(rt: RuntimeSupervisor, waitedMs: number): RmxError {
  return new RmxError(
    "TIMEOUT",
    `runtime ${rt.id} did not become ready within ${Math.round(waitedMs)} ms (state ${rt.state})`,
    { id: rt.id, state: rt.state },
  );
}
