/**
 * SwapGroups wired to a real EventBus and real model files, with supervisors reduced to their state: a
 * whisper GGML model's estimate takes part like a GGUF one; a runtime on `gpu:0,1` is in both GPUs' groups;
 * a start waiting for a busy runtime looks again on `lease.released` and on a runtime going idle, stopped or
 * failed (not only at a request's end); starts on one GPU take turns in the order they came.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readModel } from "../../adapters/model-formats.js";
import { TINY_HEADER, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";
import { ManualClock } from "../../base/clock.js";
import { EventBus } from "../../daemon/events.js";
import { SwapGroups } from "../../daemon/policy/swap-groups.js";
import type { RuntimeSupervisor } from "../../daemon/supervise/runtime.js";
import type { SwapEvent } from "../../ipc/protocol/events.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import type { Lease } from "../../ipc/protocol/policy.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import { tempDir } from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";

let dir: string;
let ggufNeed: number;
let whisperNeed: number;

beforeAll(async () => {
  dir = await tempDir("rmx-swap-groups-");
  await writeTinyGguf(path.join(dir, "llm.gguf"), {
    block_count: 40,
    embedding_length: 4096,
    head_count: 32,
    head_count_kv: 32,
    context_length: 4096,
  });
  await fs.writeFile(path.join(dir, "asr.bin"), writeWhisperHeader(TINY_HEADER));
  ggufNeed = (await readModel(path.join(dir, "llm.gguf"))).estimate.total_bytes;
  whisperNeed = (await readModel(path.join(dir, "asr.bin"))).estimate.total_bytes;
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

class FakeRuntime {
  constructor(
    readonly id: string,
    readonly spec: { hardware: string; model: string },
    public state: RuntimeState,
    private readonly bus: EventBus,
  ) {}
  private set(to: RuntimeState) {
    const from = this.state;
    this.state = to;
    // Only what swap groups and awaitSettled read of the event.
    this.bus.publish("runtime.state.changed", { id: this.id, from, to } as never);
  }
  idle() {
    this.set("idle");
  }
  stop() {
    this.set("stopped");
  }
  start() {
    this.set("starting");
  }
  fail() {
    this.set("failed");
  }
}

function world(gpus: Record<string, number>, runtimes: [string, string, string, RuntimeState][]) {
  const clock = new ManualClock();
  const bus = new EventBus(clock);
  const map = new Map<string, FakeRuntime>();
  for (const [id, hardware, model, state] of runtimes)
    map.set(id, new FakeRuntime(id, { hardware, model: path.join(dir, model) }, state, bus));
  const busy = new Map<string, number>();
  const swaps: SwapEvent[] = [];
  bus.subscribe(["runtime.swap"], (e) => swaps.push(e.payload as SwapEvent));
  const inventory = {
    gpus: Object.entries(gpus).map(([id, vram_bytes]) => ({ id, vram_bytes })),
  } as unknown as HardwareInventory;
  const groups = new SwapGroups({
    clock,
    bus,
    logger: { info: () => {}, warn: () => {} },
    runtimes: map as unknown as ReadonlyMap<string, RuntimeSupervisor>,
    inventory: () => inventory,
    resolveModelPath: (m) => m,
    busy: (id) => busy.get(id) ?? 0,
    lastRequestAt: () => 0,
  });
  const start = (id: string, deadline = clock.now() + 60_000) => {
    const rt = map.get(id) as FakeRuntime;
    return groups.startWithRoom(rt as unknown as RuntimeSupervisor, deadline, () => rt.start());
  };
  return { clock, bus, map, busy, swaps, groups, start };
}

/** Resolves once `n` swap events have been published (they are synchronous on the bus). */
function swapsReach(w: ReturnType<typeof world>, n: number): Promise<void> {
  return new Promise((resolve) => {
    if (w.swaps.length >= n) return resolve();
    const off = w.bus.subscribe(["runtime.swap"], () => {
      if (w.swaps.length < n) return;
      off();
      resolve();
    });
  });
}

