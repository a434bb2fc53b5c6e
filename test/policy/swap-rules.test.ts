/**
 * The swap rules together: planSwap over runtimes on one or two GPUs (`gpu:0,1` shares its estimate), and a
 * simulation of concurrent on-demand starts taking their GPU's turn (GpuQueue) and planning under it, on an
 * injected clock. Properties: a busy runtime is never stopped, no GPU is ever overcommitted when every need is
 * known, and starts that share a GPU are served in the order they asked.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gpuIndices } from "../../adapters/shared/placement.js";
import { GpuQueue, type Release } from "../../daemon/policy/gpu-queue.js";
import { planSwap, type SwapMember, shareOf, swapGroupsOf } from "../../daemon/policy/swap.js";

const GIB = 1024 ** 3;
const PLACES = [["gpu:0"], ["gpu:1"], ["gpu:0", "gpu:1"]] as const;
const VRAM = new Map([
  ["gpu:0", 24 * GIB],
  ["gpu:1", 24 * GIB],
]);

const usedOn = (ms: readonly SwapMember[], gpu: string) =>
  ms.filter((m) => m.running && m.gpus.includes(gpu)).reduce((s, m) => s + shareOf(m), 0);

describe("planSwap across GPU lists", () => {
  const member = fc.record({
    id: fc.constantFrom("a", "b", "c", "d", "e", "f"),
    gpus: fc.constantFrom(...PLACES),
    needBytes: fc.integer({ min: 1, max: 24 }).map((g) => g * GIB),
    running: fc.boolean(),
    busy: fc.nat(2),
    lastRequestAt: fc.nat(1_000_000),
  });
  const members = fc.uniqueArray(member, { selector: (m) => m.id, minLength: 1, maxLength: 6 });

  it("stops only idle runtimes sharing a GPU, after which every GPU of the start fits", () => {
    fc.assert(
      fc.property(members, fc.nat(2_000_000), (ms, now) => {
        const start = { ...(ms[0] as SwapMember), running: false };
        const all = [start, ...ms.slice(1)];
        const d = planSwap(start.id, all, VRAM, now);
        const left =
          d.kind === "stop" ? all.filter((m) => !d.victims.includes(m.id)) : d.kind === "fits" ? all : [];
        for (const id of d.kind === "stop" ? d.victims : []) {
          const v = all.find((m) => m.id === id) as SwapMember;
          expect(v.busy).toBe(0);
          expect(v.running).toBe(true);
          expect(v.gpus.some((g) => start.gpus.includes(g))).toBe(true);
        }
        if (d.kind === "wait") {
          expect(d.busy.length).toBeGreaterThan(0);
          return;
        }
        const after = [...left.filter((m) => m.id !== start.id), { ...start, running: true }];
        for (const g of start.gpus) expect(usedOn(after, g)).toBeLessThanOrEqual(VRAM.get(g) as number);
      }),
    );
  });

  it("a runtime on gpu:0,1 is in both groups and needs half its estimate on each", () => {
    expect(gpuIndices("gpu:0,1")).toEqual([0, 1]);
    expect(gpuIndices("gpu:3")).toEqual([3]);
    expect(gpuIndices("cpu")).toEqual([]);
    expect(swapGroupsOf("gpu:1,0")).toEqual(["gpu:1", "gpu:0"]);
    const ms: SwapMember[] = [
      { id: "tp", gpus: ["gpu:0", "gpu:1"], needBytes: 28 * GIB, running: false, busy: 0, lastRequestAt: 0 },
      { id: "a", gpus: ["gpu:0"], needBytes: 10 * GIB, running: true, busy: 0, lastRequestAt: 10 },
      { id: "b", gpus: ["gpu:1"], needBytes: 10 * GIB, running: true, busy: 0, lastRequestAt: 5 },
    ];
    expect(planSwap("tp", ms, VRAM, 100)).toMatchObject({ kind: "fits" });
    const big = ms.map((m) => (m.id === "b" ? { ...m, needBytes: 12 * GIB } : m));
    const d = planSwap("tp", big, VRAM, 100);
    expect(d).toMatchObject({ kind: "stop", victims: ["b"] });
    expect(d.reason).toMatch(/tp needs 14\.0 GiB on gpu:0 \(24\.0 GiB\), 14\.0 GiB on gpu:1/);
    // Stopping a (on gpu:0) would not help gpu:1: a stays although it is the least recently used there too.
    const aOlder = big.map((m) => (m.id === "a" ? { ...m, lastRequestAt: 1 } : m));
    expect(planSwap("tp", aOlder, VRAM, 100)).toMatchObject({ kind: "stop", victims: ["b"] });
  });
});

/** A random run: starts asking for runtimes, requests ending, in some order. */
type Op = { kind: "ask"; runtime: number } | { kind: "finish"; pick: number };

interface SimRuntime {
  id: string;
  gpus: readonly string[];
  needBytes: number;
  running: boolean;
  busy: number;
  lastRequestAt: number;
}

