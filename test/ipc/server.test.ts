import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, readdir, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { isRmxError } from "../../base/errors.js";
import { EventBus } from "../../daemon/events.js";
import { RmxClient } from "../../ipc/client.js";
import type { EventNotificationParams, LaggedNotificationParams } from "../../ipc/protocol/jsonrpc.js";
import { RpcServer } from "../../ipc/server.js";
import { probeSocket } from "../../ipc/socket-path.js";
import {
  fakeMethods,
  makeTempDir,
  openFileLimit,
  RawConn,
  startServer,
  type TestServer,
  waitFor,
} from "./helpers.js";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

const servers: TestServer[] = [];
const raws: RawConn[] = [];
const clients: RmxClient[] = [];
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  for (const c of clients.splice(0)) await c.close();
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const s of servers.splice(0)) await s.stop();
  for (const c of cleanups.splice(0)) await c();
});

async function server(overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const ts = await startServer(overrides);
  servers.push(ts);
  return ts;
}

async function raw(socketPath: string): Promise<RawConn> {
  const r = await RawConn.open(socketPath);
  raws.push(r);
  return r;
}

async function client(socketPath: string): Promise<RmxClient> {
  const c = await RmxClient.connect({ socketPath });
  clients.push(c);
  return c;
}

const req = (id: unknown, method: string, params?: unknown): string =>
  JSON.stringify(
    params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params },
  );

describe("requests and errors", () => {
  it("answers a request with its id and result", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    expect(await r.request(req(1, "daemon.hello"))).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: { protocol: 1, product: "runtime-matrix", pid: process.pid },
    });
    expect(await r.request(req("abc", "test.echo", { id: "x", n: 2 }))).toMatchObject({
      id: "abc",
      result: { id: "x", n: 2 },
    });
  });

  it("answers malformed JSON with -32700 and id null, and the connection keeps working", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    const parseError = await r.request("{not json");
    expect(parseError).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    expect((parseError.error as { message: string }).message).toMatch(/^parse error: /);
    expect(await r.request(req(2, "daemon.hello"))).toMatchObject({ id: 2, result: { pid: process.pid } });
  });

  it("answers invalid requests with -32600", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    for (const text of ["42", "null", '"hello"', "true"]) {
      expect(await r.request(text)).toMatchObject({
        id: null,
        error: { code: -32600, message: "invalid request: expected a JSON-RPC request object" },
      });
    }
    expect(await r.request(JSON.stringify({ jsonrpc: "2.0", id: 5 }))).toMatchObject({
      id: 5,
      error: { code: -32600, message: 'invalid request: "method" must be a non-empty string' },
    });
    expect(await r.request(JSON.stringify({ jsonrpc: "1.0", id: 6, method: "daemon.hello" }))).toMatchObject({
      id: 6,
      error: { code: -32600, message: 'invalid request: "jsonrpc" must be "2.0"' },
    });
    expect(await r.request(JSON.stringify({ id: 7, method: "daemon.hello" }))).toMatchObject({
      id: 7,
      error: { code: -32600 },
    });
    expect(
      await r.request(JSON.stringify({ jsonrpc: "2.0", id: { a: 1 }, method: "daemon.hello" })),
    ).toMatchObject({
      id: null,
      error: { code: -32600, message: 'invalid request: "id" must be a string, a number or null' },
    });
  });

  it("answers an unknown method with -32601 naming it, including Object.prototype names", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    for (const method of ["runtime.frobnicate", "toString", "__proto__", "constructor"]) {
      expect(await r.request(req(1, method))).toEqual({
        jsonrpc: "2.0",
        id: 1,
        error: { code: -32601, message: `method not found: "${method}"`, data: { method } },
      });
    }
  });

  it("answers params failing the schema with -32602, a message naming the field and data.issues", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    const wrongType = await r.request(req(1, "test.echo", { id: 7 }));
    expect(wrongType).toMatchObject({
      id: 1,
      error: {
        code: -32602,
        message: "params.id: expected string, received number",
        data: { method: "test.echo", issues: [{ path: "params.id", code: "invalid_type" }] },
      },
    });
    expect(await r.request(req(2, "test.echo"))).toMatchObject({
      error: { code: -32602, message: "params.id: expected string, but it is missing" },
    });
    expect(await r.request(req(3, "test.echo", { id: "a", colour: "red" }))).toMatchObject({
      error: { code: -32602, message: 'params: unknown key "colour"' },
    });
    expect(await r.request(req(4, "events.subscribe", { topics: [] }))).toMatchObject({
      error: { code: -32602, message: "params.topics: must have at least 1 item(s)" },
    });
  });

  it("answers an RmxError with its rpc code, message and stable code", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    expect(await r.request(req(1, "test.rmx"))).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32020, message: 'runtime "x" not found', data: { code: "RUNTIME_NOT_FOUND", id: "x" } },
    });
  });

  it("answers any other throw with -32603, logs it, and stays up", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    expect(await r.request(req(1, "test.boom"))).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32603, message: "internal error: kaboom", data: { code: "INTERNAL" } },
    });
    expect(ts.warnings.some((w) => w.msg === "method handler threw")).toBe(true);
    expect(await r.request(req(2, "test.bigint"))).toMatchObject({
      id: 2,
      error: { code: -32603, data: { code: "INTERNAL" } },
    });
    expect(await r.request(req(3, "daemon.hello"))).toMatchObject({ id: 3, result: { pid: process.pid } });
  });

  it("never answers notifications, not even failing ones", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    r.send(`${JSON.stringify({ jsonrpc: "2.0", method: "test.echo", params: { id: "n" } })}\n`);
    r.send(`${JSON.stringify({ jsonrpc: "2.0", method: "no.such.method" })}\n`);
    r.send(`${JSON.stringify({ jsonrpc: "2.0", method: "test.echo", params: { id: 1 } })}\n`);
    r.send(`${JSON.stringify({ jsonrpc: "2.0", method: "test.boom" })}\n`);
    expect(await r.request(req(9, "daemon.hello"))).toMatchObject({ id: 9 });
    expect(r.lines).toHaveLength(1);
  });

  it("answers a batch with an array of the non-notification answers, and an empty batch with -32600", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    const batch = [
      { jsonrpc: "2.0", id: 1, method: "test.echo", params: { id: "a" } },
      { jsonrpc: "2.0", method: "test.echo", params: { id: "b" } },
      { jsonrpc: "2.0", id: 2, method: "nope" },
    ];
    const answer = (await r.request(JSON.stringify(batch))) as unknown;
    expect(answer).toEqual([
      { jsonrpc: "2.0", id: 1, result: { id: "a" } },
      {
        jsonrpc: "2.0",
        id: 2,
        error: { code: -32601, message: 'method not found: "nope"', data: { method: "nope" } },
      },
    ]);
    expect(await r.request("[]")).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it("ignores blank lines and accepts CRLF", async () => {
    const ts = await server();
    const r = await raw(ts.socketPath);
    r.send("\n  \r\n");
    expect(await r.request(`${req(1, "daemon.hello")}\r\n`)).toMatchObject({ id: 1 });
    expect(r.lines).toHaveLength(1);
  });
});

