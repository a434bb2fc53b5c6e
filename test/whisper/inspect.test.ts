/** `rmx models inspect FILE.bin` reads whisper.cpp's GGML header (as it reads GGUF, ONNX and HF directories). */
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TINY_HEADER as TINY, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";
import { startDaemon, stopAll } from "../support/daemon-harness.js";

afterAll(stopAll);

describe("rmx models inspect, whisper GGML", () => {
  it("prints the size class, the encoder and decoder dims, the estimate and the fit; --json carries the facts", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-whisper-inspect-"));
    const file = path.join(dir, "ggml-tiny.bin");
    await writeFile(file, writeWhisperHeader(TINY));
    const d = await startDaemon({});
    const text = await d.cli(["models", "inspect", file]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("(whisper tiny)");
    expect(text.stdout).toMatch(/whisper\.cpp GGML, f16 weights/);
    expect(text.stdout).toMatch(/audio encoder: 4 layers, width 384, 6 heads, 1500 frames, 80 mel bins/);
    expect(text.stdout).toMatch(/text decoder: 4 layers, width 384, 6 heads, context 448, vocabulary 51865/);
    expect(text.stdout).toMatch(/cpu: (fits|does not fit)/);
    const json = await d.cli(["models", "inspect", file, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      format: "whisper-ggml",
      info: { size_class: "tiny", n_audio_layer: 4, weight_type_name: "f16" },
      fit: { cpu: {} },
    });
    const truncated = path.join(dir, "short.bin");
    await writeFile(truncated, writeWhisperHeader(TINY).subarray(0, 20));
    const bad = await d.cli(["models", "inspect", truncated]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("short.bin");
  });
});
