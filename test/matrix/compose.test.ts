import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock, rfc3339 } from "../../base/clock.js";
import type { SandboxKind } from "../../base/spec.js";
import {
  composeMatrix,
  diffStatusCodes,
  type MatrixInput,
  type MatrixRuntime,
  mergeHealth,
  statusCodes,
} from "../../daemon/matrix/compose.js";
import { runtimeCellKey } from "../../daemon/matrix/keys.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import { GIB, gguf, inventory, MIB, matrixRuntime, SANDBOXES, sample } from "./fixtures.js";

const clock = new ManualClock(Date.UTC(2025, 8, 29, 12, 0, 5));

function input(over: Partial<MatrixInput> = {}): MatrixInput {
  return {
    models: [{ id: "m", path: "/models/m.gguf", gguf: gguf() }],
    inventory: inventory([{ vram: 8 * GIB }]),
    sample: sample(),
    sandboxes: SANDBOXES,
    runtimes: [],
    ...over,
  };
}

function cellOf(cells: MatrixCell[], key: string): MatrixCell {
  const cell = cells.find((c) => c.key === key);
  if (cell === undefined) throw new Error(`no cell ${key}; have ${cells.map((c) => c.key).join(", ")}`);
  return cell;
}

describe("composeMatrix: axes and cells", () => {
  it("is models × hardware × sandboxes, every sandbox kind listed whether available or not", () => {
    const result = composeMatrix(
      input({ models: [{ id: "b" }, { id: "a" }], runtimes: [matrixRuntime("rt", "ready", { model: "c" })] }),
      clock,
    );
    expect(result.axes).toEqual({
      models: ["a", "b", "c"],
      hardware: ["cpu", "gpu:0"],
      sandboxes: ["none", "bwrap", "systemd-run"],
    });
    expect(result.cells).toHaveLength(3 * 2 * 3);
    expect(new Set(result.cells.map((c) => c.key)).size).toBe(result.cells.length);
    expect(result.generated).toBe(rfc3339(clock.now()));
    expect(result.cells.every((c) => c.updated === result.generated)).toBe(true);
  });

  it("a cell without runtime: offline 'No runtime', with fit and availability still shown", () => {
    const { cells } = composeMatrix(input(), clock);
    const idle = cellOf(cells, "m@gpu:0/none");
    expect(idle.runtimes).toEqual([]);
    expect(idle.status).toMatchObject({ code: "offline", severity: "info", label: "No runtime" });
    expect(idle.available).toBe(true);
    expect(idle.fit.fits).toBe(true);
    expect(idle.fit.need_bytes).toBeGreaterThan(4 * GIB);
    expect(idle.fit.available_bytes).toBe(8 * GIB);
    expect(idle.fit.reason).toMatch(/gpu:0 has 8\.0 GiB/);
    expect(idle.throughput).toEqual({});
    expect(idle.load).toEqual({ leases_held: 0, lease_capacity: 0 });
    expect(idle.health).toBeUndefined();

    const sd = cellOf(cells, "m@cpu/systemd-run");
    expect(sd.available).toBe(false);
    expect(sd.unavailable_reason).toBe(
      "sandbox systemd-run is unavailable: PID 1 is not systemd (/run/systemd/system does not exist)",
    );
    expect(sd.status.detail).toEqual([`Unavailable: ${sd.unavailable_reason}`]);
    expect(sd.status.aria_hint).toContain("PID 1 is not systemd");
    // Fit does not depend on the sandbox.
    expect(sd.fit).toEqual(cellOf(cells, "m@cpu/none").fit);
  });

  it("a runtime on hardware this machine lacks: the column exists, its cells are unavailable with the reason", () => {
    const { axes, cells } = composeMatrix(
      input({ runtimes: [matrixRuntime("far", "failed", { hardware: "gpu:3" })] }),
      clock,
    );
    expect(axes.hardware).toEqual(["cpu", "gpu:0", "gpu:3"]);
    const cell = cellOf(cells, "m@gpu:3/none");
    expect(cell.available).toBe(false);
    expect(cell.unavailable_reason).toBe("hardware gpu:3 is not on this machine (it has: cpu, gpu:0)");
    expect(cell.status.code).toBe("error");
    expect(cell.fit.fits).toBe("unknown");
    expect(cell.fit.reason).toMatch(/hardware gpu:3 is not on this machine/);
  });

  it("remote runtimes get one remote cell per model, outside the hardware × sandbox grid", () => {
    const remote = matrixRuntime("cloud", "ready", { model: "gpt", spec: { adapter: "remote" } });
    const { axes, cells } = composeMatrix(input({ runtimes: [remote] }), clock);
    expect(axes.hardware.at(-1)).toBe("remote");
    const cell = cellOf(cells, "remote:gpt");
    expect(cell).toMatchObject({ model: "gpt", hardware: "remote", sandbox: "none", runtimes: ["cloud"] });
    expect(cell.fit.fits).toBe("unknown");
    expect(cells.filter((c) => c.hardware === "remote")).toHaveLength(1);
    // The key agrees with the one policy computes.
    expect(runtimeCellKey(remote.spec, () => undefined)).toBe(cell.key);
  });
});