describe("limits", () => {
  it("closes a connection whose line is 1 MiB + 1 byte after answering LINE_TOO_LONG; the server is fine", async () => {
    const ts = await server({ maxLineBytes: 1024 * 1024 });
    const envelope = req(1, "test.echo", { id: "" });
    const padTo = (bytes: number): string => req(1, "test.echo", { id: "x".repeat(bytes - envelope.length) });

    const exact = await raw(ts.socketPath);
    const atLimit = padTo(1024 * 1024);
    expect(Buffer.byteLength(atLimit)).toBe(1024 * 1024);
    expect(await exact.request(atLimit)).toMatchObject({ id: 1, result: { id: expect.any(String) } });

    const r = await raw(ts.socketPath);
    const over = padTo(1024 * 1024 + 1);
    expect(Buffer.byteLength(over)).toBe(1024 * 1024 + 1);
    r.send(`${over}\n${req(2, "daemon.hello")}\n`);
    await waitFor(() => r.closed, 5000, "the over-long connection to close");
    expect(r.messages()).toEqual([
      {
        jsonrpc: "2.0",
        id: null,
        error: {
          code: -32600,
          message: "line too long: a message may be at most 1048576 bytes",
          data: { code: "LINE_TOO_LONG", limit: 1048576 },
        },
      },
    ]);
    const again = await raw(ts.socketPath);
    expect(await again.request(req(3, "daemon.hello"))).toMatchObject({ id: 3 });
    expect(await exact.request(req(4, "daemon.hello"))).toMatchObject({ id: 4 });
  });

  it("never crashes on random bytes, and every answer is a well-formed JSON-RPC message", async () => {
    const ts = await server({ maxLineBytes: 4096 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            fc.jsonValue().map((v) => new TextEncoder().encode(`${JSON.stringify(v)}\n`)),
            fc
              .record({
                jsonrpc: fc.constant("2.0"),
                id: fc.jsonValue(),
                method: fc.string(),
                params: fc.jsonValue(),
              })
              .map((v) => new TextEncoder().encode(`${JSON.stringify(v)}\n`)),
          ),
          { maxLength: 6 },
        ),
        async (chunks) => {
          const r = await RawConn.open(ts.socketPath);
          try {
            for (const chunk of chunks) r.send(chunk);
            r.socket.end();
            await waitFor(() => r.closed, 5000, "the fuzz connection to close");
            for (const line of r.lines) {
              const parsed = JSON.parse(line) as unknown;
              for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
                expect(m.jsonrpc).toBe("2.0");
                expect("result" in m || "error" in m).toBe(true);
                if ("error" in m) expect(typeof m.error.code).toBe("number");
              }
            }
          } finally {
            r.close();
          }
        },
      ),
      { numRuns: 60 },
    );
    const after = await raw(ts.socketPath);
    expect(await after.request(req(1, "daemon.hello"))).toMatchObject({
      id: 1,
      result: { pid: process.pid },
    });
    await waitFor(() => ts.server.connections === 1, 5000, "fuzz connections to be released");
  });

  // Both ends of every connection live in this process: 2,000 descriptors and some headroom.
  const fdLimit = openFileLimit();
  it.skipIf(fdLimit !== undefined && fdLimit < 2200)(
    `serves 1,000 concurrent clients, each with its own answer (needs ulimit -n >= 2200; have ${fdLimit ?? "?"})`,
    async () => {
      const ts = await server({ maxConnections: 1100 });
      const results = await Promise.all(
        Array.from({ length: 1000 }, async (_, i) => {
          const c = await client(ts.socketPath);
          return c.call("test.echo", { id: `client-${i}`, n: i });
        }),
      );
      results.forEach((result, i) => {
        expect(result).toEqual({ id: `client-${i}`, n: i });
      });
      expect(ts.server.connections).toBe(1000);
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await waitFor(() => ts.server.connections === 0, 10_000, "all connections to be released");
    },
  );

  it("refuses connections over maxConnections with one TOO_MANY_CONNECTIONS line, then accepts again", async () => {
    const ts = await server({ maxConnections: 3 });
    const held = await Promise.all([1, 2, 3].map(() => raw(ts.socketPath)));
    for (const h of held) expect(await h.request(req(1, "daemon.hello"))).toMatchObject({ id: 1 });
    expect(ts.server.connections).toBe(3);

    const refused = await raw(ts.socketPath);
    await waitFor(() => refused.closed, 5000, "the refused connection to close");
    expect(refused.messages()).toEqual([
      {
        jsonrpc: "2.0",
        id: null,
        error: {
          code: -32051,
          message: "too many connections (limit 3)",
          data: { code: "TOO_MANY_CONNECTIONS", limit: 3 },
        },
      },
    ]);

    held[0]!.close();
    await waitFor(() => ts.server.connections === 2, 5000, "a slot to free");
    const next = await raw(ts.socketPath);
    expect(await next.request(req(2, "daemon.hello"))).toMatchObject({ id: 2 });
  });

  it("destroys a connection whose unread output passes the hard cap", async () => {
    const ts = await server({ maxOutboundBytes: 512 * 1024 });
    const greedy = await raw(ts.socketPath);
    greedy.socket.pause();
    greedy.send(`${req(1, "test.notify", { count: 200, size: 64 * 1024 })}\n`);
    await waitFor(() => ts.server.connections === 0, 5000, "the greedy connection to be destroyed");
    expect(ts.warnings.some((w) => w.msg.includes("not reading"))).toBe(true);
    const other = await raw(ts.socketPath);
    expect(await other.request(req(2, "daemon.hello"))).toMatchObject({ id: 2 });
  });
});

