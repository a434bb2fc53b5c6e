/**
 * Swap groups, wired: before a runtime on a GPU starts on demand, `startWithRoom` takes that GPU's turn
 * (gpu-queue.ts: one planned start at a time per GPU, first come first served), asks planSwap (swap.ts)
 * whether it fits beside what runs there (model estimates against the inventory's VRAM), stops the least
 * recently used idle ones when it does not, waits while only busy ones stand in the way, and starts it
 * before giving the turn back. Each decision that changes something is a `runtime.swap` event and a log line
 * with its reason.
 *
 * Why the turn ends at `start()` and not when the runtime is ready: a starting runtime already counts as
 * running in planSwap (its estimate is charged from the moment it is asked to start), so the next start on
 * the GPU plans against it; holding the turn through the model load would serialize loads that do fit side
 * by side.
 */

import type { Logger } from "pino";
import { readModel } from "../../adapters/model-formats.js";
import { estimateMemory } from "../../adapters/shared/gguf/estimate.js";
import type { Clock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { SwapEvent } from "../../ipc/protocol/events.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import { awaitSettled } from "../supervise/settle.js";
import { GpuQueue } from "./gpu-queue.js";
import { planSwap, type SwapMember, swapGroupsOf } from "./swap.js";

/** States in which a runtime holds no GPU memory. */
const RELEASED: readonly RuntimeState[] = ["stopped", "idle", "failed", "exhausted"];
/** Events after which a start waiting for room looks again: a runtime let go of memory or of a lease. */
const WAKE_TOPICS = ["runtime.state.changed", "lease.released", "lease.expired"];

export interface SwapHost {
  readonly clock: Clock;
  readonly bus: Pick<EventBus, "publish" | "subscribe" | "waitFor">;
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
  /** Estimates by model path, context and slots: a model header is read once. */
  private readonly needs = new Map<string, number | undefined>();
  private readonly idleWaiters = new Set<() => void>();
  private readonly queue = new GpuQueue();
  /** Bumped by every wake: a plan made before a wake is not waited on (no lost wake-up). */
  private wakes = 0;
  private offBus: (() => void) | undefined;

  constructor(private readonly host: SwapHost) {}

  /** Something may have let go of room (a request ended, a lease went, a runtime stopped): waiters look again. */
  wakeWaiters(): void {
    this.wakes++;
    const all = [...this.idleWaiters];
    this.idleWaiters.clear();
    for (const w of all) w();
  }

  /**
   * Runs `start` once `rt` may start on its GPUs (at once for a runtime outside any swap group); throws
   * TIMEOUT at `deadline` while busy runtimes, or earlier starts in the GPU's queue, hold it.
   */
  async startWithRoom(rt: RuntimeSupervisor, deadline: number, start: () => void): Promise<void> {
    const inventory = this.host.inventory();
    const vram = new Map<string, number>();
    for (const gpu of swapGroupsOf(rt.spec.hardware)) {
      const bytes = inventory?.gpus.find((g) => g.id === gpu)?.vram_bytes;
      if (bytes !== undefined) vram.set(gpu, bytes);
    }
    if (vram.size === 0) return start();
    const gpus = [...vram.keys()];
    const release = await this.takeTurn(rt, gpus, deadline);
    try {
      await this.makeRoom(rt, vram, deadline);
      start();
    } finally {
      release();
    }
  }

  private async takeTurn(rt: RuntimeSupervisor, gpus: string[], deadline: number) {
    const timeout = AbortSignal.timeout(Math.max(1, deadline - this.host.clock.now()));
    const release = await this.queue.turn(gpus, timeout);
    if (release !== undefined) return release;
    throw new RmxError(
      "TIMEOUT",
      `runtime ${rt.id} did not get its turn to start on ${gpus.join(", ")}: earlier starts there were still making room (gave up after the start timeout)`,
      { id: rt.id, hardware: rt.spec.hardware },
    );
  }

  private async makeRoom(rt: RuntimeSupervisor, vram: ReadonlyMap<string, number>, deadline: number) {
    const gpu = rt.spec.hardware;
    let waitedFor: string | undefined;
    for (;;) {
      const seen = this.wakes;
      const members = await this.members(vram);
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
      if (remaining <= 0 || !(await this.nextWake(seen, remaining)))
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
        action: e.action,
        ...(e.stopped ? { stopped: e.stopped } : {}),
        ...(e.busy ? { busy: e.busy } : {}),
      },
      `swap group: ${e.reason}`,
    );
  }

  private async stopVictim(id: string, deadline: number): Promise<void> {
    const victim = this.host.runtimes.get(id);
    // A request that reached it since the plan keeps it: the next plan sees it busy and waits instead.
    if (victim === undefined || this.host.busy(id) > 0) return;
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

  /** Resolves true at the next wake after the plan made at wake count `seen` (at once if one came since). */
  private nextWake(seen: number, timeoutMs: number): Promise<boolean> {
    if (this.wakes !== seen) return Promise.resolve(true);
    this.followBus();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters.delete(wake);
        this.unfollowIfIdle();
        resolve(false);
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        this.unfollowIfIdle();
        resolve(true);
      };
      this.idleWaiters.add(wake);
    });
  }

  /** Subscribed only while a start waits: with no waiter the bus carries no listener of ours. */
  private followBus(): void {
    this.offBus ??= this.host.bus.subscribe(WAKE_TOPICS, (event) => {
      if (event.topic === "runtime.state.changed") {
        const to = (event.payload as { to?: RuntimeState }).to;
        if (to === undefined || !RELEASED.includes(to)) return;
      }
      this.wakeWaiters();
    });
  }

  private unfollowIfIdle(): void {
    if (this.idleWaiters.size > 0) return;
    this.offBus?.();
    this.offBus = undefined;
  }

  /** The members of the groups of `vram`'s GPUs, as one snapshot: estimates are read first, then state. */
  private async members(vram: ReadonlyMap<string, number>): Promise<SwapMember[]> {
    const placed = [...this.host.runtimes.values()]
      .map((rt) => ({ rt, gpus: swapGroupsOf(rt.spec.hardware) }))
      .filter((p) => p.gpus.some((g) => vram.has(g)));
    const needs = await Promise.all(placed.map((p) => this.needOf(p.rt.spec)));
    return placed.map(({ rt, gpus }, i) => ({
      id: rt.id,
      gpus,
      needBytes: needs[i],
      running: !RELEASED.includes(rt.state),
      busy: this.host.busy(rt.id),
      lastRequestAt: this.host.lastRequestAt(rt.id),
    }));
  }

  /** Any format adapters/model-formats.ts reads (GGUF, whisper GGML, …) with an estimate takes part. */
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
      const reading = await readModel(file, spec.context !== undefined ? { context: spec.context } : {});
      // GGUF's KV cache grows with the slots too, which readModel does not take.
      need =
        reading.format === "gguf" && spec.slots !== undefined
          ? estimateMemory(reading.info, {
              ...(spec.context !== undefined ? { context: spec.context } : {}),
              slots: spec.slots,
            }).total_bytes
          : reading.estimate.total_bytes;
    } catch {
      need = undefined;
    }
    this.needs.set(key, need);
    return need;
  }
}