/**
 * The swap groups' start path with its I/O taken out: take the GPUs' turn, plan, stop victims or wait for a
 * wake, start; a start is "served" when its runtime runs and its request is in flight.
 */
class Sim {
  now = 0;
  readonly queue = new GpuQueue();
  readonly served: number[] = [];
  readonly violations: string[] = [];
  private wakers: (() => void)[] = [];

  constructor(readonly runtimes: SimRuntime[]) {}

  members(): SwapMember[] {
    return this.runtimes.map((r) => ({ ...r }));
  }

  check(what: string): void {
    for (const g of VRAM.keys()) {
      const used = usedOn(this.members(), g);
      if (used > (VRAM.get(g) as number)) this.violations.push(`${what}: ${g} holds ${used / GIB} GiB`);
    }
  }

  wake(): void {
    const all = this.wakers;
    this.wakers = [];
    for (const w of all) w();
  }

  async start(ticket: number, rt: SimRuntime): Promise<void> {
    if (rt.running) {
      rt.busy++;
      rt.lastRequestAt = this.now++;
      this.served.push(ticket);
      return;
    }
    const release = (await this.queue.turn(rt.gpus)) as Release;
    try {
      for (;;) {
        if (rt.running) break;
        const d = planSwap(rt.id, this.members(), VRAM, this.now++);
        if (d.kind === "fits") {
          // As in the daemon, the start follows the plan a turn of the event loop later: without the GPU's
          // turn another start could plan in that gap against the same free memory.
          await Promise.resolve();
          rt.running = true;
          this.check(`start of ${rt.id}`);
          break;
        }
        if (d.kind === "stop") {
          for (const id of d.victims) {
            const v = this.runtimes.find((r) => r.id === id) as SimRuntime;
            if (v.busy > 0) this.violations.push(`${id} stopped while busy`);
            v.running = false;
          }
          continue;
        }
        await new Promise<void>((resolve) => this.wakers.push(resolve));
      }
      rt.busy++;
      rt.lastRequestAt = this.now++;
      this.served.push(ticket);
    } finally {
      release();
    }
  }

  finishOne(pick: number): boolean {
    const busy = this.runtimes.filter((r) => r.busy > 0);
    if (busy.length === 0) return false;
    const r = busy[pick % busy.length] as SimRuntime;
    r.busy--;
    r.lastRequestAt = this.now++;
    this.wake();
    return true;
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("concurrent starts under the GPU turn", () => {
  const setup = fc.record({
    runtimes: fc.array(
      fc.record({
        gpus: fc.constantFrom(...PLACES),
        needBytes: fc.integer({ min: 4, max: 24 }).map((g) => g * GIB),
      }),
      { minLength: 2, maxLength: 5 },
    ),
    ops: fc.array(
      fc.oneof(
        fc.nat(4).map<Op>((runtime) => ({ kind: "ask", runtime })),
        fc.nat(4).map<Op>((pick) => ({ kind: "finish", pick })),
      ),
      { minLength: 1, maxLength: 25 },
    ),
  });

  it("never stops a busy runtime, never overcommits, serves every start in the order asked per GPU", async () => {
    await fc.assert(
      fc.asyncProperty(setup, async ({ runtimes, ops }) => {
        const sim = new Sim(
          runtimes.map((r, i) => ({ id: `r${i}`, ...r, running: false, busy: 0, lastRequestAt: 0 })),
        );
        const asked: { ticket: number; rt: SimRuntime; start: boolean }[] = [];
        const tasks: Promise<void>[] = [];
        for (const op of ops) {
          if (op.kind === "ask") {
            const rt = sim.runtimes[op.runtime % sim.runtimes.length] as SimRuntime;
            const ticket = asked.length;
            // Several asks arrive before any of them has planned: the race the turn is there for.
            asked.push({ ticket, rt, start: !rt.running });
            tasks.push(sim.start(ticket, rt));
          } else {
            await settle();
            sim.finishOne(op.pick);
          }
        }
        // Requests keep ending until every start has been served.
        let pending = true;
        void Promise.all(tasks).then(() => {
          pending = false;
        });
        for (let guard = 0; pending && guard < 1000; guard++) {
          await settle();
          if (!sim.finishOne(guard)) await settle();
        }
        expect(pending).toBe(false);
        expect(sim.violations).toEqual([]);
        expect([...sim.served].sort((a, b) => a - b)).toEqual(asked.map((a) => a.ticket));
        // Two starts sharing a GPU: the earlier ask is served first.
        const order = new Map(sim.served.map((t, i) => [t, i]));
        const starts = asked.filter((a) => a.start);
        for (const x of starts)
          for (const y of starts)
            if (x.ticket < y.ticket && x.rt.gpus.some((g) => y.rt.gpus.includes(g)))
              expect(order.get(x.ticket) as number).toBeLessThan(order.get(y.ticket) as number);
      }),
      { numRuns: 200 },
    );
  });
});
