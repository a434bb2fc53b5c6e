/**
 * Helpers for the upstream-leg tests: a raw node:net backend that answers each request with scripted
 * bytes (counting connections and requests), and a minimal gateway on node:http whose handler calls
 * forward() (the lean client) or forwardNode() (node:http, today's client) toward it.
 */
import http from "node:http";
import net from "node:net";
import { type ForwardOutcome, forward, type UpstreamTarget } from "../../daemon/http/forward.js";
import { forwardNode } from "../../daemon/http/upstream-node.js";

export interface SeenRequest {
  /** The connection's number (0, 1, …) and the request's on it. */
  conn: number;
  onConn: number;
  head: string;
  body: Buffer;
}

/** What the backend does with one request: write bytes, end or destroy the socket. */
export type Script = (socket: net.Socket, seen: SeenRequest) => void;

export interface RawBackend {
  port: number;
  connections: number;
  requests: SeenRequest[];
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

export async function rawBackend(script: Script): Promise<RawBackend> {
  const backend: RawBackend = {
    port: 0,
    connections: 0,
    requests: [],
    sockets: new Set(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of backend.sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((socket) => {
    const conn = backend.connections++;
    backend.sockets.add(socket);
    socket.on("close", () => backend.sockets.delete(socket));
    socket.on("error", () => {});
    let pending = Buffer.alloc(0);
    let onConn = 0;
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = pending.toString("latin1", 0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const body = pending.subarray(end + 4, end + 4 + length);
        pending = pending.subarray(end + 4 + length);
        const seen = { conn, onConn: onConn++, head, body };
        backend.requests.push(seen);
        script(socket, seen);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  backend.port = (server.address() as net.AddressInfo).port;
  return backend;
}

export function targetOf(port: number, headers: Record<string, string> = {}): UpstreamTarget {
  return {
    https: false,
    hostname: "127.0.0.1",
    port,
    path: "/v1/chat/completions",
    label: `POST http://127.0.0.1:${port}/v1/chat/completions`,
    headers: { ...headers, "content-type": "application/json" },
  };
}

export type Impl = "lean" | "node";

export interface MiniGateway {
  port: number;
  outcomes: ForwardOutcome[];
  /** Resolves with the next outcome (in order of settling). */
  next(): Promise<ForwardOutcome>;
  close(): Promise<void>;
}

/** A gateway forwarding every request's body to `target` with the chosen client. */
export async function miniGateway(
  target: UpstreamTarget,
  impl: Impl,
  opts: { idleTimeoutMs?: number; passStatus?: (status: number) => boolean } = {},
): Promise<MiniGateway> {
  const outcomes: ForwardOutcome[] = [];
  const waiters: ((o: ForwardOutcome) => void)[] = [];
  let taken = 0;
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const run = impl === "lean" ? forward : forwardNode;
      void run(
        res,
        {
          target,
          body: Buffer.concat(parts),
          idleTimeoutMs: opts.idleTimeoutMs ?? 10_000,
          answerHeaders: {},
          cell: "cell-a",
        },
        opts.passStatus ?? ((status) => status < 400),
      ).then((outcome) => {
        outcomes.push(outcome);
        // What inference.ts does with an outcome that sent nothing: answer it.
        if ((outcome.kind === "retry" || outcome.kind === "refused") && !res.headersSent)
          res.writeHead(599).end(outcome.kind === "retry" ? outcome.message : outcome.body);
        waiters.shift()?.(outcome);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    outcomes,
    next: () =>
      new Promise((resolve) => {
        const i = taken++;
        if (i < outcomes.length) resolve(outcomes[i] as ForwardOutcome);
        else waiters.push(resolve);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Fetched {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The answer ended short (reset, cut). */
  cut: boolean;
}

/** One POST with node's own client on a fresh connection. */
export function post(port: number, body = '{"model":"m"}'): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/chat/completions",
        agent: false,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const parts: Buffer[] = [];
        let cut = false;
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("aborted", () => {
          cut = true;
        });
        res.on("error", () => {
          cut = true;
        });
        res.on("close", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), cut }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A plain keep-alive answer. */
export function okAnswer(body = '{"ok":true}', extra = ""): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

/** An outcome without its timing, to compare two clients'. */
export function shape(outcome: ForwardOutcome): Omit<ForwardOutcome, "ttfbMs"> {
  const { ttfbMs: _, ...rest } = outcome as ForwardOutcome & { ttfbMs?: number };
  return rest;
}
