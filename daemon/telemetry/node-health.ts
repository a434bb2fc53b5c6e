/**
 * Publishes `runtime.health` every interval: one event for the node (the reference entry shape) and
 * one per runtime. Severity is composed afresh from current findings each time: nothing latches.
 */
import type { Daemon } from "../daemon.js";

export class NodeHealthPublisher {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly daemon: Daemon,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => this.publish(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  publish(): void {
    // Nothing listens most of the time: skip composing entries nobody will read.
    if (this.daemon.bus.subscriberCount === 0) return;
    const snapshot = this.daemon.status();
    this.daemon.bus.publish("runtime.health", { scope: "node", entry: snapshot.node, summary: snapshot.summary });
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
