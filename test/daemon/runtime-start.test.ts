/**
 * `runtime.start` as docs/protocol.md documents it: a launch that cannot happen answers with its error
 * (PORT_IN_USE, MODEL_MISSING, …) rather than a bare state, and starting a failed runtime says that it spends a
 * restart and how many are left.
 */
import fs from "node:fs/promises";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RpcCallError } from "../../ipc/client.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { configWith, runtimeView } from "./support.js";

let h: DaemonHandle;
let dir: string;
let held: net.Server | undefined;
let heldPort: number;

function listen(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve(server));
  });
}

beforeAll(async () => {
  dir = await tempDir("rmx-start-");
  held = await listen();
  heldPort = (held.address() as net.AddressInfo).port;
  h = await startDaemon({
    dir,
    config: configWith([
      { id: "gamma", auto_start: false, extra: `port: ${heldPort}` },
      { id: "nomodel", auto_start: false, extra: "model: /nope.gguf" },
    ]),
  });
});

afterAll(async () => {
  await stopAll();
  if (held) await new Promise((r) => held?.close(r));
  await fs.rm(dir, { recursive: true, force: true });
});

async function startError(id: string): Promise<RpcCallError> {
  const c = await h.client();
  const error = await c.call("runtime.start", { id }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof RpcCallError)) throw new Error(`runtime.start ${id} did not fail: ${String(error)}`);
  return error;
}

describe("runtime.start", () => {
  it("answers MODEL_MISSING for a model that is not there, and the runtime is failed with the same reason", async () => {
    const error = await startError("nomodel");
    expect(error.stableCode, error.message).toBe("MODEL_MISSING");
    expect(error.message).toBe("model file not found: /nope.gguf");
    const rt = await runtimeView(h, "nomodel");
    expect(rt.state).toBe("failed");
    expect(rt.reason).toBe(error.message);
  });

  it("answers PORT_IN_USE, exits 1 in the CLI, then a start once the port is free says it spends 1 of its 2 remaining restarts", async () => {
    const error = await startError("gamma");
    expect(error.stableCode, error.message).toBe("PORT_IN_USE");
    expect(error.message).toBe(`port ${heldPort} on 127.0.0.1 is already in use (by another process)`);
    const cli = await h.cli(["runtime", "start", "--id", "gamma"]);
    expect(cli.code, cli.stderr).toBe(1);
    expect(cli.stderr).toContain(`port ${heldPort} on 127.0.0.1 is already in use`);
    // The second refused start was a restart too (the runtime was failed): it spent one.
    expect((await runtimeView(h, "gamma")).restart_budget).toMatchObject({ used: 1, remaining: 2 });

    await new Promise((r) => held?.close(r));
    held = undefined;
    const started = await h.cli(["runtime", "start", "--id", "gamma", "--wait"]);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toContain("starting gamma spends 1 of its 2 remaining restarts");
    const json = JSON.parse((await h.cli(["runtime", "status", "--json"])).stdout) as {
      runtimes: { id: string; state: string; restart_budget: { used: number } }[];
    };
    const gamma = json.runtimes.find((r) => r.id === "gamma");
    expect(gamma).toMatchObject({ state: "ready", restart_budget: { used: 2 } });
  });

  it("a fresh start spends nothing and says nothing about restarts", async () => {
    const c = await h.client();
    await c.call("runtime.stop", { id: "gamma", wait: true });
    const result = await c.call("runtime.start", { id: "gamma" });
    expect(result).not.toHaveProperty("restart_spent");
    const rt = await h.waitForState("gamma", ["ready"]);
    expect(rt.restart_budget.used).toBe(2);
  });
});
