/**
 * The lean upstream client against real backends: one kept connection carries sequential requests; a
 * socket the server closed while idle is resent once on a fresh one, never after a byte of the answer
 * and never from a fresh socket; `Connection: close` is honoured; a client that does not read holds the
 * backend back; a client that goes away closes the backend's socket; and failures (5xx, 4xx, a reset
 * mid-body, silence, a refused port) come out as node:http's client (today's forward) gives them.
 */
import net from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ForwardOutcome } from "../../daemon/http/forward.js";
import { closeUpstreamPools } from "../../daemon/http/upstream-pool.js";
import { wireOf } from "../../daemon/http/upstream-wire.js";
import {
  type Impl,
  type MiniGateway,
  miniGateway,
  okAnswer,
  post,
  type RawBackend,
  rawBackend,
  type Script,
  shape,
  targetOf,
} from "./upstream-support.js";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  closeUpstreamPools();
});
afterAll(() => closeUpstreamPools());

async function setup(
  script: Script,
  impl: Impl = "lean",
  opts: Parameters<typeof miniGateway>[2] = {},
): Promise<{ backend: RawBackend; gateway: MiniGateway }> {
  const backend = await rawBackend(script);
  open.push(backend);
  const gateway = await miniGateway(targetOf(backend.port, { authorization: "Bearer k" }), impl, opts);
  open.push(gateway);
  return { backend, gateway };
}

describe("keep-alive", () => {
  it("one connection carries 20 sequential requests", async () => {
    const { backend, gateway } = await setup((socket) => socket.write(okAnswer()));
    for (let i = 0; i < 20; i++) expect((await post(gateway.port)).status).toBe(200);
    expect(backend.requests).toHaveLength(20);
    expect(backend.connections).toBe(1);
  });

  it("sends the request head node:http sends: the same headers and body", async () => {
    const heads: Record<Impl, Record<string, string>> = { lean: {}, node: {} };
    for (const impl of ["lean", "node"] as const) {
      const { backend, gateway } = await setup((socket) => socket.write(okAnswer()), impl);
      await post(gateway.port, '{"model":"ü"}');
      const seen = backend.requests[0];
      const [line, ...rest] = (seen?.head ?? "").split("\r\n");
      expect(line).toBe("POST /v1/chat/completions HTTP/1.1");
      expect(seen?.body.toString()).toBe('{"model":"ü"}');
      heads[impl] = Object.fromEntries(
        rest.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
      );
      expect(heads[impl].host).toBe(`127.0.0.1:${backend.port}`);
      heads[impl].host = "127.0.0.1:PORT";
    }
    expect(heads.lean).toEqual(heads.node);
    expect(heads.lean).toMatchObject({
      authorization: "Bearer k",
      "content-length": "14",
      connection: "keep-alive",
    });
  });

  it("honours Connection: close: a new connection per request", async () => {
    // The server says close but leaves its end open: only the header tells.
    const { backend, gateway } = await setup((socket) =>
      socket.write(okAnswer("{}", "Connection: close\r\n")),
    );
    for (let i = 0; i < 5; i++) expect((await post(gateway.port)).status).toBe(200);
    expect(backend.connections).toBe(5);
  });

  it("reuses a socket no longer than the server's Keep-Alive timeout, less a second", async () => {
    const short = await setup((socket) => socket.write(okAnswer("{}", "Keep-Alive: timeout=1\r\n")));
    for (let i = 0; i < 3; i++) expect((await post(short.gateway.port)).status).toBe(200);
    expect(short.backend.connections).toBe(3);
    const long = await setup((socket) => socket.write(okAnswer("{}", "Keep-Alive: timeout=30\r\n")));
    for (let i = 0; i < 3; i++) expect((await post(long.gateway.port)).status).toBe(200);
    expect(long.backend.connections).toBe(1);
  });

  it("a body larger than one packet leaves whole", async () => {
    const { backend, gateway } = await setup((socket) => socket.write(okAnswer()));
    const big = JSON.stringify({ model: "m", pad: "x".repeat(300_000) });
    expect((await post(gateway.port, big)).status).toBe(200);
    expect(backend.requests[0]?.body.toString()).toBe(big);
  });

  it("leaves https targets to node:https", () => {
    expect(wireOf({ ...targetOf(443), https: true })).toBeUndefined();
    expect(wireOf(targetOf(8080))).toBeDefined();
  });
});

