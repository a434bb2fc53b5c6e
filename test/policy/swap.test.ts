/** The swap-group decision: properties over random GPUs, runtimes, loads and clocks. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planSwap, type SwapMember } from "../../daemon/policy/swap.js";

const GIB = 1024 ** 3;

const member = fc.record({
  id: fc.constantFrom("a", "b", "c", "d", "e", "f"),
  gpus: fc.constantFrom(["gpu:0"], ["gpu:1"]),
  needBytes: fc.option(
    fc.integer({ min: 1, max: 16 }).map((g) => g * GIB),
    { nil: undefined },
  ),
  running: fc.boolean(),
  busy: fc.nat(3),
  lastRequestAt: fc.nat(1_000_000),
});
const world = fc.record({
  members: fc.uniqueArray(member, { selector: (m) => m.id, minLength: 1, maxLength: 6 }),
  vram: fc.integer({ min: 4, max: 40 }).map(
    (g) =>
      new Map([
        ["gpu:0", g * GIB],
        ["gpu:1", g * GIB],
      ]),
  ),
  now: fc.integer({ min: 1_000_000, max: 2_000_000 }),
});

const onGpu = (ms: SwapMember[], start: SwapMember) =>
  ms.filter(
    (m) => m.id !== start.id && m.gpus[0] === start.gpus[0] && m.running && m.needBytes !== undefined,
  );
/** The size of the start's GPU (both GPUs are the same size here). */
const sizeOf = (vram: ReadonlyMap<string, number>, start: SwapMember) =>
  vram.get(start.gpus[0] as string) ?? 0;

describe("planSwap", () => {
  it("never stops a runtime with requests in flight, and never stops the one starting", () => {
    fc.assert(
      fc.property(world, ({ members, vram, now }) => {
        const start = members[0] as SwapMember;
        const d = planSwap(start.id, members, vram, now);
        if (d.kind !== "stop") return;
        for (const id of d.victims) {
          const v = members.find((m) => m.id === id) as SwapMember;
          expect(v.busy).toBe(0);
          expect(v.running).toBe(true);
          expect(v.gpus).toEqual(start.gpus);
          expect(id).not.toBe(start.id);
        }
      }),
    );
  });

  it("after a swap the running set on that GPU fits", () => {
    fc.assert(
      fc.property(world, ({ members, vram, now }) => {
        const start = members[0] as SwapMember;
        const d = planSwap(start.id, members, vram, now);
        if (d.kind !== "stop" || start.needBytes === undefined) return;
        const left = onGpu(members, start).filter((m) => !d.victims.includes(m.id));
        const used = left.reduce((s, m) => s + (m.needBytes ?? 0), 0);
        expect(used + start.needBytes).toBeLessThanOrEqual(sizeOf(vram, start));
        expect(d.reason).toContain("least recently used");
      }),
    );
  });

  it("the victims are the least recently used idle ones, and no more than needed", () => {
    fc.assert(
      fc.property(world, ({ members, vram, now }) => {
        const start = members[0] as SwapMember;
        const d = planSwap(start.id, members, vram, now);
        if (d.kind !== "stop" || start.needBytes === undefined) return;
        const idle = onGpu(members, start).filter((m) => m.busy === 0);
        const spared = idle.filter((m) => !d.victims.includes(m.id));
        const victims = idle.filter((m) => d.victims.includes(m.id));
        for (const v of victims)
          for (const s of spared) expect(v.lastRequestAt).toBeLessThanOrEqual(s.lastRequestAt);
        // Minimal: without the last victim it would not fit.
        const last = d.victims.slice(0, -1);
        const usedWithout = onGpu(members, start)
          .filter((m) => !last.includes(m.id))
          .reduce((s, m) => s + (m.needBytes ?? 0), 0);
        expect(usedWithout + start.needBytes).toBeGreaterThan(sizeOf(vram, start));
      }),
    );
  });

  it("fits means it fits (or cannot be helped); wait means only busy runtimes stand in the way", () => {
    fc.assert(
      fc.property(world, ({ members, vram, now }) => {
        const start = members[0] as SwapMember;
        const d = planSwap(start.id, members, vram, now);
        if (start.needBytes === undefined) {
          expect(d.kind).toBe("fits");
          return;
        }
        const others = onGpu(members, start);
        const used = others.reduce((s, m) => s + (m.needBytes ?? 0), 0);
        const size = sizeOf(vram, start);
        if (d.kind === "fits") expect(used + start.needBytes <= size || start.needBytes > size).toBe(true);
        if (d.kind === "wait") {
          const busyUse = others.filter((m) => m.busy > 0).reduce((s, m) => s + (m.needBytes ?? 0), 0);
          expect(busyUse + start.needBytes).toBeGreaterThan(size);
          expect(d.busy.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it("names sizes, the GPU and the idle time in its reason", () => {
    const ms: SwapMember[] = [
      { id: "a", gpus: ["gpu:0"], needBytes: 15 * GIB, running: true, busy: 0, lastRequestAt: 1000 },
      { id: "b", gpus: ["gpu:0"], needBytes: 15 * GIB, running: false, busy: 1, lastRequestAt: 5000 },
    ];
    const vram = new Map([["gpu:0", 24 * GIB]]);
    const d = planSwap("b", ms, vram, 6000);
    expect(d).toMatchObject({ kind: "stop", victims: ["a"] });
    expect(d.reason).toMatch(/b needs 15\.0 GiB on gpu:0 \(24\.0 GiB\).*a \(15\.0 GiB, idle 5000 ms\)/);
    const busyA = planSwap("b", [{ ...ms[0], busy: 1 } as SwapMember, ms[1] as SwapMember], vram, 6000);
    expect(busyA).toMatchObject({ kind: "wait", busy: ["a"] });
  });
});
