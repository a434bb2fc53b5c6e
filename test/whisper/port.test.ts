/**
 * The whisper.cpp pieces that live outside its folder: `threads` in the config (whisper.cpp only, 1..1024),
 * the model-format dispatch (GGUF or whisper GGML by magic, FIFOs refused without blocking), audio seconds
 * per second from the routed-transcription counters, and routing that never sends chat to a
 * transcription-only cell.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readModel } from "../../adapters/model-formats.js";
import { TINY_HEADER, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";
import { isRmxError } from "../../base/errors.js";
import { parseConfigText } from "../../config/load.js";
import { ratesBetween } from "../../daemon/matrix/throughput.js";
import { resolveCell } from "../../daemon/policy/resolve.js";
import { makeCandidate, makeCell } from "../policy/fixtures.js";

const parse = (text: string) => parseConfigText(text, "rmx.yaml", "/etc/rmx", { home: "/home/tester" });

function issues(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    if (!isRmxError(err, "CONFIG_INVALID")) throw err;
    const found = (err.data?.issues ?? []) as { path: string; message: string }[];
    return found.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error("expected CONFIG_INVALID");
}

describe("config: threads", () => {
  it("resolves on whisper.cpp, and is refused elsewhere and outside 1..1024", () => {
    const ok = parse(
      "runtimes:\n  - { id: asr, adapter: whisper.cpp, model: /m/ggml-tiny.bin, threads: 4 }\n",
    );
    expect(ok.runtimes[0]?.threads).toBe(4);
    expect(issues("runtimes:\n  - { id: a, adapter: llama-stub, threads: 4 }\n")).toEqual([
      "runtimes[0].threads: threads applies only to adapter whisper.cpp",
    ]);
    const range = issues(
      "runtimes:\n  - { id: a, adapter: whisper.cpp, model: /m/a.bin, threads: 0 }\n" +
        "  - { id: b, adapter: whisper.cpp, model: /m/b.bin, threads: 1025 }\n",
    );
    expect(range).toHaveLength(2);
    expect(range[0]).toBe("runtimes[0].threads: expected a positive integer, got 0");
    expect(range[1]).toMatch(/^runtimes\[1\]\.threads: .*1024/);
    expect(issues("runtimes:\n  - { id: asr, adapter: whisper.cpp }\n")).toEqual([
      "runtimes[0].model: adapter whisper.cpp needs model (a models[].id or a path to a whisper GGML .bin file)",
    ]);
  });
});

describe("model formats", () => {
  it("reads a whisper GGML file by its magic, with its estimate; refuses a FIFO at once", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-formats-"));
    const bin = path.join(dir, "ggml-tiny.bin");
    await writeFile(bin, writeWhisperHeader(TINY_HEADER));
    const read = await readModel(bin);
    expect(read.format).toBe("whisper-ggml");
    expect(read.estimate.total_bytes).toBeGreaterThan(read.estimate.weights_bytes);
    expect(read.estimate.explanation).toMatch(/whisper tiny/);
    const fifo = path.join(dir, "pipe.bin");
    execFileSync("mkfifo", [fifo]);
    // No writer ever opens it: a blocking open would hang here.
    await expect(readModel(fifo)).rejects.toMatchObject({ code: "MODEL_INVALID" });
    await expect(readModel(path.join(dir, "absent.gguf"))).rejects.toMatchObject({ code: "MODEL_MISSING" });
  });
});

describe("audio seconds per second", () => {
  it("property: Δaudio / Δbusy between readings of one process; none when nothing finished or a counter fell", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.double({ min: 0, max: 1e4, noNaN: true }),
        fc.double({ min: 0, max: 1e4, noNaN: true }),
        fc.integer({ min: 1, max: 60_000 }),
        (audio0, busy0, dAudio, dBusy, dt) => {
          const prev = { at: 0, pid: 1, audio_seconds_total: audio0, audio_busy_seconds_total: busy0 };
          const next = {
            at: dt,
            pid: 1,
            audio_seconds_total: audio0 + dAudio,
            audio_busy_seconds_total: busy0 + dBusy,
          };
          const rates = ratesBetween(prev, next);
          const busy = next.audio_busy_seconds_total - busy0;
          const speed = (next.audio_seconds_total - audio0) / busy;
          // A busy time too small to divide by (or none) gives no rate.
          if (busy > 0 && Number.isFinite(speed)) {
            expect(rates?.audio_seconds_per_second).toBe(Math.round(speed * 10) / 10);
          } else expect(rates).toBeUndefined();
          // A restart (counters back to zero) says nothing about speed.
          expect(ratesBetween(next, { ...prev, at: dt * 2 })?.audio_seconds_per_second).toBeUndefined();
        },
      ),
    );
  });
});

describe("routing by what a cell serves", () => {
  const open = { allow_fallback: true, allow_remote: true, allow_cpu: true };
  const asr = makeCandidate(makeCell("ggml-tiny.bin", "cpu", "none"), { capabilities: ["transcription"] });
  const llm = makeCandidate(makeCell("qwen-1b", "cpu", "none"), { capabilities: ["chat", "completion"] });

  it("a request that names nothing is chat: never the transcription-only cell", () => {
    const r = resolveCell({}, [asr], undefined, open);
    expect(r.chosen).toBeUndefined();
    expect(r.passed_over[0]).toMatchObject({
      why: "missing_capability",
      detail: "needs chat; offers transcription",
    });
    expect(resolveCell({}, [asr, llm], undefined, open).chosen?.cell).toBe(llm.cell.key);
    expect(resolveCell({ needs: ["transcription"] }, [llm, asr], undefined, open).chosen?.cell).toBe(
      asr.cell.key,
    );
  });
});
