/**
 * Leases over the socket: acquire (and wake an idle runtime the target names), release, and a refusal that
 * names every lease filling a target. The bookkeeping itself is LeaseManager's (lease.ts).
 */
import { isRmxError, RmxError } from "../../base/errors.js";
import type { Lease, LeaseAcquireParams, LeaseResult } from "../../ipc/protocol/policy.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import type { LeaseBook } from "./candidates.js";
import type { LeaseManager } from "./lease.js";

const DEFAULT_WAKE_TIMEOUT_MS = 120_000;

export interface LeaseDeskHost {
  readonly leases: LeaseManager;
  leaseBook(): LeaseBook;
  runtime(id: string): RuntimeSupervisor | undefined;
  ensureReady(rt: RuntimeSupervisor, deadline: number): Promise<void>;
  now(): number;
  /** The policy service is stopping: refusals are not explained any more. */
  stopped(): boolean;
}

export class LeaseDesk {
  constructor(private readonly host: LeaseDeskHost) {}

  /**
   * `signal` aborts when the caller's connection closes: a queued request leaves the queue, and a lease
   * granted or woken for a caller that has gone meanwhile is given back, so it never holds a slot.
   */
  async acquire(p: LeaseAcquireParams, signal?: AbortSignal): Promise<LeaseResult> {
    let lease: Lease;
    try {
      lease = await this.host.leases.acquire({
        target: p.target,
        capability: p.capability,
        ttl_ms: p.ttl_ms,
        holder: p.holder,
        ...(p.wait_ms !== undefined ? { wait_ms: p.wait_ms } : {}),
        ...(signal !== undefined ? { signal } : {}),
      });
    } catch (error) {
      throw this.explainFull(p.target, error);
    }
    try {
      await this.wake(p.target, this.host.now() + (p.timeout_ms ?? DEFAULT_WAKE_TIMEOUT_MS));
      if (signal?.aborted) {
        throw new RmxError("LEASE_CAPACITY", `lease on ${p.target}: the caller's connection closed`, {
          target: p.target,
          reason: "caller_gone",
        });
      }
    } catch (error) {
      await this.host.leases.release(lease.id).catch(() => undefined);
      throw error;
    }
    return { ...lease, runtimes: this.targetRuntimes(p.target) };
  }

  async release(id: string): Promise<{ id: string; released: true }> {
    if (!(await this.host.leases.release(id))) {
      throw new RmxError("LEASE_NOT_FOUND", `lease ${id} not found (released, expired or never granted)`, {
        id,
      });
    }
    return { id, released: true };
  }

  /** A full target's refusal names every lease that fills it: on the cell and on each of its runtimes. */
  private explainFull(target: string, error: unknown): unknown {
    if (
      !isRmxError(error, "LEASE_CAPACITY") ||
      error.data?.waited_ms !== undefined ||
      error.data?.reason === "caller_gone" ||
      this.host.stopped()
    )
      return error;
    const places = this.host.leaseBook().runtimesOf(target);
    if (places.length === 0) return error;
    const targets = new Set([target, ...places.map((p) => p.runtime), ...places.map((p) => p.key)]);
    const holding = this.host.leases.list().filter((l) => targets.has(l.target));
    const slots = places.reduce((n, p) => n + p.slots, 0);
    const who = holding.map((l) => `${l.holder} on ${l.target}`).join(", ");
    return new RmxError(
      "LEASE_CAPACITY",
      `lease on ${target}: all ${slots} slot(s) are held${who ? ` (${who})` : ""}`,
      { target, capacity: slots, held: holding.length, holders: holding.map((l) => l.holder) },
    );
  }

  /** Wakes idle runtimes a lease target names and waits until one is ready. */
  private async wake(target: string, deadline: number): Promise<void> {
    const runtimes = this.host
      .leaseBook()
      .runtimesOf(target)
      .map((p) => this.host.runtime(p.runtime))
      .filter((rt): rt is RuntimeSupervisor => rt !== undefined);
    if (runtimes.length === 0 || runtimes.some((rt) => rt.state === "ready")) return;
    const sleeper = runtimes.find((rt) => rt.state === "idle");
    if (sleeper !== undefined) await this.host.ensureReady(sleeper, deadline);
  }

  private targetRuntimes(target: string): LeaseResult["runtimes"] {
    return this.host
      .leaseBook()
      .runtimesOf(target)
      .flatMap((p) => {
        const rt = this.host.runtime(p.runtime);
        if (rt === undefined) return [];
        const endpoint = rt.endpoint;
        return [{ id: rt.id, state: rt.state, ...(endpoint !== undefined ? { endpoint } : {}) }];
      });
  }
}

/** The state file is ours, but a hand-edited entry must not stop the daemon: unreadable leases are dropped. */
export function isStoredLease(value: unknown): value is Lease {
  if (typeof value !== "object" || value === null) return false;
  const l = value as Record<string, unknown>;
  return (
    ["id", "target", "capability", "holder", "acquired_at", "expires_at"].every(
      (k) => typeof l[k] === "string",
    ) && typeof l.ttl_ms === "number"
  );
}
