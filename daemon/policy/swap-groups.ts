/**
 * Swap groups, wired: before a runtime on a GPU starts on demand, `makeRoom` asks planSwap (swap.ts) whether
 * it fits beside what runs there (GGUF estimates against the inventory's VRAM), stops the least recently
 * used idle ones when it does not, and waits while only busy ones stand in the way. Each decision that
 * changes something is a `runtime.swap` event and a log line with its reason.
 */

import type { Logger } from "pino";
import { estimateMemory } from "../../adapters/shared/gguf/estimate.js";
import { readGguf } from "../../adapters/shared/gguf/reader.js";
import type { Clock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { SwapEvent } from "../../ipc/protocol/events.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import { awaitSettled } from "../supervise/settle.js";
import { planSwap, type SwapMember } from "./swap.js";

/** States in which a runtime holds no GPU memory. */
const RELEASED: readonly RuntimeState[] = ["stopped", "idle", "failed", "exhausted"];

export interface SwapHost {
  readonly clock: Clock;
  readonly bus: EventBus;
  readonly logger: Pick<Logger, "info" | "warn">;
  readonly runtimes: ReadonlyMap<string, RuntimeSupervisor>;
  inventory(): HardwareInventory | undefined;
  /** Throws on an unknown model. */
  resolveModelPath(model: string | undefined): string | undefined;
  /** Requests in flight plus busy leases. */
  busy(id: string): number;
  lastRequestAt(id: string): number;
}

export class SwapGroups {
  /** Estimates by model path, context and slots: a GGUF header is read once. */
  private readonly needs = new Map<string, number | undefined>();
  private readonly idleWaiters = new Set<() => void>();

  constructor(private readonly host: SwapHost) {}

  /** A request ended somewhere: a start waiting for room looks again. */
  wakeWaiters(): void {
    const all = [...this.idleWaiters];
    this.idleWaiters.clear();
    for (const w of all) w();
  }

  /** Resolves once `rt` may start on its GPU; throws TIMEOUT at `deadline` while busy runtimes hold it. */
  async makeRoom(rt: RuntimeSupervisor, deadline: number): Promise<void> {
    const gpu = rt.spec.hardware;
    if (!gpu.startsWith("gpu:")) return;
    const vram = this.host.inventory()?.gpus.find((g) => g.id === gpu)?.vram_bytes;
    if (vram === undefined) return;
    let waitedFor: string | undefined;
    for (;;) {
      const members = await this.members(gpu);
      const decision = planSwap(rt.id, members, vram, this.host.clock.now());
      if (decision.kind === "fits") return;
      if (decision.kind === "stop") {
        this.announce({ action: "stop", id: rt.id, gpu, stopped: decision.victims, reason: decision.reason });
        await Promise.all(decision.victims.map((id) => this.stopVictim(id, deadline)));
        continue;
      }
      const remaining = deadline - this.host.clock.now();
      if (waitedFor !== decision.reason) {
        waitedFor = decision.reason;
        this.announce({ action: "wait", id: rt.id, gpu, busy: decision.busy, reason: decision.reason });
      }
      if (remaining <= 0 || !(await this.nextIdle(remaining)))
        throw new RmxError(
          "TIMEOUT",
          `runtime ${rt.id} did not get room on ${gpu}: ${decision.reason} (gave up after the start timeout)`,
          { id: rt.id, hardware: gpu, busy: decision.busy },
        );
    }
  }

  private announce(e: SwapEvent): void {
    this.host.bus.publish("runtime.swap", e);
    this.host.logger.info(
      {
        runtime: e.id,
        gpu: e.gpu,
        ...(e.stopped ? { stopped: e.stopped } : {}),
        ...(e.busy ? { busy: e.busy } : {}),
      },
      `swap group: ${e.reason}`,
    );
  }

  private async stopVictim(id: string, deadline: number): Promise<void> {
    const victim = this.host.runtimes.get(id);
    if (victim === undefined) return;
    // To `idle`, not `stopped`: a request for it starts it again (and may swap this one out in turn).
    if (victim.state === "ready") victim.idle();
    else victim.stop();
    const settled = await awaitSettled(victim, this.host.bus, {
      states: RELEASED,
      timeoutMs: Math.max(1, deadline - this.host.clock.now()),
    });
    if (settled.timedOut)
      this.host.logger.warn(
        { runtime: id, state: victim.state },
        "swap group: a stopped runtime is still exiting",
      );
  }

  private nextIdle(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.add(wake);
    });
  }

  private async members(gpu: string): Promise<SwapMember[]> {
    const out: SwapMember[] = [];
    for (const rt of this.host.runtimes.values()) {
      if (rt.spec.hardware !== gpu) continue;
      out.push({
        id: rt.id,
        gpu,
        needBytes: await this.needOf(rt.spec),
        running: !RELEASED.includes(rt.state),
        busy: this.host.busy(rt.id),
        lastRequestAt: this.host.lastRequestAt(rt.id),
      });
    }
    return out;
  }

  private async needOf(spec: RuntimeSpec): Promise<number | undefined> {
    let file: string | undefined;
    try {
      file = this.host.resolveModelPath(spec.model);
    } catch {
      return undefined;
    }
    if (file === undefined) return undefined;
    const key = `${file}\0${spec.context ?? ""}\0${spec.slots ?? ""}`;
    if (this.needs.has(key)) return this.needs.get(key);
    let need: number | undefined;
    try {
      const info = await readGguf(file);
      need = estimateMemory(info, {
        ...(spec.context !== undefined ? { context: spec.context } : {}),
        ...(spec.slots !== undefined ? { slots: spec.slots } : {}),
      }).total_bytes;
    } catch {
      need = undefined;
    }
    this.needs.set(key, need);
    return need;
  }
}
