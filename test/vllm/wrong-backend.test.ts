/**
 * A port answered by a server that is not the one rmxd launched there: `/health` is 200 but `/v1/models` lists
 * other names than the `--served-model-name` rmxd passed (the stub with VLLM_STUB_SERVE_AS plays that server).
 * The start-up poll fails it at the first probe that gets past /health: the child stopped, the runtime
 * `failed` naming the port, what is served and what was expected, no restart spent, and no start timeout
 * (15 minutes for vLLM) waited out.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killMarked, markedAlive } from "../faults/escape-support.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { record } from "../support/recorder.js";
import { VLLM_STUB, writeHfDir } from "./vllm-support.js";

const mark = `vllm-wrong-${process.pid}-${Date.now()}`;
/** The start-up poll's longest interval here: "one probe interval" of the bound below. */
const POLL_MAX_MS = 200;
let d: DaemonHandle;

beforeAll(async () => {
  const model = await writeHfDir(path.join(await tempDir("rmx-vllm-wrong-"), "tiny-llama"));
  d = await startDaemon({
    config: `
runtimes:
  - id: squatted
    adapter: vllm
    binary: ${VLLM_STUB}
    model: ${model}
    auto_start: false
    stop: { grace: 2s }
    env: { VLLM_STUB_LOAD_MS: "400", VLLM_STUB_SERVE_AS: "someone-else", ESCAPE_MARK: "${mark}" }
    health: { start_poll_max: ${POLL_MAX_MS}ms }
`,
  });
}, 60_000);
afterAll(async () => {
  await killMarked(mark);
  await stopAll();
});

/** When the stub's log says it listens (its own ISO timestamp): the moment /health turns 200. */
async function listeningAt(logFile: string): Promise<number> {
  const text = await readFile(logFile, "utf8");
  const line = text.split("\n").find((l) => l.includes("Application startup complete."));
  const iso = line?.match(/^INFO (\S+)/)?.[1];
  if (iso === undefined) throw new Error(`no "Application startup complete." line in ${logFile}:\n${text}`);
  return Date.parse(iso);
}

describe.runIf(process.platform === "linux")("another server on the vLLM runtime's port", () => {
  it("fails at once with the port, what it serves and what was expected; 0 restarts, no child left", async () => {
    const ev = await record(d, ["runtime.*"]);
    await (await d.client()).call("runtime.start", { id: "squatted" });
    const caught = await ev.next("runtime.state.changed", (p) => p.id === "squatted" && p.to === "stopping");
    const failed = await ev.next("runtime.state.changed", (p) => p.id === "squatted" && p.to === "failed");
    await ev.close();

    const rt = (await d.status()).runtimes.find((r) => r.id === "squatted");
    const port = rt?.port;
    expect(port, "the runtime's port").toBeTypeOf("number");
    const reason: string = failed.payload.reason;
    expect(reason).toContain(`the server on 127.0.0.1:${port} is not the one rmxd launched`);
    expect(reason).toContain(`/v1/models lists ["someone-else"], not "tiny-llama"`);
    expect(reason).toContain("--served-model-name");
    expect(reason).toContain("will not fix itself");
    expect(rt?.state).toBe("failed");
    // The spawn of runtime.start is not a restart, and a server that is not ours earns none.
    expect(rt?.restarts_total).toBe(0);
    expect(rt?.restart_budget.used).toBe(0);
    expect(ev.all("runtime.state.changed", "squatted").map((e) => e.payload.to)).not.toContain("backoff");
    expect(await markedAlive(mark), "stub and worker stopped").toEqual([]);

    // Bound the brief asks for: caught within one start-up poll interval (+ that probe's own time) of 200.
    const up = await listeningAt(path.join(d.stateDir, "logs", "squatted.log"));
    const lag = Date.parse(caught.time) - up;
    const failedLag = Date.parse(failed.time) - up;
    console.log(
      `wrong backend caught ${lag} ms, failed ${failedLag} ms after /health turned 200 (poll max ${POLL_MAX_MS} ms)`,
    );
    expect(lag).toBeLessThanOrEqual(POLL_MAX_MS + 2000);
  });
});