describe("composeMatrix: servingOnly (the tick)", () => {
  it("composes just the cells with a runtime, identical to the full composition's", () => {
    const runtimes = [
      matrixRuntime("a", "ready", { hardware: "gpu:0" }),
      matrixRuntime("b", "failed", { sandbox: "bwrap" }),
    ];
    const full = composeMatrix(input({ runtimes }), clock);
    const serving = composeMatrix(input({ runtimes, servingOnly: true }), clock);
    expect(serving.axes).toEqual(full.axes);
    expect(serving.cells.map((c) => c.key)).toEqual(["m@cpu/bwrap", "m@gpu:0/none"]);
    expect(serving.cells).toEqual(full.cells.filter((c) => c.runtimes.length > 0));
  });
});

describe("composeMatrix: status", () => {
  it("the best runtime state wins; the others are in the detail", () => {
    const runtimes = [
      matrixRuntime("bad", "failed", { view: { reason: "exit code 1 during start-up" } }),
      matrixRuntime("good", "ready"),
    ];
    const cell = cellOf(composeMatrix(input({ runtimes }), clock).cells, "m@cpu/none");
    expect(cell.runtimes).toEqual(["bad", "good"]);
    expect(cell.status.code).toBe("ready");
    expect(cell.status.label).toBe("Ready (1 of 2 runtimes ready)");
    expect(cell.status.detail).toEqual(["bad: Failed - exit code 1 during start-up", "good: Ready"]);
    expect(cell.status.aria_hint).toMatch(
      /^Model m on cpu in sandbox none: Ready \(1 of 2 runtimes ready\)\./,
    );
  });

  it.each<[RuntimeState[], string]>([
    [["failed"], "error"],
    [["stopped", "failed"], "error"],
    [["starting", "failed"], "starting"],
    [["degraded", "starting"], "degraded"],
    [["stopped", "idle"], "offline"],
    [["exhausted", "backoff"], "degraded"],
  ])("states %j compose to %s", (states, code) => {
    const runtimes = states.map((s, i) => matrixRuntime(`r${i}`, s));
    expect(cellOf(composeMatrix(input({ runtimes }), clock).cells, "m@cpu/none").status.code).toBe(code);
  });

  it("a runtime that failed for an unavailable sandbox: error, and the cell says why it is unavailable", () => {
    const reason = "sandbox systemd-run for runtime sd is unavailable: PID 1 is not systemd";
    const runtimes = [matrixRuntime("sd", "failed", { sandbox: "systemd-run", view: { reason } })];
    const cell = cellOf(composeMatrix(input({ runtimes }), clock).cells, "m@cpu/systemd-run");
    expect(cell.available).toBe(false);
    expect(cell.status.code).toBe("error");
    expect(cell.status.label).toBe(`Failed - ${reason}`);
    expect(cell.status.detail).toContain(`Unavailable: ${cell.unavailable_reason}`);
  });
});

