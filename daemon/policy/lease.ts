/**
 * Capability-aware leases on cells or runtimes, with exact TTL expiry.
 *
 * Expiry is driven by ONE timer armed for the earliest `expires_at` and re-armed on every change — no
 * polling sweep. On firing, every lease with `expires_at <= now` expires (`lease.expired`) and waiters
 * are woken. Waiters queue per target, first come first served. Every change is persisted (writes are
 * serialised and always carry the latest state). Callbacks (`emit`, `persist`) must not throw synchronously.
 */

import type { Clock } from "../../base/clock.js";
import { rfc3339 } from "../../base/clock.js";
import { randomUUID } from "../../base/entropy.js";
import { RmxError } from "../../base/errors.js";
import type { Lease } from "../../ipc/protocol/policy.js";
import type { Timers } from "./timers.js";
import { delayUntil, realTimers } from "./timers.js";

export type { Timers } from "./timers.js";

export type LeaseTopic = "lease.acquired" | "lease.renewed" | "lease.released" | "lease.expired";

export interface AcquireRequest {
  target: string;
  capability: string;
  ttl_ms: number;
  holder: string;
  /** How long to queue for a free slot; absent or 0 fails at once when the target is full. */
  wait_ms?: number;
  /**
   * The caller is gone when this aborts (its connection closed): a queued waiter leaves the queue at once
   * and is never granted, so a dead client cannot take a slot for its whole TTL.
   */
  signal?: AbortSignal;
}

export interface LeaseManagerOptions {
  clock: Clock;
  timers?: Timers;
  /** Lease capacity of a target; undefined = unknown target. */
  capacityOf: (target: string) => number | undefined;
  capabilitiesOf: (target: string) => string[];
  persist: (leases: Lease[]) => Promise<void>;
  emit: (topic: LeaseTopic, lease: Lease) => void;
  /** Persist failures of timer-driven expiries, which have no caller to reject. */
  onPersistError?: (error: unknown) => void;
}

interface Held {
  lease: Lease;
  expiresMs: number;
}

interface Waiter {
  req: AcquireRequest;
  resolve: (lease: Lease) => void;
  reject: (error: unknown) => void;
  timer: unknown;
  /** Detaches the abort listener from the caller's signal. */
  unlisten: () => void;
}

