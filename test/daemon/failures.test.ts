/**
 * Failure states a user must be able to read: each runtime below fails in one way, and its state,
 * `reason`, `status.detail` and last log lines say exactly what and where.
 */
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RuntimeView } from "../../ipc/protocol/runtime.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { configWith } from "./support.js";

let h: DaemonHandle;
let dir: string;
let held: net.Server;
let heldPort: number;
let model: string;
let notExecutable: string;

function listen(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve(server));
  });
}

beforeAll(async () => {
  dir = await tempDir("rmx-fail-");
  model = path.join(dir, "tiny.gguf");
  await fs.writeFile(model, "GGUF");
  notExecutable = path.join(dir, "llama-server");
  await fs.writeFile(notExecutable, "#!/bin/sh\nexit 0\n", { mode: 0o644 });
  await fs.chmod(notExecutable, 0o644);
  held = await listen();
  heldPort = (held.address() as net.AddressInfo).port;
  const config = configWith([
    { id: "nobin", adapter: "llama.cpp", extra: `binary: /nonexistent/llama-server\nmodel: ${model}` },
    { id: "noexec", adapter: "llama.cpp", extra: `binary: ${notExecutable}\nmodel: ${model}` },
    { id: "nomodel", extra: "model: /nope.gguf" },
    { id: "porttaken", extra: `port: ${heldPort}` },
    {
      id: "crashcode",
      // Bound only after a load it never finishes: the exit is always during start-up.
      args: [
        "--stub-bind-after-load",
        "--stub-load-ms",
        "5000",
        "--stub-crash-after-ms",
        "0",
        "--stub-exit-code",
        "7",
      ],
      extra: "restart_budget: { max_restarts: 1 }",
    },
    {
      id: "crashsig",
      args: [
        "--stub-bind-after-load",
        "--stub-load-ms",
        "5000",
        "--stub-crash-after-ms",
        "0",
        "--stub-exit-signal",
        "SIGABRT",
      ],
      extra: "restart_budget: { max_restarts: 0 }",
    },
  ]);
  h = await startDaemon({ config, dir });
});

afterAll(async () => {
  await stopAll();
  await new Promise((r) => held.close(r));
  await fs.rm(dir, { recursive: true, force: true });
});

async function settled(id: string, states: RuntimeView["state"][]): Promise<RuntimeView> {
  return h.waitForState(id, states);
}

function detailOf(rt: RuntimeView): string {
  return (rt.status.detail ?? []).join("\n");
}

describe("failure states name the cause", () => {
  it("binary not found: failed, with the path and what to set", async () => {
    const rt = await settled("nobin", ["failed"]);
    expect(rt.reason, `reason: ${rt.reason}`).toBe(
      "binary not found: /nonexistent/llama-server; set LLAMA_SERVER_BIN or runtimes[0].binary",
    );
    expect(rt.status, JSON.stringify(rt.status)).toMatchObject({ code: "error", severity: "error" });
    expect(detailOf(rt), `detail: ${detailOf(rt)}`).toContain("binary not found: /nonexistent/llama-server");
    expect(rt.pid, "no process").toBeUndefined();
    expect(rt.restart_budget.used, "no restart used for a configuration error").toBe(0);
  });

  it("binary not executable (mode 0644): failed, with the mode", async () => {
    const rt = await settled("noexec", ["failed"]);
    expect(rt.reason, `reason: ${rt.reason}`).toBe(`not executable: ${notExecutable} (mode 0644)`);
    expect(rt.status.aria_hint, `aria: ${rt.status.aria_hint}`).toContain("not executable");
  });

  it("model missing: failed, naming the file", async () => {
    const rt = await settled("nomodel", ["failed"]);
    expect(rt.reason, `reason: ${rt.reason}`).toBe("model file not found: /nope.gguf");
    expect(rt.status.detail, "the detail does not repeat the reason as a log line").toEqual([
      "model file not found: /nope.gguf",
    ]);
    expect(rt.last_log_lines, "the log keeps it").toContain("--- rmxd: model file not found: /nope.gguf");
    expect(rt.status.label, `label: ${rt.status.label}`).toMatch(/model file not found: \/nope\.gguf/);
  });

  it("port in use: failed, naming host and port", async () => {
    const rt = await settled("porttaken", ["failed"]);
    expect(rt.reason, `reason: ${rt.reason}`).toBe(
      `port ${heldPort} on 127.0.0.1 is already in use (by another process)`,
    );
    expect(rt.last_log_lines?.join("\n") ?? "", `log lines: ${rt.last_log_lines}`).toContain(
      `port ${heldPort} on 127.0.0.1 is already in use`,
    );
  });

  it("exit during start-up with its code: restarted within the budget, then exhausted with the code", async () => {
    const rt = await settled("crashcode", ["exhausted"]);
    expect(rt.reason, `reason: ${rt.reason}`).toBe(
      "exited during start-up (exit code 7); restart budget exhausted",
    );
    expect(rt.restart_budget, JSON.stringify(rt.restart_budget)).toMatchObject({ used: 1, remaining: 0 });
    expect(rt.last_exit, JSON.stringify(rt.last_exit)).toMatchObject({ code: 7, signal: null });
    expect(rt.status.label, `label: ${rt.status.label}`).toBe("Restart budget exhausted");
    expect(detailOf(rt), `detail: ${detailOf(rt)}`).toContain(
      "Last failure: exited during start-up (exit code 7)",
    );
    const logs = rt.last_log_lines?.join("\n") ?? "";
    expect(logs, `last log lines:\n${logs}`).toContain("llama-stub: crashing with exit code 7");
    expect(logs, `last log lines:\n${logs}`).toContain("ended (exit code 7)");
  });

  it("exit during start-up by a signal: the signal is named", async () => {
    const rt = await settled("crashsig", ["exhausted"]);
    expect(rt.reason, `reason: ${rt.reason}`).toBe(
      "exited during start-up (signal SIGABRT); restart budget exhausted",
    );
    expect(rt.last_exit, JSON.stringify(rt.last_exit)).toMatchObject({ code: null, signal: "SIGABRT" });
  });

  it("the node entry reports every failure with error severity", async () => {
    const s = await h.status();
    expect(s.node.status.code, JSON.stringify(s.node.status)).toBe("error");
    expect(s.summary.attention_required, JSON.stringify(s.summary)).toBe(true);
    const detail = (s.node.status.detail ?? []).join("\n");
    for (const id of ["nobin", "noexec", "nomodel", "porttaken"]) {
      expect(detail, `node detail:\n${detail}`).toContain(`${id} failed`);
    }
  });
});
