/**
 * Reload and switch as transactions, with real processes: llama-server's part is played by the stub behind
 * a wrapper script that refuses one model file at start-up with llama.cpp's own words (a refusal no static
 * check sees). (1) both fit: the new process starts beside the old one and takes over with no failed
 * request; (2) the new spec fails: RELOAD_FAILED with the backend's line, the old process (same pid) keeps
 * serving; (3) they do not both fit (free memory forced tiny): the old one stops first, the new one fails,
 * the old spec comes back; (4) a file llama.cpp would refuse is refused up front, naming the missing key.
 * None of them spends restart budget.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatResult, QuickActionResult } from "../../ipc/protocol/policy.js";
import type { RuntimeView } from "../../ipc/protocol/runtime.js";
import { report } from "../faults/fault-support.js";
import { type DaemonHandle, STUB, startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";
import { call, callError, recordEvents } from "./support.js";

const REFUSAL = "llama_model_load: error loading model architecture: unknown model architecture: 'qwen9'";

let dir: string;
const models: Record<string, string> = {};

async function model(name: string, dims: [number, number]): Promise<string> {
  const file = path.join(dir, `${name}.gguf`);
  await writeTinyGguf(file, { name, tensors: [{ name: "token_embd.weight", dims, type: 0 }] });
  return file;
}

/** "llama-server": the stub, except for a model whose path contains "refused" (it dies like llama.cpp does). */
async function wrapper(): Promise<string> {
  const file = path.join(dir, "llama-server");
  const script = `#!/bin/sh
for a in "$@"; do
  case "$a" in
    *refused*)
      echo "llama_model_loader: loaded meta data with 5 key-value pairs from $a" >&2
      echo "${REFUSAL}" >&2
      printf 'main: exiting due to model loading error\\033[0m\\n' >&2
      exit 1 ;;
  esac
done
exec "${process.execPath}" "${STUB}" "$@"
`;
  await fs.writeFile(file, script, { mode: 0o755 });
  return file;
}

function config(binary: string): string {
  return `
models:
  - { id: alpha, path: ${models.alpha} }
  - { id: beta, path: ${models.beta} }
defaults:
  health: { interval: 200ms, start_timeout: 20s }
runtimes:
  - id: rt
    adapter: llama.cpp
    binary: ${binary}
    model: alpha
    hardware: cpu
    sandbox: none
    auto_start: true
    args: ["--stub-load-ms", "400", "--stub-tokens-per-second", "2000"]
`;
}

beforeAll(async () => {
  dir = await tempDir("rmx-reload-tx-");
  models.alpha = await model("alpha", [64, 64]);
  models.beta = await model("beta", [8, 16]);
  models.refused = await model("refused", [8, 16]);
  models.noeps = path.join(dir, "noeps.gguf");
  await writeTinyGguf(models.noeps, {
    loaderKeys: false,
    context_length: 4096,
    embedding_length: 8,
    block_count: 1,
    extraMetadata: { "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": "x" },
  });
});

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

async function view(d: DaemonHandle): Promise<RuntimeView & { count: number }> {
  const s = await d.status();
  const all = s.runtimes.filter((r) => r.id === "rt");
  const rt = all[0];
  if (rt === undefined) throw new Error("runtime rt missing from status");
  return { ...rt, count: s.runtimes.length };
}

/** A client asking `chat.respond` again and again until stopped; counts answers and failures. */
function poller(d: DaemonHandle) {
  const stats = { ok: 0, failed: 0, errors: [] as string[], maxRuntimes: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        await call<ChatResult>(d, "chat.respond", {
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 2,
        });
        stats.ok++;
      } catch (error) {
        stats.failed++;
        stats.errors.push(error instanceof Error ? error.message : String(error));
      }
      const s = await d.status();
      stats.maxRuntimes = Math.max(stats.maxRuntimes, s.runtimes.length);
    }
  })();
  return {
    stats,
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}

