import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { composeMatrix } from "../../daemon/matrix/compose.js";
import {
  cellSentence,
  cellWord,
  formatRate,
  LEGEND,
  renderMatrixGrid,
  renderMatrixList,
} from "../../ipc/cli/commands/matrix.js";
import { createPalette, visibleWidth } from "../../ipc/cli/format.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import { GIB, gguf, inventory, matrixRuntime, SANDBOXES, sample } from "./fixtures.js";

const clock = new ManualClock(Date.UTC(2025, 8, 29, 12, 0, 5));
const plain = createPalette(false);
const hhmmss = (iso: string) => iso.slice(11, 19);

function example() {
  return composeMatrix(
    {
      models: [
        { id: "llama-8b-q4", gguf: gguf() },
        { id: "huge", gguf: gguf({ file_size: 40 * GIB }) },
      ],
      inventory: inventory([{ vram: 24 * GIB }, { vram: 12 * GIB }]),
      sample: sample(),
      sandboxes: SANDBOXES,
      runtimes: [
        matrixRuntime("fast", "ready", {
          model: "llama-8b-q4",
          hardware: "gpu:0",
          observation: { at: 0, throughput: { generated_tokens_per_second: 1234.5 } },
        }),
        matrixRuntime("slow", "degraded", {
          model: "llama-8b-q4",
          sandbox: "bwrap",
          observation: { at: 0, throughput: { generated_tokens_per_second: 4.25 } },
        }),
        matrixRuntime("sd", "failed", { model: "llama-8b-q4", sandbox: "systemd-run" }),
      ],
    },
    clock,
  );
}

