/**
 * http-lite.ts, the probes' GET client on node:net, against real servers: it gives what httpRequest
 * (node:http) gives, keeps one socket per endpoint, resends once on a socket the server closed while
 * idle, honours `Connection: close`, times out, and caps bodies.
 */
import http from "node:http";
import net, { type AddressInfo, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type HttpResult, httpRequest } from "../../adapters/shared/http.js";
import { closeKeptSockets, liteGet, liteStats } from "../../adapters/shared/http-lite.js";
import { getOptional, probeGet } from "../../adapters/shared/probe.js";
import { freePort, killAllStubs, type StubProcess, spawnStub } from "./stub-harness.js";

interface Server {
  url: string;
  connections: Set<Socket>;
  server: http.Server;
  close(): Promise<void>;
}

const open: Server[] = [];

async function serve(
  handler: http.RequestListener,
  setup?: (s: http.Server) => void,
  port = 0,
): Promise<Server> {
  const connections = new Set<Socket>();
  const server = http.createServer(handler);
  setup?.(server);
  server.on("connection", (socket) => connections.add(socket));
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const s: Server = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(s);
  return s;
}

const json =
  (body: unknown, status = 200): http.RequestListener =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

afterEach(async () => {
  closeKeptSockets();
  while (open.length > 0) await open.pop()?.close();
});

/** What a result says, without its timing. */
const said = (r: HttpResult) => {
  const { ms: _ms, ...rest } = r;
  return rest;
};

async function bothSay(
  url: string,
  options: { timeoutMs: number; maxBodyBytes?: number; headers?: Record<string, string> },
) {
  const viaNode = said(await httpRequest(url, { ...options, method: "GET" }));
  const viaLite = said(await liteGet(url, options));
  return { viaNode, viaLite };
}

describe("liteGet gives what httpRequest gives", () => {
  it("statuses and bodies: 200, 404, 503 Loading model, chunked, empty", async () => {
    const s = await serve((req, res) => {
      if (req.url === "/ok") return json({ status: "ok" })(req, res);
      if (req.url === "/missing") return json({ error: "nope" }, 404)(req, res);
      if (req.url === "/loading")
        return json({ error: { code: 503, message: "Loading model" } }, 503)(req, res);
      if (req.url === "/chunked") {
        res.write("first,");
        setImmediate(() => res.end("second"));
        return;
      }
      res.writeHead(204).end();
    });
    for (const path of ["/ok", "/missing", "/loading", "/chunked", "/empty"]) {
      const { viaNode, viaLite } = await bothSay(`${s.url}${path}`, { timeoutMs: 2000 });
      expect(viaLite, path).toEqual(viaNode);
    }
    // And the probe outcomes built on them.
    expect((await probeGet(`${s.url}/loading`, 2000)).kind).toBe("loading");
    expect((await probeGet(`${s.url}/missing`, 2000)).kind).toBe("http_error");
    expect(await getOptional(`${s.url}/missing`, 2000)).toBeUndefined();
  });

  it("sends the caller's headers and the URL's query", async () => {
    const s = await serve((req, res) =>
      json({
        url: req.url,
        auth: req.headers.authorization,
        accept: req.headers.accept,
        host: req.headers.host,
      })(req, res),
    );
    const { viaNode, viaLite } = await bothSay(`${s.url}/slots?fail_on_no_slot=1`, {
      timeoutMs: 2000,
      headers: { authorization: "Bearer k" },
    });
    expect(viaLite).toEqual(viaNode);
    expect(JSON.parse((viaLite as { body: string }).body)).toMatchObject({
      url: "/slots?fail_on_no_slot=1",
      auth: "Bearer k",
    });
  });

  it("a refused connection: kind refused, node's message", async () => {
    const port = await freePort();
    const { viaNode, viaLite } = await bothSay(`http://127.0.0.1:${port}/health`, { timeoutMs: 2000 });
    expect(viaLite).toEqual(viaNode);
    expect(viaLite.kind).toBe("refused");
  });

  it("a server that never answers: kind timeout within the probe's timeout", async () => {
    const s = await serve(() => {});
    const { viaNode, viaLite } = await bothSay(`${s.url}/health`, { timeoutMs: 150 });
    expect(viaLite).toEqual(viaNode);
    expect(viaLite.kind).toBe("timeout");
  });

  it("a 10 MB body: refused at the cap with httpRequest's message", async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 97);
    const s = await serve((req, res) => {
      if (req.url === "/chunked") {
        res.write(big.subarray(0, 5 * 1024 * 1024));
        res.end(big.subarray(5 * 1024 * 1024));
      } else res.end(big);
    });
    for (const path of ["/length", "/chunked"]) {
      const { viaNode, viaLite } = await bothSay(`${s.url}${path}`, { timeoutMs: 5000 });
      expect(viaLite, path).toEqual(viaNode);
      expect(viaLite, path).toMatchObject({
        kind: "error",
        message: expect.stringMatching(/exceeds 4194304 bytes/),
      });
    }
  });
});

