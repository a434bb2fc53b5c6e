/**
 * Idle tracking: fires `onIdle` once when a runtime has had no requests and no leases for its idle TTL.
 * One exact timer per runtime, re-armed by every touch; a runtime holding leases never idles, and its idle
 * period starts when the last lease goes. After firing, it fires again only after new activity.
 * `onIdle` must not throw.
 */
import type { Clock } from "../../base/clock.js";
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