describe("rmx matrix grid", () => {
  it("models as rows, hardware/sandbox as columns, state word and tokens/s, then the legend, in 80 columns", () => {
    const lines = renderMatrixGrid(example(), { palette: plain, formatTime: hhmmss });
    for (const line of lines) expect(visibleWidth(line), line).toBeLessThanOrEqual(80);
    expect(lines[0]).toBe("Runtime matrix (updated 12:00:05): 2 model(s), 3 hardware, 3 sandbox kind(s)");
    expect(lines[1]).toBe("3 cell(s) with a runtime, 1 ready; 18 cells in all");
    const text = lines.join("\n");
    const row = lines.filter((l) => l.startsWith("llama-8b-q4"));
    // 9 columns do not fit 80 characters: two blocks, each repeating the model column.
    expect(row.length).toBe(2);
    expect(row.join(" ")).toMatch(/ready 1\.2k/);
    expect(row.join(" ")).toMatch(/degr 4\.3/);
    expect(row.join(" ")).toMatch(/error/);
    const huge = lines.filter((l) => l.startsWith("huge")).join(" ");
    expect(huge).toMatch(/nofit/);
    expect(huge).toMatch(/n\/a/);
    expect(text).toContain(LEGEND.join("\n"));
    expect(lines.filter((l) => l.startsWith("model")).join(" ")).toMatch(/none +bwrap +systemd/);
  });

  it("uses a wider terminal when there is one", () => {
    const lines = renderMatrixGrid(example(), { palette: plain, width: 140, formatTime: hhmmss });
    expect(lines.filter((l) => l.startsWith("llama-8b-q4"))).toHaveLength(1);
    for (const line of lines) expect(visibleWidth(line)).toBeLessThanOrEqual(140);
  });

  it("colours only tint the word; widths are unchanged", () => {
    const colour = renderMatrixGrid(example(), { palette: createPalette(true), formatTime: hhmmss });
    const none = renderMatrixGrid(example(), { palette: plain, formatTime: hhmmss });
    expect(colour.join("\n")).toContain("\u001b[32mready\u001b[39m 1.2k");
    expect(colour.map(visibleWidth)).toEqual(none.map(visibleWidth));
  });

  it("says what to do with no models", () => {
    const empty = composeMatrix(
      { models: [], inventory: inventory(), sandboxes: SANDBOXES, runtimes: [] },
      clock,
    );
    expect(renderMatrixGrid(empty, { palette: plain, formatTime: hhmmss }).at(-1)).toBe(
      "No models: add models or model_dirs to the configuration.",
    );
  });

  it.each([
    [0, "0"],
    [0.44, "0.4"],
    [9.96, "10"],
    [42.4, "42"],
    [999.4, "999"],
    [1234, "1.2k"],
    [123_456, "123k"],
  ])("formatRate(%d) = %s", (rate, text) => {
    expect(formatRate(rate)).toBe(text);
  });

  it("property: any matrix renders within the width, one row per model per block", () => {
    const states: RuntimeState[] = ["ready", "failed", "starting", "degraded", "stopped"];
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,62}$/), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(
          fc.record({
            m: fc.nat(),
            hw: fc.nat(),
            state: fc.constantFrom(...states),
            rate: fc.option(fc.double({ min: 0, max: 1e6, noNaN: true }), { nil: undefined }),
          }),
          { maxLength: 8 },
        ),
        fc.integer({ min: 40, max: 200 }),
        (names, gpus, rts, width) => {
          const models = [...new Set(names)];
          const hardware = ["cpu", ...Array.from({ length: gpus }, (_, i) => `gpu:${i}`)];
          const runtimes = rts.map((r, i) =>
            matrixRuntime(`r${i}`, r.state, {
              model: models[r.m % models.length] as string,
              hardware: hardware[r.hw % hardware.length] as string,
              ...(r.rate !== undefined
                ? { observation: { at: 0, throughput: { generated_tokens_per_second: r.rate } } }
                : {}),
            }),
          );
          const result = composeMatrix(
            {
              models: models.map((id) => ({ id })),
              inventory: inventory(Array.from({ length: gpus }, () => ({ vram: GIB }))),
              sandboxes: SANDBOXES,
              runtimes,
            },
            clock,
          );
          const lines = renderMatrixGrid(result, { palette: plain, width, formatTime: hhmmss });
          for (const line of lines) expect(visibleWidth(line)).toBeLessThanOrEqual(Math.max(width, 80));
          const modelRows = lines.filter((l) => result.axes.models.some((m) => l.startsWith(m.slice(0, 23))));
          expect(modelRows.length).toBeGreaterThanOrEqual(result.axes.models.length);
          expect(renderMatrixList(result, hhmmss)).toHaveLength(result.cells.length + 1);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("rmx matrix --list", () => {
  it("one sentence per cell with every fact spelled out", () => {
    const result = example();
    const lines = renderMatrixList(result, hhmmss);
    expect(lines[0]).toBe("Runtime matrix updated 12:00:05: 18 cells, 3 with a runtime.");
    const fast = result.cells.find((c) => c.key === "llama-8b-q4@gpu:0/none");
    expect(fast && cellSentence(fast)).toBe(
      "llama-8b-q4 on gpu:0 in sandbox none: Ready; 1234.5 generated tokens per second; 0 of 1 lease held; " +
        `fits: ${fast?.fit.reason}; serves chat, completion and embeddings; runtimes: fast.`,
    );
    const sd = lines.find((l) => l.startsWith("huge on cpu in sandbox systemd-run"));
    expect(sd).toMatch(
      /: unavailable \(sandbox systemd-run is unavailable: PID 1 is not systemd .*\); No runtime; /,
    );
    expect(
      lines.some((l) => /^huge on gpu:1 in sandbox none: No runtime; does not fit: needs /.test(l)),
    ).toBe(true);
    for (const line of lines) expect(line).not.toMatch(/[✓✗…]/);
  });

  it("cellWord: no runtime reads --, nofit or n/a", () => {
    const cells = example().cells;
    const at = (key: string) => cellWord(cells.find((c) => c.key === key) ?? cells[0]!).text;
    expect(at("llama-8b-q4@cpu/none")).toBe("--");
    expect(at("huge@gpu:0/none")).toBe("nofit");
    expect(at("huge@cpu/systemd-run")).toBe("n/a");
    expect(at("llama-8b-q4@cpu/systemd-run")).toBe("error");
  });
});

describe("rmx matrix request telemetry", () => {
  const withRequests = () =>
    composeMatrix(
      {
        models: [{ id: "llama-8b-q4", gguf: gguf() }],
        inventory: inventory([{ vram: 24 * GIB }]),
        sample: sample(),
        sandboxes: SANDBOXES,
        runtimes: [matrixRuntime("fast", "ready", { model: "llama-8b-q4", hardware: "gpu:0" })],
        requests: (key) =>
          key === "llama-8b-q4@gpu:0/none"
            ? {
                total: 1234,
                errors: 5,
                error_rate: 0.0041,
                p95_ms: 2400,
                ttft_p50_ms: 12.3,
                slow: true,
                slow_reason: "p95 2400 ms is at or over the 1500 ms slow-route threshold (last 5 min)",
              }
            : { total: 1, errors: 0, error_rate: 0 },
      },
      clock,
    );

  it("only cells with a runtime carry requests; the grid lists them compactly, the sentences in words", () => {
    const result = withRequests();
    expect(result.cells.filter((c) => c.requests !== undefined).map((c) => c.key)).toEqual([
      "llama-8b-q4@gpu:0/none",
    ]);
    const lines = renderMatrixGrid(result, { palette: plain, formatTime: hhmmss });
    for (const line of lines) expect(visibleWidth(line), line).toBeLessThanOrEqual(80);
    expect(lines).toContain("  llama-8b-q4@gpu:0/none  req 1.2k err 0.4% p95 2.4s ttft 12ms slow");
    const sentence = cellSentence(result.cells.find((c) => c.requests !== undefined) as MatrixCell);
    expect(sentence).toContain(
      "1234 requests routed, 5 errors, 95th percentile 2400 milliseconds, first token after 12 milliseconds, slow: p95 2400 ms",
    );
  });

  it("a matrix without requests renders as before", () => {
    const lines = renderMatrixGrid(example(), { palette: plain, formatTime: hhmmss });
    expect(lines.some((l) => l.startsWith("Requests routed"))).toBe(false);
  });
});