describe("a socket the server closed while idle", () => {
  it("is resent once on a fresh connection when the server resets it on the next request", async () => {
    // Each connection serves one request; a second one on it is dropped unanswered.
    const { backend, gateway } = await setup((socket, seen) => {
      if (seen.onConn === 0) socket.write(okAnswer());
      else socket.destroy();
    });
    for (let i = 0; i < 5; i++) {
      expect((await post(gateway.port)).status).toBe(200);
      expect((await gateway.next()).kind).toBe("done");
    }
    expect(backend.connections).toBe(5);
    // Requests 2..5 went out twice: once on the dead socket, once on a fresh one.
    expect(backend.requests).toHaveLength(9);
  });

  it("is not reused when the server ends it right after the answer", async () => {
    const { gateway } = await setup((socket) => socket.end(okAnswer()));
    for (let i = 0; i < 5; i++) expect((await post(gateway.port)).status).toBe(200);
  });

  it("is not resent after a byte of the answer", async () => {
    const { backend, gateway } = await setup((socket, seen) => {
      if (seen.onConn === 0) socket.write(okAnswer());
      else socket.end("HTTP/1.1 200 O");
    });
    expect((await post(gateway.port)).status).toBe(200);
    await gateway.next();
    const second = await post(gateway.port);
    expect(second.status).toBe(599);
    expect(await gateway.next()).toMatchObject({ kind: "retry", timedOut: false });
    expect(gateway.outcomes[1]).toMatchObject({ message: expect.stringContaining("socket hang up") });
    expect(backend.requests).toHaveLength(2);
  });

  it("is not resent after the answer's head reached the client: the answer is cut", async () => {
    const { backend, gateway } = await setup((socket, seen) => {
      if (seen.onConn === 0) socket.write(okAnswer());
      else socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    });
    await post(gateway.port);
    await gateway.next();
    const cut = await post(gateway.port);
    expect(cut.cut || cut.body.length < 100).toBe(true);
    expect(await gateway.next()).toMatchObject({
      kind: "broken",
      message: "the backend closed the answer mid-stream",
    });
    expect(backend.requests).toHaveLength(2);
  });

  it("a fresh socket's failure is not resent", async () => {
    const { backend, gateway } = await setup((socket) => socket.destroy());
    expect((await post(gateway.port)).status).toBe(599);
    expect(await gateway.next()).toMatchObject({
      kind: "retry",
      message: expect.stringContaining("socket hang up"),
    });
    expect(backend.requests).toHaveLength(1);
  });
});

describe("flow", () => {
  it("a client that does not read holds the backend back", async () => {
    let pushed = 0;
    let blocked!: () => void;
    const backendBlocked = new Promise<void>((resolve) => {
      blocked = resolve;
    });
    const { gateway } = await setup((socket) => {
      socket.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1073741824\r\n\r\n",
      );
      const piece = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (pushed < 2 ** 30 && !socket.destroyed) {
          pushed += piece.length;
          if (!socket.write(piece)) {
            blocked();
            socket.once("drain", pump);
            return;
          }
        }
      };
      pump();
    });
    const client = net.connect({ host: "127.0.0.1", port: gateway.port });
    client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
    await new Promise<void>((resolve) => client.once("data", () => resolve()));
    client.pause();
    await backendBlocked;
    // Unthrottled, loopback moves the whole GiB in about a second; held back, the kernel's and the two
    // processes' buffers fill and stop it.
    const deadline = Date.now() + 1500;
    let peak = 0;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, pushed);
    }
    expect(peak).toBeLessThan(64 * 2 ** 20);
    client.destroy();
    expect(await gateway.next()).toMatchObject({ kind: "aborted" });
  });

  it("a client that goes away mid-answer closes the backend's socket", async () => {
    let closed!: () => void;
    const backendClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const { gateway } = await setup((socket) => {
      socket.once("close", () => closed());
      socket.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
      );
      socket.write("6\r\ndata:1\r\n");
    });
    const client = net.connect({ host: "127.0.0.1", port: gateway.port });
    client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
    await new Promise<void>((resolve) => client.once("data", () => resolve()));
    client.destroy();
    await backendClosed;
    expect(await gateway.next()).toMatchObject({ kind: "aborted" });
  });
});