describe("composeMatrix: throughput and load", () => {
  const observed = (id: string, pid: number, obs: Partial<NonNullable<MatrixRuntime["observation"]>>) =>
    matrixRuntime(id, "ready", {
      hardware: "gpu:0",
      spec: { slots: 4 },
      view: { pid },
      observation: { at: clock.now(), ...obs },
    });

  it("sums the runtimes' delta rates and their load; GPU figures come from the runtime's GPU", () => {
    const runtimes = [
      observed("a", 101, {
        metrics: { requests_processing: 2, requests_deferred: 1, tokens_predicted_total: 9e6 },
        slots: [
          { id: 0, is_processing: true },
          { id: 1, is_processing: true },
          { id: 2, is_processing: false },
        ],
        throughput: { generated_tokens_per_second: 120.5, prompt_tokens_per_second: 40, window_seconds: 5 },
      }),
      observed("b", 102, {
        metrics: { requests_processing: 3, requests_deferred: 0 },
        throughput: { generated_tokens_per_second: 30, window_seconds: 5.2 },
      }),
    ];
    const s = sample({
      processes: {
        101: { pid: 101, cpu_percent: 150, rss_bytes: 500 * MIB },
        102: { pid: 102, cpu_percent: 20.25, rss_bytes: 100 * MIB },
      },
      gpus: [
        { id: "gpu:0", status: "ok", util_percent: 87, vram_used_bytes: 6 * GIB, vram_total_bytes: 8 * GIB },
      ],
    });
    const cell = cellOf(composeMatrix(input({ runtimes, sample: s }), clock).cells, "m@gpu:0/none");
    expect(cell.throughput).toEqual({
      generated_tokens_per_second: 150.5,
      prompt_tokens_per_second: 40,
      window_seconds: 5.2,
    });
    expect(cell.load).toEqual({
      requests_processing: 5,
      requests_deferred: 1,
      // a: /slots says 2 of 3; b: no /slots, so -np 4 with 3 requests in flight.
      slots_busy: 5,
      slots_total: 7,
      cpu_percent: 170.3,
      rss_bytes: 600 * MIB,
      gpu_util_percent: 87,
      vram_share: 0.75,
      leases_held: 0,
      lease_capacity: 8,
    });
    expect(cell.status.aria_hint).toContain("150.5 generated tokens per second");
  });

  it("uses the lease counter when policy set one", () => {
    const runtimes = [observed("a", 1, {})];
    const leases = (key: string) => (key === "m@gpu:0/none" ? { held: 3, capacity: 4 } : undefined);
    const { cells } = composeMatrix(input({ runtimes, leases }), clock);
    expect(cellOf(cells, "m@gpu:0/none").load).toMatchObject({ leases_held: 3, lease_capacity: 4 });
    expect(cellOf(cells, "m@cpu/none").load).toMatchObject({ leases_held: 0, lease_capacity: 0 });
  });

  it("no GPU figures on a GPU cell whose runtimes are not running", () => {
    const runtimes = [matrixRuntime("a", "stopped", { hardware: "gpu:0" })];
    const s = sample({
      gpus: [{ id: "gpu:0", status: "ok", util_percent: 50, vram_used_bytes: 1, vram_total_bytes: 2 }],
    });
    const cell = cellOf(composeMatrix(input({ runtimes, sample: s }), clock).cells, "m@gpu:0/none");
    expect(cell.load.gpu_util_percent).toBeUndefined();
    expect(cell.load.vram_share).toBeUndefined();
  });

  it("merges health: counts add, latencies take the worst", () => {
    const merged = mergeHealth([
      {
        window_seconds: 300,
        requests: 10,
        errors: 1,
        error_rate: 0.1,
        p50_ms: 5,
        p95_ms: 9,
        last_ok_at: "2025-01-01T00:00:02Z",
      },
      {
        window_seconds: 300,
        requests: 30,
        errors: 0,
        error_rate: 0,
        p50_ms: 7,
        p95_ms: 8,
        last_error: "boom",
        last_ok_at: "2025-01-01T00:00:01Z",
      },
    ]);
    expect(merged).toEqual({
      window_seconds: 300,
      requests: 40,
      errors: 1,
      error_rate: 0.025,
      p50_ms: 7,
      p95_ms: 9,
      last_error: "boom",
      last_ok_at: "2025-01-01T00:00:02Z",
    });
    expect(mergeHealth([])).toBeUndefined();
  });
});