describe("SwapGroups", () => {
  it("a whisper model's estimate takes part: starting the LLM stops the idle whisper runtime", async () => {
    const w = world({ "gpu:0": ggufNeed + whisperNeed - 1 }, [
      ["asr", "gpu:0", "asr.bin", "ready"],
      ["llm", "gpu:0", "llm.gguf", "stopped"],
    ]);
    await w.start("llm");
    expect(w.swaps).toMatchObject([{ action: "stop", id: "llm", stopped: ["asr"] }]);
    expect(w.map.get("asr")?.state).toBe("idle");
    expect(w.map.get("llm")?.state).toBe("starting");
  });

  it("a runtime on gpu:0,1 is in both groups: the idle runtime on gpu:1 in its way is stopped", async () => {
    const w = world({ "gpu:0": ggufNeed, "gpu:1": ggufNeed }, [
      ["tp", "gpu:0,1", "llm.gguf", "stopped"],
      ["one", "gpu:1", "llm.gguf", "ready"],
      ["cpu", "cpu", "llm.gguf", "ready"],
    ]);
    await w.start("tp");
    expect(w.swaps).toMatchObject([{ action: "stop", id: "tp", gpu: "gpu:0,1", stopped: ["one"] }]);
    expect(w.swaps[0]?.reason).toContain("on gpu:1");
    expect(w.map.get("cpu")?.state).toBe("ready");
  });

  it("a start waiting for a leased runtime looks again on lease.released, and on a runtime failing", async () => {
    const w = world({ "gpu:0": ggufNeed }, [
      ["held", "gpu:0", "llm.gguf", "ready"],
      ["next", "gpu:0", "llm.gguf", "stopped"],
    ]);
    w.busy.set("held", 1);
    const started = w.start("next");
    await swapsReach(w, 1);
    expect(w.swaps[0]).toMatchObject({ action: "wait", id: "next", busy: ["held"] });
    w.busy.set("held", 0);
    w.bus.publish("lease.released", { id: "l1", target: "held" } as Lease);
    await started;
    expect(w.swaps[1]).toMatchObject({ action: "stop", id: "next", stopped: ["held"] });
    expect(w.map.get("next")?.state).toBe("starting");

    // The same wait ends when the busy runtime fails (it holds no memory any more).
    const v = world({ "gpu:0": ggufNeed }, [
      ["held", "gpu:0", "llm.gguf", "ready"],
      ["next", "gpu:0", "llm.gguf", "stopped"],
    ]);
    v.busy.set("held", 1);
    const after = v.start("next");
    await swapsReach(v, 1);
    v.map.get("held")?.fail();
    await after;
    expect(v.swaps).toHaveLength(1);
    expect(v.map.get("next")?.state).toBe("starting");
  });

  it("starts on one GPU take turns in arrival order; the later one plans against the earlier start", async () => {
    const w = world({ "gpu:0": ggufNeed }, [
      ["a", "gpu:0", "llm.gguf", "stopped"],
      ["b", "gpu:0", "llm.gguf", "stopped"],
    ]);
    const order: string[] = [];
    const a = w.start("a").then(() => order.push("a"));
    const b = w.start("b").then(() => order.push("b"));
    // a is starting and (here) busy with the request that asked for it: b waits for it.
    w.busy.set("a", 1);
    await a;
    await swapsReach(w, 1);
    expect(w.swaps[0]).toMatchObject({ action: "wait", id: "b", busy: ["a"] });
    w.busy.set("a", 0);
    w.groups.wakeWaiters();
    await b;
    expect(order).toEqual(["a", "b"]);
    expect(w.map.get("a")?.state).toBe("stopped");
    expect(w.map.get("b")?.state).toBe("starting");
  });

  it("gives up at the deadline naming the busy runtime and the start timeout", async () => {
    const w = world({ "gpu:0": ggufNeed }, [
      ["held", "gpu:0", "llm.gguf", "ready"],
      ["next", "gpu:0", "llm.gguf", "stopped"],
    ]);
    w.busy.set("held", 1);
    await expect(w.start("next", w.clock.now() + 50)).rejects.toMatchObject({
      code: "TIMEOUT",
      message: expect.stringMatching(/did not get room on gpu:0: .*held.*start timeout/),
    });
  });
});
