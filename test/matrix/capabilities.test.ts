/**
 * Cells say what they serve (`capabilities`, from their runtimes' adapters, or for an idle cell from the
 * model's runtimes elsewhere or its GGUF format), and `rmx matrix` draws one grid per capability group with
 * that group's unit: tokens/s, × real time, inferences/s.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CAPABILITIES } from "../../adapters/types.js";
import { ManualClock } from "../../base/clock.js";
import { composeMatrix } from "../../daemon/matrix/compose.js";
import {
  CAPABILITY_GROUPS,
  cellSentence,
  cellWord,
  LEGEND,
  renderMatrixGrid,
  renderMatrixList,
} from "../../ipc/cli/commands/matrix.js";
import { createPalette, visibleWidth } from "../../ipc/cli/format.js";
import type { MatrixCell, MatrixResult } from "../../ipc/protocol/matrix.js";
import { GIB, gguf, inventory, matrixRuntime, SANDBOXES, sample } from "./fixtures.js";

const clock = new ManualClock(Date.UTC(2025, 8, 29, 12, 0, 5));
const plain = createPalette(false);
const hhmmss = (iso: string) => iso.slice(11, 19);

function mixed(): MatrixResult {
  return composeMatrix(
    {
      models: [{ id: "llama-8b", gguf: gguf() }, { id: "idle-gguf", gguf: gguf() }, { id: "mystery" }],
      inventory: inventory([{ vram: 24 * GIB }]),
      sample: sample(),
      sandboxes: SANDBOXES,
      runtimes: [
        matrixRuntime("chat", "ready", {
          model: "llama-8b",
          hardware: "gpu:0",
          spec: { adapter: "llama.cpp" },
          observation: { at: 0, throughput: { generated_tokens_per_second: 42.4 } },
        }),
        matrixRuntime("asr", "ready", {
          model: "whisper-tiny",
          spec: { adapter: "whisper.cpp" },
          observation: { at: 0, throughput: { audio_seconds_per_second: 12.3 } },
        }),
        matrixRuntime("vision", "ready", {
          model: "matmul",
          spec: { adapter: "onnxruntime" },
          observation: { at: 0, throughput: { inferences_per_second: 250.4 } },
        }),
      ],
    },
    clock,
  );
}

const at = (r: MatrixResult, key: string) => r.cells.find((c) => c.key === key) as MatrixCell;

describe("cell capabilities", () => {
  it("come from the runtimes' adapters, the model's runtimes elsewhere, or GGUF; else they are absent", () => {
    const r = mixed();
    expect(at(r, "llama-8b@gpu:0/none").capabilities).toEqual(["chat", "completion", "embeddings"]);
    // The same model on another cell would be served by the same backend.
    expect(at(r, "llama-8b@cpu/bwrap").capabilities).toEqual(["chat", "completion", "embeddings"]);
    expect(at(r, "whisper-tiny@cpu/none").capabilities).toEqual(["transcription"]);
    expect(at(r, "whisper-tiny@gpu:0/none").capabilities).toEqual(["transcription"]);
    expect(at(r, "matmul@cpu/none").capabilities).toEqual(["infer"]);
    // A GGUF file no runtime names: what llama.cpp would serve.
    expect(at(r, "idle-gguf@cpu/none").capabilities).toEqual(["chat", "completion", "embeddings"]);
    expect(at(r, "mystery@cpu/none").capabilities).toBeUndefined();
    expect("capabilities" in at(r, "mystery@cpu/none")).toBe(false);
  });

  it("property: a cell with runtimes serves exactly the union of its adapters' capabilities, in order", () => {
    const adapters = ["llama.cpp", "llama-stub", "whisper.cpp", "onnxruntime", "vllm"] as const;
    const own: Record<(typeof adapters)[number], string[]> = {
      "llama.cpp": ["chat", "completion", "embeddings"],
      "llama-stub": ["chat", "completion", "embeddings"],
      "whisper.cpp": ["transcription"],
      onnxruntime: ["infer"],
      vllm: ["chat", "completion"],
    };
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...adapters), { minLength: 1, maxLength: 4 }), (kinds) => {
        const r = composeMatrix(
          {
            models: [],
            inventory: inventory(),
            sandboxes: SANDBOXES,
            runtimes: kinds.map((adapter, i) =>
              matrixRuntime(`r${i}`, "ready", { model: "m", spec: { adapter } }),
            ),
          },
          clock,
        );
        const want = new Set(kinds.flatMap((k) => own[k]));
        for (const cell of r.cells) {
          expect(cell.capabilities).toEqual(CAPABILITIES.filter((c) => want.has(c)));
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe("rmx matrix groups by capability", () => {
  it("one grid per group in a fixed order, each cell's rate in its group's unit, units in the legend", () => {
    const lines = renderMatrixGrid(mixed(), { palette: plain, formatTime: hhmmss });
    for (const line of lines) expect(visibleWidth(line), line).toBeLessThanOrEqual(80);
    const titles = lines.filter((l) => l.endsWith(":") && !l.startsWith(" ") && !l.startsWith("Requests"));
    expect(titles).toEqual([
      "chat · completion · embeddings:",
      "transcription:",
      "infer:",
      "capabilities not known (no runtime names the model):",
    ]);
    const grid = (title: string) => {
      const from = lines.indexOf(title);
      const next = lines.findIndex((l, i) => i > from && titles.includes(l));
      return lines.slice(from, next < 0 ? lines.indexOf(LEGEND[0] as string) : next);
    };
    const text = grid("chat · completion · embeddings:");
    expect(text.find((l) => l.startsWith("llama-8b"))).toMatch(/ready 42/);
    expect(text.some((l) => l.startsWith("idle-gguf"))).toBe(true);
    expect(text.some((l) => l.startsWith("whisper-tiny") || l.startsWith("matmul"))).toBe(false);
    const asr = grid("transcription:");
    expect(
      asr
        .filter((l) => /^[a-z]/.test(l) && !l.startsWith("model") && !l.endsWith(":"))
        .map((l) => l.split(" ")[0]),
    ).toEqual(["whisper-tiny"]);
    expect(asr.find((l) => l.startsWith("whisper-tiny"))).toMatch(/ready 12x/);
    const inf = grid("infer:");
    expect(inf.find((l) => l.startsWith("matmul"))).toMatch(/ready 250/);
    expect(
      grid("capabilities not known (no runtime names the model):").some((l) => l.startsWith("mystery")),
    ).toBe(true);
    const legend = lines.slice(lines.indexOf(LEGEND[0] as string));
    expect(legend.slice(0, LEGEND.length)).toEqual(LEGEND);
    expect(legend.slice(LEGEND.length)).toEqual([
      "Units: chat · completion · embeddings = generated tokens/s;",
      "  transcription = audio seconds per second (12x: 12 times real time);",
      "  infer = inferences/s.",
    ]);
  });

  it("a group with no cells is not printed, nor its unit", () => {
    const only = composeMatrix(
      {
        models: [],
        inventory: inventory(),
        sandboxes: SANDBOXES,
        runtimes: [matrixRuntime("asr", "ready", { model: "w", spec: { adapter: "whisper.cpp" } })],
      },
      clock,
    );
    const lines = renderMatrixGrid(only, { palette: plain, formatTime: hhmmss });
    expect(lines).toContain("transcription:");
    expect(lines).not.toContain("chat · completion · embeddings:");
    expect(lines).not.toContain("infer:");
    expect(lines.at(-1)).toBe("Units: transcription = audio seconds per second (12x: 12 times real time).");
  });

  it("cellWord takes the group's unit", () => {
    const r = mixed();
    expect(cellWord(at(r, "whisper-tiny@cpu/none")).text).toBe("ready 12x");
    expect(cellWord(at(r, "matmul@cpu/none")).text).toBe("ready 250");
    expect(cellWord(at(r, "llama-8b@gpu:0/none"), CAPABILITY_GROUPS[0]).text).toBe("ready 42");
  });

  it("--list sentences name the capability and the unit, in words", () => {
    const r = mixed();
    expect(cellSentence(at(r, "whisper-tiny@cpu/none"))).toMatch(
      /^whisper-tiny on cpu in sandbox none: Ready; 12\.3 audio seconds transcribed per second, 12\.3 times real time; .*; serves transcription; runtimes: asr\.$/,
    );
    expect(cellSentence(at(r, "matmul@cpu/none"))).toMatch(
      /: Ready; 250\.4 inferences per second; .*; serves infer; runtimes: vision\.$/,
    );
    expect(cellSentence(at(r, "llama-8b@gpu:0/none"))).toMatch(
      /: Ready; 42\.4 generated tokens per second; .*; serves chat, completion and embeddings; runtimes: chat\.$/,
    );
    expect(cellSentence(at(r, "mystery@cpu/none"))).toMatch(/: No runtime; .*; capabilities not known\.$/);
    expect(cellSentence(at(r, "idle-gguf@cpu/none"))).toMatch(
      /: No runtime; .*; would serve chat, completion and embeddings\.$/,
    );
    for (const line of renderMatrixList(r, hhmmss)) expect(line).not.toMatch(/[✓✗…·]/);
  });
});