describe("events", () => {
  it("delivers events to subscribers as `event` notifications and honours unsubscribe", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    const got: EventNotificationParams[] = [];
    const sub = await c.subscribe(["runtime.*"], (e) => got.push(e));
    expect(sub.subscription).toMatch(/^sub-\d+$/);
    ts.bus.publish("runtime.exited", { id: "a" } as never);
    ts.bus.publish("hardware.sample", { cpu: 1 } as never);
    ts.bus.publish("runtime.restart", { id: "b" } as never);
    await waitFor(() => got.length === 2, 5000, "two events");
    expect(got).toEqual([
      {
        subscription: sub.subscription,
        topic: "runtime.exited",
        seq: 1,
        time: expect.any(String),
        payload: { id: "a" },
      },
      {
        subscription: sub.subscription,
        topic: "runtime.restart",
        seq: 3,
        time: expect.any(String),
        payload: { id: "b" },
      },
    ]);

    await sub.unsubscribe();
    const marker: EventNotificationParams[] = [];
    await c.subscribe(["daemon.stopping"], (e) => marker.push(e));
    ts.bus.publish("runtime.exited", { id: "late" } as never);
    ts.bus.publish("daemon.stopping", {} as never);
    await waitFor(() => marker.length === 1, 5000, "the marker event");
    expect(got).toHaveLength(2);
    expect(await c.call("events.unsubscribe", { subscription: sub.subscription })).toEqual({
      subscription: sub.subscription,
      removed: false,
    });
  });

  it("removes a connection's subscriptions when it closes", async () => {
    const ts = await server();
    const c = await client(ts.socketPath);
    await c.subscribe(["*"], () => {});
    await c.subscribe(["runtime.*", "lease.*"], () => {});
    expect(ts.bus.subscriberCount).toBe(2);
    await c.close();
    await waitFor(() => ts.bus.subscriberCount === 0, 5000, "subscriptions to be removed");
    expect(ts.server.connections).toBe(0);
  });

  it("drops the oldest events for a subscriber that does not read, reports lagged, and never slows others", async () => {
    const ts = await server({ subscriberQueue: 32 });
    const slow = await raw(ts.socketPath);
    const subscribed = await slow.request(req(1, "events.subscribe", { topics: ["*"] }));
    const slowSub = (subscribed.result as { subscription: string }).subscription;
    slow.socket.pause();

    const fast = await client(ts.socketPath);
    const fastSeqs: number[] = [];
    const fastLagged: LaggedNotificationParams[] = [];
    await fast.subscribe(
      ["*"],
      (e) => fastSeqs.push(e.seq),
      (l) => fastLagged.push(l),
    );

    const blob = "y".repeat(8 * 1024);
    const batches = 50;
    const perBatch = 20;
    let published = 0;
    for (let b = 0; b < batches; b += 1) {
      let last = 0;
      for (let i = 0; i < perBatch; i += 1) last = ts.bus.publish("hardware.sample", { blob } as never).seq;
      published += perBatch;
      // The fast client gets every batch while the slow one is stuck.
      await waitFor(() => fastSeqs.at(-1) === last, 5000, `batch ${b} at the fast client`);
    }
    expect(fastSeqs).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(fastLagged).toEqual([]);

    slow.socket.resume();
    const marker = ts.bus.publish("daemon.stopping", { marker: true } as never).seq;
    const isMarker = (line: string): boolean => line.includes(`"seq":${marker},`);
    await waitFor(() => slow.lines.some(isMarker), 10_000, "the marker at the slow client");

    const messages = slow.messages().slice(1);
    const lagged = messages.filter((m) => m.method === "events.lagged");
    const events = messages
      .filter((m) => m.method === "event")
      .map((m) => m.params as EventNotificationParams);
    expect(lagged.length).toBeGreaterThan(0);
    const dropped = lagged.reduce((n, m) => n + (m.params as LaggedNotificationParams).dropped, 0);
    expect(dropped).toBeGreaterThan(0);
    for (const m of lagged) expect((m.params as LaggedNotificationParams).subscription).toBe(slowSub);
    // Exact accounting: every event was either delivered in order or counted as dropped.
    expect(events.length + dropped).toBe(published + 1);
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)).toBe(marker);
  });
});

