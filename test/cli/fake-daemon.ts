/**
 * A tiny stand-in for rmxd in CLI tests: a real Unix socket speaking JSON-RPC lines with canned answers,
 * subscriptions that receive `event` notifications, and followed logs that receive `logs.line`.
 */
import net from "node:net";
import { compileTopicPattern } from "../../daemon/events.js";
import type { JsonRpcErrorObject } from "../../ipc/protocol/jsonrpc.js";

/** Thrown by a handler: the fake answers with this JSON-RPC error. */
export class FakeRefusal {
  constructor(readonly error: JsonRpcErrorObject) {}
}

export interface FakeCall {
  method: string;
  params: unknown;
}

export interface FakeConnection {
  /** Queues a notification written right behind the answer, in the same write (it overtakes nothing). */
  notifyAfterReply(method: string, params: unknown): void;
}

type Handler = (params: unknown, conn: FakeConnection) => unknown;

interface Subscriber {
  socket: net.Socket;
  subscription: string;
  matches: (topic: string) => boolean;
}

export class FakeDaemon {
  readonly calls: FakeCall[] = [];
  private readonly handlers = new Map<string, Handler>();
  private readonly sockets = new Set<net.Socket>();
  private readonly subscribers: Subscriber[] = [];
  private readonly logFollowers: Array<{ socket: net.Socket; subscription: string; id: string }> = [];
  private nextSubscription = 1;
  private seq = 0;

  private constructor(
    private readonly server: net.Server,
    readonly socketPath: string,
  ) {}

  static async start(socketPath: string): Promise<FakeDaemon> {
    const server = net.createServer();
    const fake = new FakeDaemon(server, socketPath);
    server.on("connection", (socket) => fake.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => resolve());
    });
    return fake;
  }

  on(method: string, handler: Handler): this {
    this.handlers.set(method, handler);
    return this;
  }

  callsOf(method: string): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.params);
  }

  get subscriberCount(): number {
    return this.subscribers.filter((s) => !s.socket.destroyed).length;
  }

  get logFollowerCount(): number {
    return this.logFollowers.filter((f) => !f.socket.destroyed).length;
  }

  emit(topic: string, payload: unknown, time = new Date().toISOString()): void {
    this.seq += 1;
    for (const sub of this.subscribers) {
      if (sub.socket.destroyed || !sub.matches(topic)) continue;
      write(sub.socket, {
        jsonrpc: "2.0",
        method: "event",
        params: { subscription: sub.subscription, topic, seq: this.seq, time, payload },
      });
    }
  }

  logLine(id: string, line: string): void {
    for (const follower of this.logFollowers) {
      if (follower.socket.destroyed || follower.id !== id) continue;
      write(follower.socket, {
        jsonrpc: "2.0",
        method: "logs.line",
        params: { subscription: follower.subscription, id, line },
      });
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf("\n");
      while (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim() !== "")
          this.answer(socket, JSON.parse(line) as { id?: number; method: string; params?: unknown });
        newline = buffer.indexOf("\n");
      }
    });
  }

  private answer(socket: net.Socket, request: { id?: number; method: string; params?: unknown }): void {
    this.calls.push({ method: request.method, params: request.params });
    const after: unknown[] = [];
    const conn: FakeConnection = {
      notifyAfterReply: (method, params) => after.push({ jsonrpc: "2.0", method, params }),
    };
    let reply: unknown;
    if (request.method === "events.subscribe") {
      const topics = (request.params as { topics: string[] }).topics;
      const subscription = `sub-${this.nextSubscription++}`;
      const matchers = topics.map(compileTopicPattern);
      this.subscribers.push({ socket, subscription, matches: (t) => matchers.some((m) => m(t)) });
      reply = { jsonrpc: "2.0", id: request.id, result: { subscription, topics } };
    } else {
      const handler = this.handlers.get(request.method);
      try {
        if (handler === undefined) {
          throw new FakeRefusal({ code: -32601, message: `method not found: ${request.method}` });
        }
        const result = handler(request.params, conn);
        const follow = result as { subscription?: unknown; id?: unknown } | null;
        if (request.method === "runtime.logs" && typeof follow?.subscription === "string") {
          this.logFollowers.push({ socket, subscription: follow.subscription, id: String(follow.id) });
        }
        reply = { jsonrpc: "2.0", id: request.id, result };
      } catch (error) {
        if (!(error instanceof FakeRefusal)) throw error;
        reply = { jsonrpc: "2.0", id: request.id, error: error.error };
      }
    }
    socket.write([reply, ...after].map((m) => `${JSON.stringify(m)}\n`).join(""));
  }
}

function write(socket: net.Socket, message: unknown): void {
  socket.write(`${JSON.stringify(message)}\n`);
}
