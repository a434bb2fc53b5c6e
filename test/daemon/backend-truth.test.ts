/**
 * Failures a user can act on, with backends that behave like llama-server b4748
 * (test/fixtures/llama-server-b4748/lifecycle.json, flags.json): the backend's own error line is in the
 * reason, the detail, the aria hint and `rmx runtime status`; the same start-up error twice is a
 * configuration error (failed, the budget kept); the SIGABRT b4748 dies of after our SIGTERM is a stop.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RuntimeView } from "../../ipc/protocol/runtime.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { type Recorder, record } from "../support/recorder.js";

let h: DaemonHandle;
let dir: string;

/** b4748 with `--no-such-flag`: one line on stderr, exit 1, at once (flags.json `unknown_flag`). */
const BAD_FLAG = `console.error("error: invalid argument: --no-such-flag"); process.exit(1);`;
/** b4748 on a model with an unknown architecture: the loader's lines, then SIGABRT (lifecycle.json). */
const BAD_MODEL = `
console.error("main: loading model");
console.error("llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'llamb'");
console.error("llama_model_load_from_file_impl: failed to load model");
console.error("main: exiting due to model loading error\\u001b[0m");
console.error("terminate called without an active exception");
process.kill(process.pid, "SIGABRT");`;
/** A server that answers /health and, like b4748, dies of SIGABRT after SIGTERM (lifecycle.json sigterm_idle). */
const ABORTS_ON_TERM = `
const http = require("node:http");
const port = Number(process.argv[process.argv.indexOf("--port") + 1]);
http.createServer((req, res) => { res.writeHead(200); res.end("{}"); }).listen(port, "127.0.0.1");
process.on("SIGTERM", () => {
  console.error("srv    operator(): operator(): cleaning up before exit...");
  console.error("terminate called without an active exception");
  process.removeAllListeners("SIGABRT");
  process.kill(process.pid, "SIGABRT");
});`;

async function script(name: string, body: string): Promise<string> {
  const file = path.join(dir, `${name}.cjs`);
  await fs.writeFile(file, body);
  return file;
}

function runtime(id: string, file: string, extra = ""): string {
  return [
    `  - id: ${id}`,
    "    adapter: command",
    `    binary: ${JSON.stringify(process.execPath)}`,
    `    args: [${JSON.stringify(file)}, "--port", "{port}"]`,
    "    hardware: cpu",
    "    sandbox: none",
    "    auto_start: false",
    "    health: { path: /health, start_poll_initial: 10ms, start_poll_max: 50ms }",
    "    restart_budget: { max_restarts: 3, window_seconds: 600, retry_at_reset: true }",
    "    stop: { signal: SIGTERM, grace: 5s }",
    ...(extra ? [extra] : []),
  ].join("\n");
}

beforeAll(async () => {
  dir = await tempDir("rmx-truth-");
  const config = [
    "defaults:",
    "  backoff: { initial: 50ms, max: 500ms, jitter: 0 }",
    "runtimes:",
    runtime("badflag", await script("badflag", BAD_FLAG)),
    runtime("badmodel", await script("badmodel", BAD_MODEL)),
    runtime("aborts", await script("aborts", ABORTS_ON_TERM)),
    "",
  ].join("\n");
  h = await startDaemon({ config });
});

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

async function startAndSettle(id: string, states: RuntimeView["state"][]): Promise<RuntimeView> {
  const c = await h.client();
  await c.call("runtime.start", { id });
  return h.waitForState(id, states);
}

describe("the backend's own words reach the user", () => {
  it("an invalid flag: failed after one restart, not the whole budget, with the server's line everywhere", async () => {
    const rt = await startAndSettle("badflag", ["failed", "exhausted"]);
    const figures = `state ${rt.state}, reason ${rt.reason}, budget ${JSON.stringify(rt.restart_budget)}`;
    expect(rt.state, figures).toBe("failed");
    expect(rt.reason, figures).toBe(
      "exited during start-up (exit code 1) twice in a row; will not fix itself: error: invalid argument: --no-such-flag",
    );
    expect(rt.restart_budget, figures).toMatchObject({ used: 1, remaining: 2 });
    expect(rt.next_retry_at, "a retry still comes at the reset horizon").toBe(rt.restart_budget.reset_at);
    expect(rt.status.detail?.join("\n"), figures).toContain("error: invalid argument: --no-such-flag");
    expect(rt.status.aria_hint, figures).toContain(
      "will not fix itself: error: invalid argument: --no-such-flag",
    );
    const text = await h.cli(["runtime", "status"]);
    expect(text.stdout, text.stdout).toContain(
      "badflag: exited during start-up (exit code 1) twice in a row",
    );
    expect(text.stdout, text.stdout).toContain("error: invalid argument: --no-such-flag");
    // A restore is a deliberate new attempt: it runs (and fails the same way again, one restart later).
    const c = await h.client();
    await c.call("runtime.restore", { id: "badflag" });
    const again = await h.waitForState("badflag", ["failed", "exhausted", "backoff"]);
    expect(again.state, `after restore: ${again.state} ${again.reason}`).toMatch(/failed|backoff/);
  });

  it("a model that fails to load: the loader's cause, not only SIGABRT, in the reason (escapes stripped)", async () => {
    const rt = await startAndSettle("badmodel", ["failed", "exhausted"]);
    expect(rt.state, `${rt.state}: ${rt.reason}`).toBe("failed");
    expect(rt.reason, rt.reason).toContain("(signal SIGABRT) twice in a row; will not fix itself:");
    expect(rt.reason, rt.reason).toContain("unknown model architecture: 'llamb'");
    expect(rt.reason, "no control characters").not.toMatch(/[\x00-\x1f]/);
    expect(rt.restart_budget.used).toBe(1);
  });

  it("SIGABRT after our SIGTERM is the stop: stopped, no restart, logged as expected", async () => {
    const ready = await startAndSettle("aborts", ["ready"]);
    const ev: Recorder = await record(h, ["runtime.*"]);
    const c = await h.client();
    await c.call("runtime.stop", { id: "aborts", wait: true });
    const exited = await ev.next("runtime.exited", (p) => p.id === "aborts");
    await ev.close();
    expect(exited.payload, JSON.stringify(exited.payload)).toMatchObject({
      signal: "SIGABRT",
      expected: true,
    });
    const rt = await h.waitForState("aborts", ["stopped"]);
    expect(rt.restarts_total).toBe(0);
    expect(rt.restart_budget.used).toBe(0);
    expect(rt.reason).toBe("stopped by request");
    const logs = await h.cli(["runtime", "logs", "--id", "aborts", "-n", "5"]);
    expect(logs.stdout, logs.stdout).toContain(
      `process ${ready.pid} stopped (SIGABRT after SIGTERM, expected)`,
    );
  });
});