describe("liteGet's connections", () => {
  it("sequential GETs to one endpoint share one socket", async () => {
    const s = await serve(json({ status: "ok" }));
    for (let i = 0; i < 5; i++)
      expect((await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    await liteGet(`${s.url}/metrics`, { timeoutMs: 2000 });
    expect(s.connections.size).toBe(1);
  });

  it("concurrent GETs to one endpoint are never pipelined: the second gets a socket of its own", async () => {
    const s = await serve((req, res) => setTimeout(() => json({ url: req.url })(req, res), 20));
    const [a, b] = await Promise.all([
      liteGet(`${s.url}/health`, { timeoutMs: 2000 }),
      liteGet(`${s.url}/metrics`, { timeoutMs: 2000 }),
    ]);
    expect([a.kind, b.kind]).toEqual(["response", "response"]);
    expect(s.connections.size).toBe(2);
  });

  it("a server that closes idle sockets: the next GET connects afresh and succeeds", async () => {
    const s = await serve(json({ status: "ok" }), (server) => {
      server.keepAliveTimeout = 30;
    });
    expect((await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    const [first] = [...s.connections];
    await new Promise<void>((resolve) =>
      first?.destroyed ? resolve() : first?.once("close", () => resolve()),
    );
    const again = await liteGet(`${s.url}/health`, { timeoutMs: 2000 });
    expect(again).toMatchObject({ kind: "response", status: 200 });
    expect(s.connections.size).toBe(2);
  });

  it("honours the server's Keep-Alive timeout: past it, a new connection without a failed try", async () => {
    // node says `Keep-Alive: timeout=0` for a keep-alive timeout under a second: reuse nothing.
    const s = await serve(json({ status: "ok" }), (server) => {
      server.keepAliveTimeout = 900;
    });
    expect((await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    expect((await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    expect(s.connections.size).toBe(2);
  });

  it("a kept socket the server reset as the request arrived is resent once on a fresh one", async () => {
    const served = new Map<Socket, number>();
    const s = await serve((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n === 2) req.socket.resetAndDestroy();
      else res.end('{"status":"ok"}');
    });
    expect((await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    expect(await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).toMatchObject({
      kind: "response",
      status: 200,
    });
    expect(s.connections.size).toBe(2);
  });

  it("a kept socket the server ended without a byte of answer is resent once", async () => {
    const served = new Map<Socket, number>();
    const s = await serve((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n === 2) req.socket.end();
      else res.end('{"status":"ok"}');
    });
    expect((await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    expect(await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).toMatchObject({
      kind: "response",
      status: 200,
    });
  });

  it("a fresh socket that fails is not resent: one request, node's socket hang up", async () => {
    let requests = 0;
    const s = await serve((req) => {
      requests++;
      req.socket.end();
    });
    const { viaNode, viaLite } = await bothSay(`${s.url}/health`, { timeoutMs: 2000 });
    expect(viaLite).toEqual(viaNode);
    expect(viaLite).toMatchObject({ kind: "error", code: "ECONNRESET" });
    expect(requests).toBe(2); // one each
  });

  it("Connection: close answers are read whole and the socket is not kept", async () => {
    const s = await serve((req, res) => {
      res.setHeader("connection", "close");
      json({ url: req.url })(req, res);
    });
    for (let i = 0; i < 3; i++)
      expect(await liteGet(`${s.url}/health`, { timeoutMs: 2000 })).toMatchObject({ status: 200 });
    expect(s.connections.size).toBe(3);
  });

  it("a backend restarted on the same port answers the next probe", async () => {
    const first = await serve(json({ status: "ok" }));
    const port = Number(new URL(first.url).port);
    expect((await liteGet(`${first.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    open.splice(open.indexOf(first), 1);
    await first.close();
    const second = await serve(json({ status: "ok" }), undefined, port);
    expect(await liteGet(`${second.url}/health`, { timeoutMs: 2000 })).toMatchObject({
      kind: "response",
      status: 200,
    });
  });
});

describe("liteGet against the llama stub", () => {
  let stub: StubProcess;
  beforeAll(async () => {
    stub = await spawnStub(["--port", String(await freePort()), "--metrics", "--slots"]).ready();
  });
  afterAll(killAllStubs);

  it("/health, /props, /metrics and /slots read as httpRequest reads them, on one socket", async () => {
    for (const path of ["/health", "/props", "/slots"]) {
      const { viaNode, viaLite } = await bothSay(`${stub.endpoint}${path}`, { timeoutMs: 2000 });
      expect(viaLite, path).toEqual(viaNode);
    }
    const metrics = await liteGet(`${stub.endpoint}/metrics`, { timeoutMs: 2000 });
    expect(metrics).toMatchObject({
      kind: "response",
      status: 200,
      body: expect.stringMatching(/llamacpp:/),
    });
  });
});

/** A server that writes `answers[i]` as is for the i-th request it reads (one per read: no pipelining). */
async function rawServer(
  answers: string[],
): Promise<{ url: string; connections: () => number; close(): void }> {
  let next = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("data", () => socket.write(answers[Math.min(next++, answers.length - 1)] as string));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

const answer = (date: string, body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: ${date}\r\n${extra}Content-Length: ${body.length}\r\nKeep-Alive: timeout=5\r\n\r\n${body}`;

describe("liteGet's repeated answers (the same bytes but for the Date header)", () => {
  it("are recognised without parsing and give what parsing gives", async () => {
    const dates = [
      "Tue, 01 Dec 2026 16:20:00 GMT",
      "Tue, 01 Dec 2026 16:20:05 GMT",
      "Tue, 01 Dec 2026 16:20:10 GMT",
    ];
    const s = await rawServer(dates.map((d) => answer(d, '{"status":"ok"}')));
    try {
      const before = liteStats.repeats;
      const results = [];
      for (let i = 0; i < 3; i++) results.push(said(await liteGet(`${s.url}/health`, { timeoutMs: 2000 })));
      expect(results).toEqual(Array(3).fill({ kind: "response", status: 200, body: '{"status":"ok"}' }));
      expect(liteStats.repeats - before).toBe(2);
      expect(s.connections()).toBe(1);
    } finally {
      s.close();
    }
  });

  it("a large answer (over 4 KiB) is not kept to compare: parsed every time", async () => {
    const big = `"${"x".repeat(8000)}"`;
    const s = await rawServer([answer("Tue, 01 Dec 2026 16:20:00 GMT", big)]);
    try {
      const before = liteStats.repeats;
      for (let i = 0; i < 3; i++)
        expect(said(await liteGet(`${s.url}/metrics`, { timeoutMs: 2000 }))).toMatchObject({ body: big });
      expect(liteStats.repeats - before).toBe(0);
    } finally {
      s.close();
    }
  });

  it("an answer that differs elsewhere, even at the same length, is parsed", async () => {
    const date = "Tue, 01 Dec 2026 16:20:00 GMT";
    const s = await rawServer([
      answer(date, '{"status":"ok"}'),
      answer(date, '{"status":"no"}'),
      answer(date, '{"status":"no"}'),
    ]);
    try {
      const before = liteStats.repeats;
      expect(said(await liteGet(`${s.url}/health`, { timeoutMs: 2000 }))).toMatchObject({
        body: '{"status":"ok"}',
      });
      expect(said(await liteGet(`${s.url}/health`, { timeoutMs: 2000 }))).toMatchObject({
        body: '{"status":"no"}',
      });
      expect(liteStats.repeats - before).toBe(0);
      // …and the changed one is what the next is compared with.
      expect(said(await liteGet(`${s.url}/health`, { timeoutMs: 2000 }))).toMatchObject({
        body: '{"status":"no"}',
      });
      expect(liteStats.repeats - before).toBe(1);
    } finally {
      s.close();
    }
  });

  it("a line break inside the Date value's place is a new header, so parsed: here a Connection: close", async () => {
    const date = "Tue, 01 Dec 2026 16:20:00 GMT";
    // Same length as `date`: the bytes around it are unchanged, the header block is not.
    const split = "x\r\nConnection: close\r\nX-P: 12";
    expect(split.length).toBe(date.length);
    const s = await rawServer([answer(date, "{}"), answer(split, "{}"), answer(date, "{}")]);
    try {
      const before = liteStats.repeats;
      for (let i = 0; i < 3; i++)
        expect(said(await liteGet(`${s.url}/health`, { timeoutMs: 2000 }))).toMatchObject({
          status: 200,
          body: "{}",
        });
      expect(liteStats.repeats - before).toBe(0);
      // The second answer closed its socket: the third came on a new one.
      expect(s.connections()).toBe(2);
    } finally {
      s.close();
    }
  });
});