describe("the socket file", () => {
  it("is a 0600 socket in a 0700 directory, unlinked on close", async () => {
    const ts = await startServer();
    cleanups.push(() => ts.stop());
    const st = await stat(ts.socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(ts.socketPath))).mode & 0o777).toBe(0o700);
    await ts.server.close();
    await expect(stat(ts.socketPath)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it.skipIf(!isRoot)(
    "in system mode is 0660 with the socket group, in a 0750 directory of that group (root)",
    async () => {
      const ts = await server({ system: true, socketGroup: "65534" });
      const st = await stat(ts.socketPath);
      expect(st.mode & 0o777).toBe(0o660);
      expect(st.gid).toBe(65534);
      const dirStat = await stat(path.dirname(ts.socketPath));
      expect(dirStat.mode & 0o777).toBe(0o750);
      expect(dirStat.gid).toBe(65534);
    },
  );

  it("refuses an unknown socket group by name", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const s = new RpcServer({
      socketPath: path.join(dir, "run", "rmxd.sock"),
      system: true,
      socketGroup: "no-such-group-rmx",
      maxConnections: 4,
      maxLineBytes: 1024,
      subscriberQueue: 4,
      methods: {},
      bus: new EventBus(new ManualClock()),
    });
    await expect(s.listen()).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: 'socket group "no-such-group-rmx" does not exist (not in /etc/group)',
    });
    // Neither the socket nor the private name it was bound under is left behind.
    expect(await readdir(path.join(dir, "run"))).toEqual([]);
  });

  it("replaces the stale socket of a killed daemon", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const socketPath = path.join(dir, "run", "rmxd.sock");
    await mkdir(path.dirname(socketPath), { mode: 0o700 });
    const child = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(socketPath)}, () => console.log("up"))`],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(child);
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    expect(await probeSocket(socketPath)).toEqual({ state: "stale" });

    await server({ socketPath });
    expect(await probeSocket(socketPath)).toEqual({ state: "live", pid: process.pid });
    const r = await raw(socketPath);
    expect(await r.request(req(1, "daemon.hello"))).toMatchObject({ id: 1 });
  });

  it("refuses to start over a live daemon (ALREADY_RUNNING with its pid) and leaves its socket alone", async () => {
    const first = await server();
    const second = new RpcServer({
      socketPath: first.socketPath,
      maxConnections: 4,
      maxLineBytes: 1024,
      subscriberQueue: 4,
      methods: fakeMethods(),
      bus: first.bus,
    });
    const error = await second.listen().catch((e: unknown) => e);
    expect(isRmxError(error, "ALREADY_RUNNING")).toBe(true);
    expect((error as Error).message).toContain(`already running (pid ${process.pid})`);
    expect((error as { data: unknown }).data).toMatchObject({ pid: process.pid });
    await second.close();
    expect((await stat(first.socketPath)).isSocket()).toBe(true);
    const r = await raw(first.socketPath);
    expect(await r.request(req(1, "daemon.hello"))).toMatchObject({ id: 1 });
  });

  it("does not unlink on close a socket that another daemon has put in its place", async () => {
    const a = await startServer();
    cleanups.push(() => a.stop());
    await unlink(a.socketPath);
    const b = await server({ socketPath: a.socketPath });
    await a.server.close();
    expect((await stat(b.socketPath)).isSocket()).toBe(true);
    const r = await raw(b.socketPath);
    expect(await r.request(req(1, "daemon.hello"))).toMatchObject({ id: 1 });
  });

  it("refuses a socket directory writable by others", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const runDir = path.join(dir, "run");
    await mkdir(runDir);
    await chmod(runDir, 0o777);
    const s = new RpcServer({
      socketPath: path.join(runDir, "rmxd.sock"),
      maxConnections: 4,
      maxLineBytes: 1024,
      subscriberQueue: 4,
      methods: {},
      bus: new EventBus(new ManualClock()),
    });
    await expect(s.listen()).rejects.toMatchObject({
      code: "SOCKET_UNSAFE",
      message: expect.stringContaining("has mode 0777 (writable by group or others)"),
    });
  });

  it("refuses to replace a file that is not a socket", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const socketPath = path.join(dir, "rmxd.sock");
    await writeFile(socketPath, "precious");
    const s = new RpcServer({
      socketPath,
      maxConnections: 4,
      maxLineBytes: 1024,
      subscriberQueue: 4,
      methods: {},
      bus: new EventBus(new ManualClock()),
    });
    await expect(s.listen()).rejects.toMatchObject({ code: "SOCKET_UNSAFE" });
    expect((await stat(socketPath)).isFile()).toBe(true);
  });

  it.skipIf(!isRoot)(
    "refuses a client running as another uid by the socket's mode (EACCES); needs root to switch uid",
    async () => {
      const { dir, cleanup } = await makeTempDir();
      cleanups.push(cleanup);
      // Let others traverse down to the socket, so the socket's own mode is what refuses them.
      await chmod(dir, 0o755);
      const runDir = path.join(dir, "run");
      await mkdir(runDir, { mode: 0o755 });
      await chmod(runDir, 0o755);
      const ts = await server({ socketPath: path.join(runDir, "rmxd.sock") });
      const script = `
        const fs = require("fs"), net = require("net");
        const p = ${JSON.stringify(ts.socketPath)};
        const mode = (fs.statSync(p).mode & 0o777).toString(8);
        net.connect(p).on("connect", () => { console.log("CONNECTED " + mode); process.exit(0); })
          .on("error", (e) => { console.log(e.code + " " + mode); process.exit(0); });`;
      const child = spawn(process.execPath, ["-e", script], {
        uid: 65534,
        gid: 65534,
        cwd: "/",
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
      });
      await new Promise((resolve) => child.once("exit", resolve));
      expect(out.trim()).toBe("EACCES 600");
    },
  );
});
