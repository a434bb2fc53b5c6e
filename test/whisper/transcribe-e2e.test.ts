/**
 * A whisper.cpp runtime under a real rmxd (the whisper stub as its binary): readiness on /health, the WAV
 * inference probe, `transcribe.respond` routed through the matrix and counted as audio seconds per second,
 * and chat never routed to the transcription cell.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_HEADER, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";
import { toneWav } from "../../adapters/whisper-cpp/wav.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import { collect } from "../matrix/support.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir, until } from "../support/daemon-harness.js";
import { WHISPER_STUB } from "./whisper-server-harness.js";

let d: DaemonHandle;

beforeAll(async () => {
  const dir = await tempDir("rmx-whisper-e2e-");
  const model = path.join(dir, "ggml-tiny.bin");
  await writeFile(model, writeWhisperHeader(TINY_HEADER));
  d = await startDaemon({
    config: `
telemetry: { sample_interval: 250ms }
runtimes:
  - id: asr
    adapter: whisper.cpp
    binary: ${WHISPER_STUB}
    model: ${model}
    threads: 2
    auto_start: true
    env: { WHISPER_STUB_MS_PER_AUDIO_SECOND: "100" }
    health: { interval: 250ms, inference: { enabled: true, interval: 250ms } }
`,
    ready: ["asr"],
  });
}, 60_000);
afterAll(stopAll);

describe("whisper.cpp through rmxd", () => {
  it("becomes ready, and its inference probe (a 0.5 s tone to /inference) succeeds", async () => {
    const rt = await until(
      async () => {
        const s = await d.status();
        const r = s.runtimes.find((x) => x.id === "asr");
        return r?.inference !== undefined && r.inference.requests > 0 ? r : undefined;
      },
      20_000,
      "a successful inference probe",
    );
    expect(rt.state).toBe("ready");
    expect(rt.inference?.errors).toBe(0);
  });

  it("transcribes through the matrix and reports audio seconds per second on the cell", async () => {
    const client = await d.client();
    // The cell's rate covers the one scrape interval in which the transcription finished: follow the cells'
    // `runtime.health` entries (subscribed before the request) instead of polling, which can miss it.
    const health = await collect(client, ["runtime.health"]);
    const from = health.mark();
    const audio = toneWav(2).toString("base64");
    const result = (await client.call("transcribe.respond", {
      audio_base64: audio,
      response_format: "verbose_json",
    })) as {
      body: string;
      audio_seconds: number;
      runtime: string;
      cell: string;
    };
    expect(result.runtime).toBe("asr");
    expect(result.audio_seconds).toBe(2);
    expect(JSON.parse(result.body).text).toBe("");
    const event = await health.next(
      (e) => {
        const p = e.payload as { scope?: string; key?: string; throughput?: MatrixCell["throughput"] };
        return (
          p.scope === "cell" && p.key === result.cell && p.throughput?.audio_seconds_per_second !== undefined
        );
      },
      20_000,
      "the cell's audio throughput",
      from,
    );
    const cell = event.payload as Pick<MatrixCell, "throughput">;
    // 2 s of audio at 100 ms per audio second (plus the loaded machine's overhead): far faster than real time.
    expect(cell.throughput.audio_seconds_per_second).toBeGreaterThan(1);
  });

  it("refuses chat: no cell serves it", async () => {
    const client = await d.client();
    await expect(
      client.call("chat.respond", { messages: [{ role: "user", content: "hi" }] }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/needs chat/),
    });
  });
});
