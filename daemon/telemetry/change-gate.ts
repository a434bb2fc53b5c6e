/**
 * `runtime.health` is published when what an entry carries changed, not every interval: 50 quiet runtimes
 * otherwise cost 50 events (and every `runtime.*` subscriber's work) each tick. A new subscription gets
 * the whole current state at the next tick, and latency figures, which move with every probe, are
 * refreshed at most every `refreshTicks` ticks.
 */
import type { RuntimeHealthPayload } from "../../ipc/protocol/events.js";

type RuntimeScope = Extract<RuntimeHealthPayload, { scope: "runtime" }>;
type NodeScope = Extract<RuntimeHealthPayload, { scope: "node" }>;

/** A runtime entry's change signature: all but the latency figures and counts every probe moves. */
export function runtimeSignature(p: RuntimeScope): string {
  const { errors, error_rate, last_error, window_seconds } = p.health;
  return JSON.stringify([
    p.state,
    p.status,
    p.restart_budget,
    errors,
    error_rate,
    last_error,
    window_seconds,
  ]);
}

/** The node entry's change signature: all but the time it was generated at. */
export function nodeSignature(p: NodeScope): string {
  const { generated: _generated, runtime, ...entry } = p.entry;
  const { updated: _updated, ...counts } = runtime;
  return JSON.stringify([entry, counts, p.summary]);
}

export class ChangeGate {
  private readonly last = new Map<string, { signature: string; tick: number }>();
  private subscriptions = -1;
  private tick = 0;

  constructor(private readonly refreshTicks = Number.POSITIVE_INFINITY) {}

  /**
   * Starts a tick. `subscriptionsMade` (the bus's count of subscriptions ever made) moving means someone
   * new listens: everything counts as changed once.
   */
  begin(subscriptionsMade: number): void {
    this.tick++;
    if (subscriptionsMade === this.subscriptions) return;
    this.subscriptions = subscriptionsMade;
    this.last.clear();
  }

  /** Whether `key`'s entry is to be published this tick; remembers it as published if so. */
  changed(key: string, signature: string): boolean {
    const prior = this.last.get(key);
    if (prior !== undefined && prior.signature === signature && this.tick - prior.tick < this.refreshTicks)
      return false;
    this.last.set(key, { signature, tick: this.tick });
    return true;
  }

  /** Forgets entries not seen this tick (a removed runtime, a cell gone), so the map never grows. */
  keepOnly(keys: ReadonlySet<string>): void {
    for (const key of this.last.keys()) if (!keys.has(key)) this.last.delete(key);
  }
}