/** What each client gives for a backend behaving so. */
async function bothOutcomes(
  script: Script,
  opts: Parameters<typeof miniGateway>[2] = {},
): Promise<Record<Impl, ForwardOutcome>> {
  const out = {} as Record<Impl, ForwardOutcome>;
  for (const impl of ["lean", "node"] as const) {
    const { backend, gateway } = await setup(script, impl, opts);
    await post(gateway.port);
    const outcome = await gateway.next();
    // The two backends' ports differ; the rest of a message must not.
    out[impl] =
      "message" in outcome
        ? { ...outcome, message: outcome.message.replaceAll(`:${backend.port}`, ":PORT") }
        : outcome;
  }
  return out;
}

describe("failures, as node:http's client gives them", () => {
  it("a 5xx before any byte: retry with the status and body", async () => {
    const o = await bothOutcomes((s) =>
      s.write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 13\r\n\r\nLoading model"),
    );
    expect(shape(o.lean)).toEqual(shape(o.node));
    expect(o.lean).toEqual({
      kind: "retry",
      status: 503,
      message: "HTTP 503: Loading model",
      timedOut: false,
    });
  });

  it("a 4xx the caller holds back: refused with its body", async () => {
    const o = await bothOutcomes(
      (s) =>
        s.write(
          'HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"e"\r\n3\r\n:1}\r\n0\r\n\r\n',
        ),
      { passStatus: (status) => status < 400 },
    );
    expect(shape(o.lean)).toEqual(shape(o.node));
    expect(o.lean).toEqual({ kind: "refused", status: 400, body: '{"e":1}' });
  });

  it("a reset mid-body: broken", async () => {
    const o = await bothOutcomes((s) => {
      s.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", () => s.resetAndDestroy());
    });
    // node's client reports this reset either as the answer ending early or as the request's ECONNRESET,
    // by timing (seen both ways under load); the outcome is `broken` in both, as the lean client's is.
    expect(o.node).toMatchObject({ kind: "broken" });
    expect([
      "the backend closed the answer mid-stream",
      "POST http://127.0.0.1:PORT/v1/chat/completions: read ECONNRESET",
    ]).toContain((o.node as { message: string }).message);
    expect(shape(o.lean)).toEqual({ kind: "broken", message: "the backend closed the answer mid-stream" });
  });

  it("silence: retry, timed out", async () => {
    const o = await bothOutcomes(() => {}, { idleTimeoutMs: 150 });
    expect(shape(o.lean)).toEqual(shape(o.node));
    expect(o.lean).toMatchObject({
      kind: "retry",
      timedOut: true,
      message: expect.stringContaining("no data from the backend for 150 ms"),
    });
  });

  it("a refused port: retry naming it", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const out = {} as Record<Impl, ForwardOutcome>;
    for (const impl of ["lean", "node"] as const) {
      const gateway = await miniGateway(targetOf(port), impl);
      open.push(gateway);
      await post(gateway.port);
      out[impl] = await gateway.next();
    }
    expect(shape(out.lean)).toEqual(shape(out.node));
    expect(out.lean).toMatchObject({
      kind: "retry",
      message: `POST http://127.0.0.1:${port}/v1/chat/completions: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it("an answer node cannot parse: retry before the head", async () => {
    const o = await bothOutcomes((s) => s.end("HTTP/1.1 2x0 OK\r\n\r\n"));
    expect(o.lean.kind).toBe(o.node.kind);
    expect(o.lean).toMatchObject({ kind: "retry", message: expect.stringContaining("Parse Error") });
  });
});
