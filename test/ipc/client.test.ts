import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RmxError } from "../../base/errors.js";
import { RmxClient } from "../../ipc/client.js";
import { RpcCallError, toRpcError } from "../../ipc/rpc-error.js";
import { makeTempDir, startServer, type TestServer, waitFor } from "./helpers.js";

const servers: TestServer[] = [];
const clients: RmxClient[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.stop();
  for (const c of cleanups.splice(0)) await c();
});

async function server(overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const ts = await startServer(overrides);
  servers.push(ts);
  return ts;
}

async function client(socketPath: string): Promise<RmxClient> {
  const c = await RmxClient.connect({ socketPath });
  clients.push(c);
  return c;
}

describe("RmxClient.connect", () => {
  it("says the daemon is not running, and how to start it, when there is no socket", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const socketPath = path.join(dir, "rmxd.sock");
    const error = await RmxClient.connect({ socketPath }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcCallError);
    expect(error).toMatchObject({
      stableCode: "DAEMON_NOT_RUNNING",
      code: -32054,
      message: `rmxd is not running (no socket at ${socketPath}); start it with: rmxd`,
    });
  });

  it("says the daemon is not running when the socket is stale", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const socketPath = path.join(dir, "rmxd.sock");
    const child = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(socketPath)}, () => console.log("up"))`],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    cleanups.push(async () => {
      child.kill("SIGKILL");
    });
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    await expect(RmxClient.connect({ socketPath })).rejects.toMatchObject({
      stableCode: "DAEMON_NOT_RUNNING",
      message: expect.stringContaining("start it with: rmxd"),
    });
  });

  it("knows its socket path", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    expect(c.socketPath).toBe(ts.socketPath);
  });
});

describe("RmxClient.call", () => {
  it("resolves results and rejects daemon errors as RpcCallError with the stable code", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    expect(await c.call("daemon.hello")).toMatchObject({ pid: process.pid });
    expect(await c.call("test.echo", { id: "z" })).toEqual({ id: "z" });
    const error = await c.call("test.rmx").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcCallError);
    expect(error).toMatchObject({
      code: -32020,
      stableCode: "RUNTIME_NOT_FOUND",
      message: 'runtime "x" not found',
      data: { code: "RUNTIME_NOT_FOUND", id: "x" },
    });
    await expect(c.call("test.echo", { id: 5 })).rejects.toMatchObject({
      code: -32602,
      message: "params.id: expected string, received number",
    });
  });

  it("sends increasing ids and omits absent params", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const socketPath = path.join(dir, "echo.sock");
    const seen: Array<Record<string, unknown>> = [];
    const echo = net.createServer((s) => {
      let buf = "";
      s.on("data", (d) => {
        buf += d.toString();
        for (let i = buf.indexOf("\n"); i !== -1; i = buf.indexOf("\n")) {
          const msg = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
          buf = buf.slice(i + 1);
          seen.push(msg);
          s.write(`${JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: msg.id })}\n`);
        }
      });
    });
    await new Promise<void>((resolve) => echo.listen(socketPath, resolve));
    cleanups.push(() => new Promise<void>((resolve) => echo.close(() => resolve())));
    const c = await client(socketPath);
    expect(await Promise.all([c.call("a"), c.call("b", { x: 1 }), c.call("c")])).toEqual([1, 2, 3]);
    expect(seen).toEqual([
      { jsonrpc: "2.0", id: 1, method: "a" },
      { jsonrpc: "2.0", id: 2, method: "b", params: { x: 1 } },
      { jsonrpc: "2.0", id: 3, method: "c" },
    ]);
    await c.close();
  });

  it("times out a call with TIMEOUT and keeps the connection usable", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    await expect(c.call("test.hang", {}, { timeoutMs: 50 })).rejects.toMatchObject({
      stableCode: "TIMEOUT",
      code: -32032,
      message: "timed out after 50 ms waiting for test.hang",
    });
    expect(await c.call("test.echo", { id: "still here" })).toEqual({ id: "still here" });
  });

  it("rejects pending calls when the client closes", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    const pending = c.call("test.hang");
    pending.catch(() => {});
    await c.close();
    await expect(pending).rejects.toMatchObject({
      stableCode: "DAEMON_NOT_RUNNING",
      message: expect.stringContaining("closed before test.hang was answered"),
    });
    await expect(c.call("daemon.hello")).rejects.toBeInstanceOf(RpcCallError);
  });

  it("rejects pending calls and reports onClose with an error when the daemon goes away", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    const closes: Array<Error | undefined> = [];
    c.onClose((err) => closes.push(err));
    const pending = c.call("test.hang").catch((e: unknown) => e);
    await waitFor(() => ts.server.connections === 1, 5000, "the connection to be accepted");
    await ts.server.close();
    expect(await pending).toMatchObject({ stableCode: "DAEMON_NOT_RUNNING" });
    await waitFor(() => closes.length === 1, 5000, "onClose");
    expect(closes[0]).toBeInstanceOf(Error);
    // A clean end from the daemon, not a reset.
    expect(closes[0]?.message).toBe("connection closed by rmxd");
  });

  it("surfaces TOO_MANY_CONNECTIONS as the error of the refused connection's call", async () => {
    const ts = await server({ maxConnections: 1 });
    const first = await client(ts.socketPath);
    expect(await first.call("daemon.hello")).toMatchObject({ pid: process.pid });
    const second = await client(ts.socketPath);
    await expect(second.call("daemon.hello")).rejects.toMatchObject({
      stableCode: "TOO_MANY_CONNECTIONS",
      message: "too many connections (limit 1)",
    });
  });
});

describe("notifications", () => {
  it("routes notifications to onNotification handlers until they are removed", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    const blobs: number[] = [];
    const off = c.onNotification("test.blob", (p: { i: number }) => blobs.push(p.i));
    expect(await c.call("test.notify", { count: 3, size: 1 })).toEqual({ sent: 3 });
    expect(blobs).toEqual([0, 1, 2]);
    off();
    await c.call("test.notify", { count: 2, size: 1 });
    expect(blobs).toEqual([0, 1, 2]);
  });

  it("subscribes, sees events through both the subscription and onNotification, and unsubscribes", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    const viaSub: string[] = [];
    const viaRaw: string[] = [];
    c.onNotification("event", (p: { topic: string }) => viaRaw.push(p.topic));
    const sub = await c.subscribe(["lease.*"], (e) => viaSub.push(e.topic));
    ts.bus.publish("lease.acquired", {} as never);
    ts.bus.publish("lease.released", {} as never);
    await waitFor(() => viaSub.length === 2, 5000, "two lease events");
    expect(viaSub).toEqual(["lease.acquired", "lease.released"]);
    expect(viaRaw).toEqual(viaSub);
    await sub.unsubscribe();
    expect(ts.bus.subscriberCount).toBe(0);
  });
});

describe("rpc errors", () => {
  it("maps RmxError, RpcCallError and anything else to wire error objects", () => {
    expect(toRpcError(new RmxError("BUDGET_EXHAUSTED", "no restarts left", { id: "a" }))).toEqual({
      code: -32021,
      message: "no restarts left",
      data: { code: "BUDGET_EXHAUSTED", id: "a" },
    });
    expect(toRpcError(new RpcCallError(-32001, "custom", { code: "X" }))).toEqual({
      code: -32001,
      message: "custom",
      data: { code: "X" },
    });
    expect(toRpcError("a string")).toEqual({
      code: -32603,
      message: "internal error: a string",
      data: { code: "INTERNAL" },
    });
    expect(toRpcError(new RmxError("TIMEOUT", "t", { code: "stray" })).data?.code).toBe("TIMEOUT");
    expect(RpcCallError.fromObject({ code: -32601, message: "m" }).stableCode).toBeUndefined();
  });
});
