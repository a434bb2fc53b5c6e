/** The dashboard's per-cell capabilities and rate unit (daemon/http/dashboard/rate.ts). */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { cellRate } from "../../daemon/http/dashboard/rate.js";
import { composeMatrix } from "../../daemon/matrix/compose.js";
import { inventory, matrixRuntime, SANDBOXES } from "../matrix/fixtures.js";

const clock = new ManualClock(Date.UTC(2025, 8, 29, 12, 0, 5));

describe("dashboard cell rate", () => {
  it("tokens/s for text generation, × real time for transcription, inferences/s for infer", () => {
    const { cells } = composeMatrix(
      {
        models: [{ id: "unknown" }],
        inventory: inventory(),
        sandboxes: SANDBOXES,
        runtimes: [
          matrixRuntime("chat", "ready", {
            model: "llama",
            observation: { at: 0, throughput: { generated_tokens_per_second: 42 } },
          }),
          matrixRuntime("asr", "ready", {
            model: "whisper",
            spec: { adapter: "whisper.cpp" },
            observation: { at: 0, throughput: { audio_seconds_per_second: 12.5 } },
          }),
          matrixRuntime("vision", "ready", {
            model: "matmul",
            spec: { adapter: "onnxruntime" },
            observation: { at: 0, throughput: { inferences_per_second: 250 } },
          }),
        ],
      },
      clock,
    );
    const at = (key: string) => cellRate(cells.find((c) => c.key === key) ?? (cells[0] as never));
    expect(at("llama@cpu/none")).toEqual({
      capabilities: ["chat", "completion", "embeddings"],
      rate_unit: "tok/s",
      rate: 42,
    });
    expect(at("whisper@cpu/none")).toEqual({
      capabilities: ["transcription"],
      rate_unit: "× real time",
      rate: 12.5,
    });
    expect(at("matmul@cpu/none")).toEqual({ capabilities: ["infer"], rate_unit: "inferences/s", rate: 250 });
    // No runtime and no known format: no capabilities, tokens/s with no rate ("—" on the page).
    expect(at("unknown@cpu/none")).toEqual({ capabilities: [], rate_unit: "tok/s" });
  });
});