describe("transactional reload, both fit (beside)", () => {
  let d: DaemonHandle;
  beforeAll(async () => {
    d = await startDaemon({
      config: config(await wrapper()),
      dir: await tempDir("rmx-reload-b-"),
      ready: ["rt"],
    });
  }, 60_000);

  it("(1) starts the new process beside the old one; no request fails; same budget", async () => {
    const before = await view(d);
    const poll = poller(d);
    // Some answers before the reload, so the poller is known to be running.
    while (poll.stats.ok < 3) await call(d, "runtime.status");
    const result = await call<QuickActionResult>(
      d,
      "runtime.reload",
      { id: "rt", model: "beta", wait: true, timeout_ms: 60_000 },
      90_000,
    );
    const during = { ...poll.stats };
    const after0 = poll.stats.ok;
    while (poll.stats.ok < after0 + 3) await call(d, "runtime.status");
    const stats = await poll.stop();
    const after = await view(d);

    expect(result.takeover?.path).toBe("beside");
    expect(result.outcome).toBe("ready");
    expect(stats.failed, stats.errors.join("\n")).toBe(0);
    expect(stats.maxRuntimes).toBe(1); // the candidate never showed as a runtime
    expect(after).toMatchObject({ state: "ready", model: "beta", restarts_total: 0, count: 1 });
    expect(after.pid).not.toBe(before.pid);
    expect(after.pid).toBe(result.takeover?.new_pid);
    expect(result.takeover?.old_pid).toBe(before.pid);
    expect(after.restart_budget.used).toBe(before.restart_budget.used);
    report("reload beside", {
      requests_during_reload: during.ok + during.failed,
      failed_requests: stats.failed,
      budget_used_before: before.restart_budget.used,
      budget_used_after: after.restart_budget.used,
      took_over_ms: result.takeover?.took_over_ms,
    });
  }, 90_000);

  it("(2) a new spec the backend refuses: RELOAD_FAILED with its line; the old process keeps serving", async () => {
    const before = await view(d);
    const events = await recordEvents(d, ["runtime.reload.failed", "runtime.restart"]);
    const r = await d.cli(
      ["runtime", "reload", "--id", "rt", "--model", models.refused as string, "--wait"],
      {
        timeoutMs: 60_000,
      },
    );
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toContain("[RELOAD_FAILED]");
    expect(r.stderr).toContain(REFUSAL);
    expect(r.stderr).toContain(`rt keeps serving beta on cpu (pid ${before.pid})`);
    expect(r.stderr).not.toContain("\u001b"); // the backend's escape sequence is stripped
    const failed = await events.waitFor("runtime.reload.failed");
    const payload = failed.payload as { backend_lines: string[]; rolled_back: boolean; path: string };
    expect(payload).toMatchObject({ path: "beside", rolled_back: false });
    expect(payload.backend_lines).toContain(REFUSAL);
    expect(payload.backend_lines.length).toBeLessThanOrEqual(5);
    expect(events.seen("runtime.restart")).toHaveLength(0);
    await events.close();
    const after = await view(d);
    expect(after).toMatchObject({
      state: "ready",
      model: "beta",
      pid: before.pid,
      restarts_total: 0,
      count: 1,
    });
    expect(after.restart_budget.used).toBe(before.restart_budget.used);
    const chat = await call<ChatResult>(d, "chat.respond", { messages: [{ role: "user", content: "hi" }] });
    expect(chat.runtime).toBe("rt");
    report("reload refused beside", {
      pid_before: before.pid,
      pid_after: after.pid,
      budget_used: after.restart_budget.used,
    });
  }, 90_000);

  it("refuses a reload during a reload with RUNTIME_BUSY", async () => {
    const events = await recordEvents(d, ["runtime.state.changed"]);
    const first = await call<QuickActionResult>(d, "runtime.reload", { id: "rt", model: "alpha" });
    expect(first.takeover?.path).toBe("beside");
    const busy = await callError(d, "runtime.reload", { id: "rt", model: "beta" });
    expect(busy.stableCode).toBe("RUNTIME_BUSY");
    expect(busy.message).toContain("runtime rt is in a reload to alpha on cpu already");
    const sw = await callError(d, "runtime.switch", { id: "rt", sandbox: "none" });
    expect(sw.stableCode).toBe("RUNTIME_BUSY");
    // The first one goes on and takes over.
    await events.waitFor("runtime.state.changed", (p) =>
      String(p.reason ?? "").startsWith("reloaded to alpha"),
    );
    await events.close();
    const after = await view(d);
    expect(after).toMatchObject({ state: "ready", model: "alpha", restarts_total: 0 });
    expect(after.restart_budget.used).toBe(0);
  }, 60_000);

  it("switch is the same transaction: the new process takes over beside the old one, no budget", async () => {
    const before = await view(d);
    // The previous test's reload may still be stopping its old process (it takes over first): asked again
    // while it is, the answer is RUNTIME_BUSY.
    let r = await d.cli(["--json", "runtime", "switch", "--id", "rt", "--sandbox", "none", "--wait"], {
      timeoutMs: 60_000,
    });
    for (let i = 0; i < 200 && r.code !== 0 && r.stderr.includes("RUNTIME_BUSY"); i++) {
      r = await d.cli(["--json", "runtime", "switch", "--id", "rt", "--sandbox", "none", "--wait"], {
        timeoutMs: 60_000,
      });
    }
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as QuickActionResult;
    expect(result).toMatchObject({ action: "switch", outcome: "ready", takeover: { path: "beside" } });
    const after = await view(d);
    expect(after).toMatchObject({ state: "ready", restarts_total: 0, count: 1 });
    expect(after.pid).toBe(result.takeover?.new_pid);
    expect(after.pid).not.toBe(before.pid);
    expect(after.restart_budget.used).toBe(before.restart_budget.used);
  }, 60_000);

  it("(4) refuses a file llama.cpp would not load, naming the missing key; nothing is started", async () => {
    const before = await view(d);
    const r = await d.cli(["runtime", "reload", "--id", "rt", "--model", models.noeps as string]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("not loadable: missing llama.attention.layer_norm_rms_epsilon");
    expect(r.stderr).toContain("[MODEL_DOES_NOT_FIT]");
    const after = await view(d);
    expect(after).toMatchObject({ state: "ready", pid: before.pid, model: before.model });
  });
});

describe("transactional reload, not both fit (replace, rollback)", () => {
  let d: DaemonHandle;
  beforeAll(async () => {
    // 100 bytes free: the new model (~0.6 KB) fits only once the old one's (~17 KB) is freed.
    d = await startDaemon({
      config: config(await wrapper()),
      dir: await tempDir("rmx-reload-r-"),
      ready: ["rt"],
      env: { RMX_FREE_MEMORY_BYTES: "100" },
    });
  }, 60_000);

  it("(3) stops the old process, the new one fails, the old spec is back ready; budget unchanged", async () => {
    const before = await view(d);
    const events = await recordEvents(d, ["runtime.reload.failed", "runtime.restart"]);
    const err = await callError(d, "runtime.reload", { id: "rt", model: models.refused, wait: true });
    expect(err.stableCode).toBe("RELOAD_FAILED");
    expect(err.message).toContain(REFUSAL);
    expect(err.message).toContain("rolled back to the previous spec: rt keeps serving alpha on cpu");
    const failed = await events.waitFor("runtime.reload.failed");
    expect(failed.payload).toMatchObject({ path: "replace", rolled_back: true, state: "ready" });
    expect(events.seen("runtime.restart")).toHaveLength(0);
    await events.close();
    const after = await view(d);
    expect(after).toMatchObject({ state: "ready", model: "alpha", restarts_total: 0, count: 1 });
    expect(after.pid).not.toBe(before.pid); // the old spec, started again
    expect(after.restart_budget.used).toBe(before.restart_budget.used);
    report("reload refused replace", { budget_used: after.restart_budget.used, state: after.state });
  }, 90_000);

  it("a reload that succeeds this way stops first: the figure for requests failing meanwhile", async () => {
    const before = await view(d);
    const poll = poller(d);
    while (poll.stats.ok < 3) await call(d, "runtime.status");
    const result = await call<QuickActionResult>(
      d,
      "runtime.reload",
      { id: "rt", model: "beta", wait: true, timeout_ms: 60_000 },
      90_000,
    );
    const stats = await poll.stop();
    expect(result.takeover?.path).toBe("replace");
    expect(result.outcome).toBe("ready");
    const after = await view(d);
    expect(after).toMatchObject({ state: "ready", model: "beta", restarts_total: 0 });
    expect(after.restart_budget.used).toBe(before.restart_budget.used);
    report("reload replace (stop first, as every reload did before)", {
      requests: stats.ok + stats.failed,
      failed_requests: stats.failed,
      took_over_ms: result.takeover?.took_over_ms,
    });
  }, 90_000);
});