function checkPositive(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RmxError(
      "CONFIG_INVALID",
      `${what} must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  return Math.ceil(value);
}

export class LeaseManager {
  private readonly leases = new Map<string, Held>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly timers: Timers;
  private expiryTimer: unknown;
  private persistTail: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: LeaseManagerOptions) {
    this.timers = opts.timers ?? realTimers;
  }

  /**
   * After a daemon restart: keeps the leases that have not expired, with their original `expires_at`
   * (so only the remaining time is left), and expires the rest with `lease.expired`. Returns the kept ones.
   */
  restore(leases: Lease[]): Lease[] {
    const now = this.opts.clock.now();
    const kept: Lease[] = [];
    let changed = false;
    for (const lease of leases) {
      const expiresMs = Date.parse(lease.expires_at);
      if (Number.isFinite(expiresMs) && expiresMs > now) {
        const copy = { ...lease };
        this.leases.set(copy.id, { lease: copy, expiresMs });
        kept.push({ ...copy });
      } else {
        changed = true;
        this.opts.emit("lease.expired", { ...lease });
      }
    }
    this.arm();
    if (changed) this.saveInBackground();
    return kept;
  }

  async acquire(req: AcquireRequest): Promise<Lease> {
    if (this.stopped) throw new RmxError("LEASE_CAPACITY", `lease on ${req.target}: the daemon is stopping`);
    if (req.signal?.aborted) throw callerGone(req.target, 0);
    const ttl = checkPositive(req.ttl_ms, "lease ttl_ms");
    if (typeof req.holder !== "string" || req.holder.trim() === "") {
      throw new RmxError("CONFIG_INVALID", `lease on ${req.target}: holder must be a non-empty name`);
    }
    const capacity = this.opts.capacityOf(req.target);
    if (capacity === undefined) {
      throw new RmxError(
        "LEASE_CAPABILITY",
        `lease on ${req.target}: unknown target (no cell or runtime has that key)`,
        { target: req.target, reason: "unknown_target", offered: [] },
      );
    }
    const offered = this.opts.capabilitiesOf(req.target);
    if (!offered.includes(req.capability)) {
      throw new RmxError(
        "LEASE_CAPABILITY",
        `lease on ${req.target}: capability "${req.capability}" is not offered (offers: ${offered.length > 0 ? offered.join(", ") : "nothing"})`,
        { target: req.target, capability: req.capability, reason: "not_offered", offered },
      );
    }
    const queue = this.waiters.get(req.target);
    if ((queue === undefined || queue.length === 0) && this.held(req.target) < capacity) {
      return this.grantAndSave({ ...req, ttl_ms: ttl });
    }
    const waitMs = req.wait_ms ?? 0;
    if (!(waitMs > 0)) throw this.fullError(req.target, capacity);
    const { signal, ...rest } = req;
    return new Promise<Lease>((resolve, reject) => {
      const queuedAt = this.opts.clock.now();
      const waiter: Waiter = {
        req: { ...rest, ttl_ms: ttl },
        resolve,
        reject,
        timer: undefined,
        unlisten: () => undefined,
      };
      waiter.timer = this.timers.setTimeout(
        () => {
          this.dropWaiter(waiter);
          const cap = this.opts.capacityOf(req.target) ?? capacity;
          reject(
            new RmxError("LEASE_CAPACITY", `lease on ${req.target}: still full after ${waitMs} ms`, {
              target: req.target,
              capacity: cap,
              held: this.held(req.target),
              waited_ms: waitMs,
            }),
          );
        },
        Math.min(waitMs, 2_147_483_647),
      );
      if (signal !== undefined) {
        const onAbort = () => {
          this.dropWaiter(waiter);
          reject(callerGone(req.target, this.opts.clock.now() - queuedAt));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      const list = this.waiters.get(req.target) ?? [];
      list.push(waiter);
      this.waiters.set(req.target, list);
    });
  }

  async renew(id: string, ttl_ms?: number): Promise<Lease> {
    this.expireDue();
    const held = this.leases.get(id);
    if (held === undefined) throw notFound(id);
    const ttl = ttl_ms === undefined ? held.lease.ttl_ms : checkPositive(ttl_ms, "lease ttl_ms");
    const now = this.opts.clock.now();
    held.expiresMs = now + ttl;
    held.lease.expires_at = rfc3339(held.expiresMs);
    held.lease.ttl_ms = ttl;
    this.arm();
    const copy = { ...held.lease };
    this.opts.emit("lease.renewed", copy);
    await this.save();
    return copy;
  }

  async release(id: string): Promise<boolean> {
    this.expireDue();
    const held = this.leases.get(id);
    if (held === undefined) return false;
    this.leases.delete(id);
    this.arm();
    this.opts.emit("lease.released", { ...held.lease });
    this.drain(held.lease.target);
    await this.save();
    return true;
  }

  list(target?: string): Lease[] {
    return [...this.leases.values()]
      .filter((h) => target === undefined || h.lease.target === target)
      .sort((a, b) => a.expiresMs - b.expiresMs || (a.lease.id < b.lease.id ? -1 : 1))
      .map((h) => ({ ...h.lease }));
  }

  held(target: string): number {
    let n = 0;
    for (const h of this.leases.values()) if (h.lease.target === target) n += 1;
    return n;
  }

  /** Waiters queued for a target. */
  waiting(target: string): number {
    return this.waiters.get(target)?.length ?? 0;
  }

  /** Call when a target's capacity may have grown (config reload): queued waiters get the new slots. */
  capacityChanged(target?: string): void {
    for (const t of target === undefined ? [...this.waiters.keys()] : [target]) this.drain(t);
  }

  /** Stops the expiry timer and fails every waiter. Held leases stay (they are persisted). */
  stop(): void {
    this.stopped = true;
    if (this.expiryTimer !== undefined) this.timers.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    for (const [target, list] of this.waiters) {
      for (const w of list) {
        this.timers.clearTimeout(w.timer);
        w.unlisten();
        w.reject(new RmxError("LEASE_CAPACITY", `lease on ${target}: the daemon is stopping`, { target }));
      }
    }
    this.waiters.clear();
  }

  private grant(req: AcquireRequest): Lease {
    const now = this.opts.clock.now();
    const expiresMs = now + req.ttl_ms;
    const lease: Lease = {
      id: `lease-${randomUUID()}`,
      target: req.target,
      capability: req.capability,
      holder: req.holder,
      acquired_at: rfc3339(now),
      expires_at: rfc3339(expiresMs),
      ttl_ms: req.ttl_ms,
    };
    this.leases.set(lease.id, { lease, expiresMs });
    this.arm();
    this.opts.emit("lease.acquired", { ...lease });
    return { ...lease };
  }

  /** A lease whose state could not be saved is given back, so the caller never holds an unknown lease. */
  private async grantAndSave(req: AcquireRequest): Promise<Lease> {
    const lease = this.grant(req);
    try {
      await this.save();
    } catch (error) {
      await this.release(lease.id).catch(() => undefined);
      throw error;
    }
    return lease;
  }

  private drain(target: string): void {
    const queue = this.waiters.get(target);
    if (queue === undefined) return;
    const capacity = this.opts.capacityOf(target) ?? 0;
    while (queue.length > 0 && this.held(target) < capacity) {
      const w = queue.shift()!;
      this.timers.clearTimeout(w.timer);
      w.unlisten();
      this.grantAndSave(w.req).then(w.resolve, w.reject);
    }
    if (queue.length === 0) this.waiters.delete(target);
  }

  private dropWaiter(waiter: Waiter): void {
    const queue = this.waiters.get(waiter.req.target);
    if (queue === undefined) return;
    this.timers.clearTimeout(waiter.timer);
    waiter.unlisten();
    const i = queue.indexOf(waiter);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) this.waiters.delete(waiter.req.target);
  }

  private arm(): void {
    if (this.expiryTimer !== undefined) this.timers.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.stopped || this.leases.size === 0) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const h of this.leases.values()) earliest = Math.min(earliest, h.expiresMs);
    this.expiryTimer = this.timers.setTimeout(
      () => {
        this.expiryTimer = undefined;
        // A timer may fire a hair early by the clock; then nothing is due and it is simply re-armed.
        if (!this.expireDue()) this.arm();
      },
      delayUntil(earliest, this.opts.clock.now()),
    );
  }

  /** Expires every lease due by now; returns whether any did. */
  private expireDue(): boolean {
    const now = this.opts.clock.now();
    const due = [...this.leases.values()]
      .filter((h) => h.expiresMs <= now)
      .sort((a, b) => a.expiresMs - b.expiresMs);
    if (due.length === 0) return false;
    const targets = new Set<string>();
    for (const h of due) {
      this.leases.delete(h.lease.id);
      targets.add(h.lease.target);
    }
    this.arm();
    for (const h of due) this.opts.emit("lease.expired", { ...h.lease });
    for (const t of targets) this.drain(t);
    this.saveInBackground();
    return true;
  }

  private fullError(target: string, capacity: number): RmxError {
    const holders = this.list(target).map((l) => l.holder);
    const why =
      capacity <= 0
        ? "the target has no lease capacity"
        : `all ${capacity} slot(s) are held (by ${holders.join(", ")})`;
    return new RmxError("LEASE_CAPACITY", `lease on ${target}: ${why}`, {
      target,
      capacity,
      held: holders.length,
      holders,
    });
  }

  private save(): Promise<void> {
    const run = this.persistTail.then(() => this.opts.persist(this.list()));
    this.persistTail = run.catch(() => undefined);
    return run;
  }

  private saveInBackground(): void {
    this.save().catch((error: unknown) => this.opts.onPersistError?.(error));
  }
}

/** The waiter's connection closed: nobody is left to hand the lease to. */
function callerGone(target: string, waitedMs: number): RmxError {
  return new RmxError(
    "LEASE_CAPACITY",
    `lease on ${target}: the caller's connection closed while it waited`,
    {
      target,
      reason: "caller_gone",
      waited_ms: Math.max(0, Math.round(waitedMs)),
    },
  );
}

function notFound(id: string): RmxError {
  return new RmxError("LEASE_NOT_FOUND", `lease ${id} not found (released, expired or never granted)`, {
    id,
  });
}
