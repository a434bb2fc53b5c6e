/**
 * A vLLM runtime under a real rmxd with the stub as its binary: readiness through the loading phase,
 * `chat.respond` routed to it under the served name, its matrix cell ready with throughput from vLLM's
 * `/metrics`, and the no-escape guarantee with workers that ignore SIGTERM: none alive after `runtime.stop`
 * nor after rmxd stops.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import { killMarked, markedAlive } from "../faults/escape-support.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir, until } from "../support/daemon-harness.js";
import { VLLM_STUB, writeHfDir } from "./vllm-support.js";

const mark = `vllm-e2e-${process.pid}-${Date.now()}`;
let d: DaemonHandle;

beforeAll(async () => {
  const model = await writeHfDir(path.join(await tempDir("rmx-vllm-e2e-"), "tiny-llama"));
  d = await startDaemon({
    config: `
telemetry: { sample_interval: 250ms }
runtimes:
  - id: big
    adapter: vllm
    binary: ${VLLM_STUB}
    model: ${model}
    context: 1024
    auto_start: true
    stop: { grace: 2s }
    env: { VLLM_STUB_LOAD_MS: "700", VLLM_STUB_MS_PER_TOKEN: "2", VLLM_STUB_WORKER_STUBBORN: "1", ESCAPE_MARK: "${mark}" }
    health: { interval: 250ms, inference: { enabled: true, interval: 250ms } }
`,
    ready: ["big"],
  });
}, 60_000);
afterAll(async () => {
  await killMarked(mark);
  await stopAll();
});

describe.runIf(process.platform === "linux")("vLLM through rmxd", () => {
  it("becomes ready after the engine loads, and its 1-token inference probe succeeds", async () => {
    const rt = await until(
      async () => {
        const r = (await d.status()).runtimes.find((x) => x.id === "big");
        return r?.inference !== undefined && r.inference.requests > 0 ? r : undefined;
      },
      20_000,
      "a successful inference probe",
    );
    expect(rt.state).toBe("ready");
    expect(rt.inference?.errors).toBe(0);
    expect(d.stderr()).not.toMatch(/unrecognized arguments/);
  });

  it("answers chat.respond, and its cell is ready with generated tokens per second from /metrics", async () => {
    const client = await d.client();
    const chat = (await client.call("chat.respond", {
      model: "tiny-llama",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    })) as { runtime: string; content?: string };
    expect(chat.runtime).toBe("big");
    expect(chat.content).toBe("Hello from the");
    const cell = await until(
      async () => {
        await client.call("chat.respond", {
          model: "tiny-llama",
          messages: [{ role: "user", content: "go" }],
          max_tokens: 8,
        });
        const m = (await client.call("matrix.get", {})) as { cells: MatrixCell[] };
        const c = m.cells.find((x) => x.key === "tiny-llama@cpu/none");
        return c?.throughput.generated_tokens_per_second !== undefined ? c : undefined;
      },
      20_000,
      "the cell's generated tokens per second",
    );
    expect(cell.status.code).toMatch(/ready|serving|busy/);
    expect(cell.throughput.generated_tokens_per_second).toBeGreaterThan(0);
  });

  it("runtime.stop leaves no worker behind, even ones that ignore SIGTERM", async () => {
    const before = await markedAlive(mark);
    expect(before.length, `stub + 1 worker alive before: ${before}`).toBe(2);
    const client = await d.client();
    await client.call("runtime.stop", { id: "big", wait: true, timeout_ms: 20_000 });
    expect(await markedAlive(mark)).toEqual([]);
  });

  it("after rmxd stops, nothing it started survives", async () => {
    const client = await d.client();
    await client.call("runtime.start", { id: "big", wait: true, timeout_ms: 30_000 });
    expect((await markedAlive(mark)).length).toBe(2);
    await d.stop("SIGTERM");
    expect(await markedAlive(mark)).toEqual([]);
  });
});
