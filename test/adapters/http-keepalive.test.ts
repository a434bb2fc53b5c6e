/**
 * adapters/http.ts pools GET connections: probes reuse one socket, and a pooled socket the server (or a
 * backend that restarted on the same port) has closed costs a resend, never a failed probe.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { httpRequest } from "../../adapters/shared/http.js";

interface Server {
  url: string;
  /** Distinct client sockets that reached the server. */
  connections: Set<Socket>;
  server: http.Server;
  close(): Promise<void>;
}

const open: Server[] = [];

async function serve(port = 0, handler?: http.RequestListener): Promise<Server> {
  const connections = new Set<Socket>();
  const server = http.createServer(
    handler ??
      ((req, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ status: "ok", path: req.url }));
      }),
  );
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

afterEach(async () => {
  while (open.length > 0) await open.pop()?.close();
});

describe("httpRequest connection reuse", () => {
  it("sequential GETs to one backend share one connection", async () => {
    const s = await serve();
    for (let i = 0; i < 5; i++) {
      const r = await httpRequest(`${s.url}/health`, { timeoutMs: 2000 });
      expect(r.kind).toBe("response");
    }
    expect(s.connections.size).toBe(1);
  });

  it("POSTs do not go through the pool", async () => {
    const s = await serve();
    for (let i = 0; i < 3; i++) {
      const r = await httpRequest(`${s.url}/completion`, { body: { prompt: "x" }, timeoutMs: 2000 });
      expect(r.kind).toBe("response");
    }
    expect(s.connections.size).toBe(3);
  });

  it("a pooled socket the server closed without telling is resent on a fresh connection", async () => {
    // The server resets the kept connection when the second request arrives on it, as a server whose
    // keep-alive timer fired just as the client sent (or a backend gone since) does.
    const served = new Map<Socket, number>();
    const s = await serve(0, (req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n === 2) req.socket.resetAndDestroy();
      else res.end('{"status":"ok"}');
    });
    expect((await httpRequest(`${s.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    const second = await httpRequest(`${s.url}/health`, { timeoutMs: 2000 });
    expect(second).toMatchObject({ kind: "response", status: 200 });
    expect(s.connections.size).toBe(2);
  });

  it("a backend restarted on the same port answers the next probe, not a stale socket", async () => {
    const first = await serve();
    const port = Number(new URL(first.url).port);
    expect((await httpRequest(`${first.url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    open.splice(open.indexOf(first), 1);
    await first.close();
    const second = await serve(port);
    const r = await httpRequest(`${second.url}/health`, { timeoutMs: 2000 });
    expect(r).toMatchObject({ kind: "response", status: 200 });
    expect(second.connections.size).toBe(1);
  });

  it("a refused connection is still reported as refused", async () => {
    const s = await serve();
    const url = s.url;
    expect((await httpRequest(`${url}/health`, { timeoutMs: 2000 })).kind).toBe("response");
    open.splice(open.indexOf(s), 1);
    await s.close();
    const r = await httpRequest(`${url}/health`, { timeoutMs: 2000 });
    expect(r.kind).toBe("refused");
  });
});
