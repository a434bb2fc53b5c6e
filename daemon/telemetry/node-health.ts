/**
 * Publishes `runtime.health` each interval for the node (the reference entry shape) and each runtime
 * whose entry changed (change-gate.ts: a new subscriber gets them all; latency figures are refreshed
 * once a minute). Severity is composed afresh from current findings each time: nothing latches.
 */
import type { Logger } from "pino";
import type { RuntimeStatusResult } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";
import { ChangeGate, nodeSignature, runtimeSignature } from "./change-gate.js";

/** How often unchanged entries are published anyway, so followers see the latency figures move. */
const LATENCY_REFRESH_MS = 60_000;

/** What the publisher needs: where to publish, where to complain, and the status to publish. */
export interface NodeHealthHost {
  readonly bus: Pick<EventBus, "publish" | "hasSubscribers" | "subscriptionsMade">;
  readonly logger: Pick<Logger, "error">;
  status(): RuntimeStatusResult;
}

export class NodeHealthPublisher {
  private timer: NodeJS.Timeout | undefined;
  /** The last publication failure, so a persistent one is logged once, not every interval. */
  private lastFailure: string | undefined;
  private gate: ChangeGate;

  constructor(
    private readonly daemon: NodeHealthHost,
    private intervalMs: number,
  ) {
    this.gate = gateFor(intervalMs);
  }

  start(): void {
    this.stop();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A reload changed `telemetry.health_interval`: publish on the new cadence from now on. */
  retime(intervalMs: number): void {
    if (intervalMs === this.intervalMs) return;
    this.intervalMs = intervalMs;
    this.gate = gateFor(intervalMs);
    if (this.timer) this.start();
  }

  /** A failure to compose the status must never take the daemon (and its backends) down. */
  private tick(): void {
    try {
      this.publish();
      this.lastFailure = undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.lastFailure)
        this.daemon.logger.error({ err: error }, "runtime.health not published");
      this.lastFailure = message;
    }
  }

  publish(): void {
    // Nothing listens most of the time: skip composing entries nobody will read.
    if (!this.daemon.bus.hasSubscribers("runtime.health")) return;
    const { bus } = this.daemon;
    const snapshot = this.daemon.status();
    const gate = this.gate;
    gate.begin(bus.subscriptionsMade);
    const node = { scope: "node", entry: snapshot.node, summary: snapshot.summary } as const;
    if (gate.changed("node", nodeSignature(node))) bus.publish("runtime.health", node);
    const seen = new Set<string>(["node"]);
    for (const rt of snapshot.runtimes) {
      const payload = {
        scope: "runtime",
        id: rt.id,
        state: rt.state,
        status: rt.status,
        health: rt.health,
        restart_budget: rt.restart_budget,
      } as const;
      const key = `runtime ${rt.id}`;
      seen.add(key);
      if (gate.changed(key, runtimeSignature(payload))) bus.publish("runtime.health", payload);
    }
    gate.keepOnly(seen);
  }
}

function gateFor(intervalMs: number): ChangeGate {
  return new ChangeGate(Math.max(1, Math.round(LATENCY_REFRESH_MS / intervalMs)));
}
