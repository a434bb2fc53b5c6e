/** The GGML header reader, the memory estimate, the WAV writer/reader and the multipart round trip. */
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  estimateWhisperMemory,
  parseWhisperHeader,
  readWhisperModel,
  TINY_HEADER,
  writeWhisperHeader,
} from "../../adapters/whisper-cpp/ggml.js";
import { buildMultipart, parseMultipart } from "../../adapters/whisper-cpp/multipart.js";
import { PROBE_WAV, wavDurationSeconds, writeWav } from "../../adapters/whisper-cpp/wav.js";

/** `../shared` beside the project (a worktree under wt/ sees it one level further up). */
const SHARED_TINY =
  ["../../../shared", "../../../../shared"]
    .map((up) => path.resolve(import.meta.dirname, up, "fixtures/whisper-for-tests-ggml-tiny.bin"))
    .find((p) => existsSync(p)) ?? "";

describe("whisper GGML header", () => {
  it("round-trips any header and refuses a bad magic, naming the file", () => {
    const positive = fc.integer({ min: 1, max: 1 << 20 });
    fc.assert(
      fc.property(
        fc.array(positive, { minLength: 10, maxLength: 10 }),
        fc.integer({ min: 0, max: 3008 }),
        (dims, ftype) => {
          const [
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head,
            n_audio_layer,
            n_text_ctx,
            n_text_state,
            n_text_head,
            n_text_layer,
            n_mels,
          ] = dims as number[];
          const h = {
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head,
            n_audio_layer,
            n_text_ctx,
            n_text_state,
            n_text_head,
            n_text_layer,
            n_mels,
            ftype,
          } as typeof TINY_HEADER;
          expect(parseWhisperHeader(writeWhisperHeader(h), "x.bin")).toEqual(h);
        },
      ),
    );
    const bad = writeWhisperHeader(TINY_HEADER);
    bad.writeUInt32LE(0x46554747, 0); // "GGUF"
    expect(() => parseWhisperHeader(bad, "/m/x.bin")).toThrow(/\/m\/x\.bin: bad magic 0x46554747/);
  });

  it("classifies tiny and estimates its memory from the dims (37.8 M params, f16)", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-ggml-"));
    const file = path.join(dir, "tiny.bin");
    await writeFile(file, writeWhisperHeader(TINY_HEADER));
    const info = await readWhisperModel(file);
    expect(info).toMatchObject({
      size_class: "tiny",
      weight_type_name: "f16",
      quantization_version: 0,
      parameter_count: 37_760_640,
    });
    const est = estimateWhisperMemory(info);
    expect(est.weights_bytes).toBe(37_760_640 * 2);
    // Cross KV matches whisper_init_state's "kv cross size = 9.44 MB" within its padding.
    expect(est.kv_cache_bytes).toBe(2 * 4 * 448 * 384 * 2 + 2 * 4 * 1500 * 384 * 2);
    expect(est.total_bytes).toBe(est.weights_bytes + est.kv_cache_bytes + est.overhead_bytes);
    const large = await readWhisperModel(file).then((i) => ({ ...i, n_audio_layer: 32, n_vocab: 51866 }));
    expect((await import("../../adapters/whisper-cpp/ggml.js")).sizeClass(large)).toBe("large-v3");
  });

  it.skipIf(SHARED_TINY === "")(
    "reads whisper.cpp's own test model (../shared; skipped when absent)",
    async () => {
      const info = await readWhisperModel(SHARED_TINY);
      expect(info).toMatchObject(TINY_HEADER);
      expect(info.size_class).toBe("tiny");
    },
  );
});

describe("WAV and multipart", () => {
  it("a written WAV reads back its duration; the probe is 0.5 s of 16 kHz mono s16", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4000 }), (n) => {
        expect(wavDurationSeconds(writeWav(new Float32Array(n)))).toBeCloseTo(n / 16000, 9);
      }),
    );
    expect(wavDurationSeconds(PROBE_WAV)).toBe(0.5);
    expect(PROBE_WAV.length).toBe(44 + 16000);
    expect(wavDurationSeconds(Buffer.from("not a wav"))).toBeUndefined();
  });

  it("multipart bodies parse back to their fields, binary data intact", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.string({ maxLength: 40 }), (bytes, text) => {
        const data = Buffer.from(bytes);
        const form = buildMultipart([
          { name: "file", filename: "a.wav", data },
          { name: "response_format", value: text },
        ]);
        const parts = parseMultipart(form.body, form.contentType);
        expect(parts?.map((p) => p.name)).toEqual(["file", "response_format"]);
        expect(parts?.[0]?.data.equals(data)).toBe(true);
        expect(parts?.[1]?.data.toString("utf8")).toBe(text);
      }),
    );
    expect(parseMultipart(Buffer.from("garbage"), "multipart/form-data")).toBeUndefined();
  });
});
