/**
 * The pure wiring core: runtimes → places, capabilities and candidates, and the lease book shared by
 * runtime-targeted and cell-targeted leases (property: no combination of grants can exceed the slots).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RuntimeSpec } from "../../base/spec.js";
import { BUILTIN_RUNTIME_DEFAULTS } from "../../config/defaults.js";
import {
  buildCandidates,
  capabilitiesOf,
  LeaseBook,
  placeOf,
  type RuntimePlace,
  type RuntimeSnapshot,
  refreshLatencies,
} from "../../daemon/policy/candidates.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { RuntimeState, StatusObject } from "../../ipc/protocol/runtime.js";

function spec(id: string, over: Partial<RuntimeSpec> = {}): RuntimeSpec {
  return {
    id,
    adapter: "llama-stub",
    args: ["--alias", id],
    env: {},
    host: "127.0.0.1",
    hardware: "cpu",
    sandbox: { kind: "none" },
    auto_start: true,
    ...BUILTIN_RUNTIME_DEFAULTS,
    ...over,
  };
}

const STATUS: StatusObject = {
  code: "ready",
  severity: "info",
  severity_label: "Info",
  label: "Ready",
  aria_hint: "Ready",
};

function snapshot(
  s: RuntimeSpec,
  state: RuntimeState,
  p95?: { health?: number; inference?: number },
): RuntimeSnapshot {
  return {
    spec: s,
    state,
    view: {
      status: STATUS,
      health: {
        window_seconds: 300,
        requests: 1,
        errors: 0,
        error_rate: 0,
        ...(p95?.health ? { p95_ms: p95.health } : {}),
      },
      ...(p95?.inference
        ? { inference: { window_seconds: 300, requests: 1, errors: 0, error_rate: 0, p95_ms: p95.inference } }
        : {}),
    },
  };
}

const noLookup = () => undefined;

describe("places and capabilities", () => {
  it("keys local runtimes by model@hardware/sandbox and remote ones by remote:model", () => {
    expect(placeOf(spec("a", { hardware: "gpu:1", sandbox: { kind: "bwrap" }, slots: 3 }), noLookup)).toEqual(
      {
        runtime: "a",
        key: "a@gpu:1/bwrap",
        model: "a",
        hardware: "gpu:1",
        sandbox: "bwrap",
        remote: false,
        slots: 3,
      },
    );
    expect(
      placeOf(spec("c", { adapter: "remote", model: "gpt-x", url: "http://x" }), noLookup),
    ).toMatchObject({
      key: "remote:gpt-x",
      hardware: "remote",
      remote: true,
      slots: 1,
    });
  });

  it("offers gpu on gpu:N, sandbox:<kind> only when that sandbox works, remote for remote", () => {
    const sandboxes = [
      { kind: "bwrap" as const, available: true },
      { kind: "systemd-run" as const, available: false, reason: "PID 1 is not systemd" },
    ];
    const caps = (s: RuntimeSpec) => capabilitiesOf(placeOf(s, noLookup), sandboxes);
    expect(caps(spec("a"))).toEqual(["slot", "sandbox:none"]);
    expect(caps(spec("b", { hardware: "gpu:0", sandbox: { kind: "bwrap" } }))).toEqual([
      "slot",
      "gpu",
      "sandbox:bwrap",
    ]);
    expect(caps(spec("c", { sandbox: { kind: "systemd-run" } }))).toEqual(["slot"]);
    expect(caps(spec("d", { adapter: "remote", url: "http://x" }))).toEqual(["slot", "remote"]);
  });
});

describe("buildCandidates", () => {
  const ctx = (over: Partial<Parameters<typeof buildCandidates>[1]> = {}) => ({
    lookupModel: noLookup,
    sandboxes: [{ kind: "systemd-run" as const, available: false, reason: "no systemd" }],
    matrixCells: [] as MatrixCell[],
    leases: new LeaseBook([], () => 0),
    routedP95: () => undefined,
    parameterCount: () => undefined,
    updated: "2025-01-01T00:00:00.000Z",
    ...over,
  });

  it("counts ready and idle (starts on demand) as healthy, everything else not", () => {
    const states: RuntimeState[] = [
      "ready",
      "idle",
      "degraded",
      "starting",
      "backoff",
      "exhausted",
      "failed",
      "stopped",
    ];
    const got = buildCandidates(
      states.map((st) => snapshot(spec(`rt-${st}`), st)),
      ctx(),
    ).map((c) => [c.state, c.healthy]);
    expect(got).toEqual(states.map((st) => [st, st === "ready" || st === "idle"]));
  });

  it("takes p95 from routed requests, then the inference probe, then the health probe", () => {
    const [a, b, c] = buildCandidates(
      [
        snapshot(spec("a"), "ready", { health: 1, inference: 50 }),
        snapshot(spec("b"), "ready", { health: 2, inference: 60 }),
        snapshot(spec("c"), "ready", { health: 3 }),
      ],
      ctx({ routedP95: (key) => (key === "a@cpu/none" ? 7 : undefined) }),
    );
    expect([a?.p95_ms, b?.p95_ms, c?.p95_ms]).toEqual([7, 60, 3]);
  });

  it("refreshes only the latencies of built candidates, as a full build would give them, in new objects", () => {
    const runtimes = [
      snapshot(spec("a"), "ready", { health: 1, inference: 50 }),
      snapshot(spec("b"), "ready", { health: 2 }),
      snapshot(spec("c"), "ready"),
    ];
    const built = buildCandidates(runtimes, ctx({}));
    const routed = (key: string) => (key === "b@cpu/none" ? 9 : undefined);
    const later = [
      snapshot(spec("a"), "ready", { health: 1, inference: 40 }),
      snapshot(spec("b"), "ready", { health: 2 }),
      snapshot(spec("c"), "ready", { health: 5 }),
    ];
    const views = new Map(later.map((r) => [r.spec.id, r.view]));
    const refreshed = refreshLatencies(built, views, routed, "2026-12-01T00:00:01Z");
    const rebuilt = buildCandidates(later, ctx({ routedP95: routed, updated: "2026-12-01T00:00:01Z" }));
    expect(refreshed).toEqual(rebuilt);
    expect(refreshed.map((c) => c.p95_ms)).toEqual([40, 9, 5]);
    // The set a routing decision already holds is not changed under it.
    expect(built.map((c) => c.p95_ms)).toEqual([50, 2, undefined]);
  });

  it("takes fit from the matrix, parameter counts from the catalog, and marks unavailable sandboxes", () => {
    const fromMatrix = {
      key: "a@cpu/none",
      fit: { fits: false, reason: "needs 9 GiB, cpu has 4 GiB available" },
    } as MatrixCell;
    const [a, b] = buildCandidates(
      [snapshot(spec("a"), "ready"), snapshot(spec("b", { sandbox: { kind: "systemd-run" } }), "ready")],
      ctx({
        matrixCells: [fromMatrix],
        parameterCount: (s) => (s.id === "a" ? 8e9 : undefined),
      }),
    );
    expect(a?.cell.fit).toEqual(fromMatrix.fit);
    expect(a?.parameter_count).toBe(8e9);
    expect(b?.cell.fit.fits).toBe("unknown");
    expect(b?.cell).toMatchObject({
      available: false,
      unavailable_reason: "sandbox systemd-run unavailable: no systemd",
    });
    expect(b?.parameter_count).toBeUndefined();
  });
});

describe("LeaseBook", () => {
  it("shares one cell's slots between leases on the cell and on its runtimes", () => {
    const places: RuntimePlace[] = [
      {
        runtime: "a",
        key: "m@cpu/none",
        model: "m",
        hardware: "cpu",
        sandbox: "none",
        remote: false,
        slots: 2,
      },
      {
        runtime: "b",
        key: "m@cpu/none",
        model: "m",
        hardware: "cpu",
        sandbox: "none",
        remote: false,
        slots: 1,
      },
    ];
    const held = new Map<string, number>([
      ["a", 1],
      ["m@cpu/none", 1],
    ]);
    const book = new LeaseBook(places, (t) => held.get(t) ?? 0);
    expect(book.cellFree("m@cpu/none")).toBe(1);
    expect(book.runtimeFree("a")).toBe(1);
    expect(book.runtimeFree("b")).toBe(1);
    expect(book.capacityOf("a")).toBe(2);
    expect(book.capacityOf("m@cpu/none")).toBe(2);
    expect(book.capacityOf("nope")).toBeUndefined();
    expect(book.busyLeases("b")).toBe(1);
    expect(book.cellHeld("m@cpu/none")).toBe(2);
    expect(book.cellSlots("m@cpu/none")).toBe(3);
  });

  it("property: granting while held < capacityOf never exceeds any runtime's or cell's slots", () => {
    const placeArb = fc.record({
      cell: fc.integer({ min: 0, max: 2 }),
      slots: fc.integer({ min: 1, max: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(placeArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(20), { maxLength: 40 }),
        (raw, picks) => {
          const places: RuntimePlace[] = raw.map((r, i) => ({
            runtime: `rt${i}`,
            key: `m${r.cell}@cpu/none`,
            model: `m${r.cell}`,
            hardware: "cpu",
            sandbox: "none",
            remote: false,
            slots: r.slots,
          }));
          const targets = [...places.map((p) => p.runtime), ...new Set(places.map((p) => p.key))];
          const held = new Map<string, number>();
          const book = new LeaseBook(places, (t) => held.get(t) ?? 0);
          for (const pick of picks) {
            const target = targets[pick % targets.length] as string;
            const capacity = book.capacityOf(target) as number;
            if ((held.get(target) ?? 0) < capacity) held.set(target, (held.get(target) ?? 0) + 1);
          }
          for (const p of places) expect(held.get(p.runtime) ?? 0).toBeLessThanOrEqual(p.slots);
          for (const key of new Set(places.map((p) => p.key))) {
            expect(book.cellHeld(key)).toBeLessThanOrEqual(book.cellSlots(key));
            expect(book.cellFree(key)).toBe(book.cellSlots(key) - book.cellHeld(key));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