describe("composeMatrix: fit", () => {
  it("gpu → VRAM: a model bigger than the VRAM does not fit, with the numbers in the reason", () => {
    const { cells } = composeMatrix(
      input({ inventory: inventory([{ vram: 8 * GIB }, { vram: 4 * GIB }]) }),
      clock,
    );
    const small = cellOf(cells, "m@gpu:1/none").fit;
    expect(small.fits).toBe(false);
    expect(small.available_bytes).toBe(4 * GIB);
    expect(small.reason).toMatch(
      /^needs 5\.0 GiB \(weights 4\.0 GiB \+ KV 512\.0 MiB at ctx 4096 .*gpu:1 has 4\.0 GiB$/,
    );
    expect(cellOf(cells, "m@gpu:0/none").fit.fits).toBe(true);
  });

  it("cpu → available memory, counting the cell's own runtimes' memory as theirs", () => {
    const lowMemory = sample({
      memory: { total_bytes: 32 * GIB, available_bytes: 1 * GIB, used_bytes: 31 * GIB },
      processes: { 9: { pid: 9, cpu_percent: 1, rss_bytes: 5 * GIB } },
    });
    const running = [matrixRuntime("a", "ready", { view: { pid: 9 } })];
    const { cells } = composeMatrix(input({ sample: lowMemory, runtimes: running }), clock);
    expect(cellOf(cells, "m@cpu/none").fit).toMatchObject({ fits: true, available_bytes: 6 * GIB });
    expect(cellOf(cells, "m@cpu/bwrap").fit).toMatchObject({ fits: false, available_bytes: 1 * GIB });
  });

  it("the runtime's context sizes the KV cache", () => {
    const runtimes = [matrixRuntime("a", "stopped", { spec: { context: 65536 } })];
    const { cells } = composeMatrix(input({ runtimes }), clock);
    expect(cellOf(cells, "m@cpu/none").fit.need_bytes).toBeGreaterThan(
      cellOf(cells, "m@cpu/bwrap").fit.need_bytes ?? 0,
    );
    expect(cellOf(cells, "m@cpu/none").fit.reason).toContain("ctx 65536");
  });

  it("unknown without a GGUF header, with an unreadable file, or a GPU of unknown size", () => {
    const { cells } = composeMatrix(
      input({
        models: [
          { id: "m", path: "/x.gguf", error: "model file /x.gguf is not a GGUF file" },
          { id: "alias" },
        ],
        inventory: inventory([{ status: "unknown" }]),
      }),
      clock,
    );
    expect(cellOf(cells, "m@cpu/none").fit).toEqual({
      fits: "unknown",
      reason: "model file /x.gguf is not a GGUF file",
    });
    expect(cellOf(cells, "alias@cpu/none").fit).toEqual({
      fits: "unknown",
      reason: 'no GGUF file is known for model "alias"',
    });
    const withGguf = composeMatrix(input({ inventory: inventory([{ status: "unknown" }]) }), clock);
    expect(cellOf(withGguf.cells, "m@gpu:0/none").fit).toMatchObject({ fits: "unknown" });
    expect(cellOf(withGguf.cells, "m@gpu:0/none").fit.reason).toMatch(/gpu:0 memory size is unknown/);
  });
});

describe("matrix.changed diff", () => {
  it("reports changed codes, added and removed cells; nothing when equal", () => {
    const before = new Map([
      ["a", "ready"],
      ["b", "offline"],
    ] as const);
    const after = new Map([
      ["a", "error"],
      ["c", "offline"],
    ] as const);
    expect(diffStatusCodes(before, after)).toEqual({
      changed: [{ key: "a", from: "ready", to: "error" }],
      added: ["c"],
      removed: ["b"],
    });
    expect(diffStatusCodes(before, new Map(before))).toBeUndefined();
  });
});

// ─── Properties ───────────────────────────────────────────────────────────────────────────────

const STATES: RuntimeState[] = [
  "stopped",
  "starting",
  "ready",
  "degraded",
  "backoff",
  "exhausted",
  "stopping",
  "failed",
  "idle",
];
const KINDS: SandboxKind[] = ["none", "bwrap", "systemd-run"];

const arbRuntime = fc.record({
  model: fc.constantFrom("m", "n", "o"),
  hardware: fc.constantFrom("cpu", "gpu:0", "gpu:1", "gpu:7"),
  sandbox: fc.constantFrom(...KINDS),
  state: fc.constantFrom(...STATES),
  remote: fc.boolean(),
  rate: fc.option(fc.float({ min: 0, max: 5000, noNaN: true }), { nil: undefined }),
});

describe("composeMatrix properties", () => {
  it("every runtime is in exactly its cell; counts, codes and sums hold", () => {
    fc.assert(
      fc.property(
        fc.array(arbRuntime, { maxLength: 12 }),
        fc.subarray(["m", "p", "q"]),
        fc.integer({ min: 0, max: 2 }),
        (specs, catalog, gpuCount) => {
          const runtimes = specs.map((r, i) =>
            matrixRuntime(`r${i}`, r.state, {
              model: r.model,
              hardware: r.hardware,
              sandbox: r.sandbox,
              spec: r.remote ? { adapter: "remote" } : {},
              ...(r.rate !== undefined
                ? {
                    observation: {
                      at: 0,
                      throughput: { generated_tokens_per_second: Math.round(r.rate * 10) / 10 },
                    },
                  }
                : {}),
            }),
          );
          const inv = inventory(Array.from({ length: gpuCount }, () => ({ vram: 8 * GIB })));
          const result = composeMatrix(
            input({ runtimes, inventory: inv, models: catalog.map((id) => ({ id })) }),
            clock,
          );
          const local = result.axes.hardware.filter((h) => h !== "remote");
          const remoteModels = new Set(
            runtimes.filter((r) => r.spec.adapter === "remote").map((r) => r.model),
          );
          expect(result.cells).toHaveLength(
            result.axes.models.length * local.length * result.axes.sandboxes.length + remoteModels.size,
          );
          expect(new Set(result.cells.map((c) => c.key)).size).toBe(result.cells.length);
          for (const rt of runtimes) {
            const holders = result.cells.filter((c) => c.runtimes.includes(rt.view.id));
            expect(holders.map((c) => c.key)).toEqual([runtimeCellKey(rt.spec, () => undefined)]);
            expect(holders).toHaveLength(1);
          }
          for (const cell of result.cells) {
            expect(cell.available).toBe(cell.unavailable_reason === undefined);
            const mine = runtimes.filter((r) => cell.runtimes.includes(r.view.id));
            if (mine.length === 0) expect(cell.status.label).toBe("No runtime");
            if (mine.some((r) => r.view.status.code === "ready")) expect(cell.status.code).toBe("ready");
            if (mine.length > 0 && mine.every((r) => r.view.status.code === "offline")) {
              expect(cell.status.code).toBe("offline");
            }
            const rates = mine.flatMap((r) => r.observation?.throughput?.generated_tokens_per_second ?? []);
            if (rates.length === 0) expect(cell.throughput.generated_tokens_per_second).toBeUndefined();
            else {
              const sum = rates.reduce((a, b) => a + b, 0);
              expect(cell.throughput.generated_tokens_per_second).toBeCloseTo(sum, 1);
            }
            if (cell.sandbox === "systemd-run" && cell.hardware !== "remote")
              expect(cell.available).toBe(false);
          }
          // Status codes are a pure function of the input: composing twice changes nothing.
          expect(
            diffStatusCodes(
              statusCodes(result.cells),
              statusCodes(
                composeMatrix(
                  input({ runtimes, inventory: inv, models: catalog.map((id) => ({ id })) }),
                  clock,
                ).cells,
              ),
            ),
          ).toBeUndefined();
        },
      ),
      { numRuns: 100 },
    );
  });
});
