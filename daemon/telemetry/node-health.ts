/**
 * Publishes `runtime.health` every interval: one event for the node (the reference entry shape) and
 * one per runtime. Severity is composed afresh from current findings each time: nothing latches.
 */
import type { Logger } from "pino";
import type { RuntimeStatusResult } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";

/** What the publisher needs: where to publish, where to complain, and the status to publish. */
export interface NodeHealthHost {
  readonly bus: Pick<EventBus, "publish" | "hasSubscribers">;
  readonly logger: Pick<Logger, "error">;
  status(): RuntimeStatusResult;
}

export class NodeHealthPublisher {
  private timer: NodeJS.Timeout | undefined;
  /** The last publication failure, so a persistent one is logged once, not every interval. */
  private lastFailure: string | undefined;

  constructor(
    private readonly daemon: NodeHealthHost,
    private intervalMs: number,
  ) {}

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
    const snapshot = this.daemon.status();
    this.daemon.bus.publish("runtime.health", {
      scope: "node",
      entry: snapshot.node,
      summary: snapshot.summary,
    });
    for (const rt of snapshot.runtimes) {
      this.daemon.bus.publish("runtime.health", {
        scope: "runtime",
        id: rt.id,
        state: rt.state,
        status: rt.status,
        health: rt.health,
        restart_budget: rt.restart_budget,
      });
    }
  }
}
