import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { ManualClock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import { EventBus } from "../../daemon/events.js";
import { type MethodTable, RpcServer, type RpcServerOptions } from "../../ipc/server.js";

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The soft limit on open files (Linux), or undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    return soft === undefined || soft === "unlimited" ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

export async function makeTempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-ipc-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Methods a test daemon answers; real handlers live in the daemon. */
export function fakeMethods(): MethodTable {
  return {
    "daemon.hello": {
      params: z.strictObject({}),
      handler: () => ({ protocol: 1, product: "runtime-matrix", pid: process.pid }),
    },
    "test.echo": {
      params: z.strictObject({ id: z.string(), n: z.number().optional() }),
      handler: (p: { id: string; n?: number }) => p,
    },
    "test.rmx": {
      params: z.strictObject({}),
      handler: () => {
        throw new RmxError("RUNTIME_NOT_FOUND", 'runtime "x" not found', { id: "x" });
      },
    },
    "test.boom": {
      params: z.strictObject({}),
      handler: () => {
        throw new TypeError("kaboom");
      },
    },
    "test.bigint": { params: z.strictObject({}), handler: () => ({ n: 1n }) },
    "test.hang": { params: z.strictObject({}), handler: () => new Promise(() => {}) },
    "test.notify": {
      params: z.strictObject({ count: z.number().int(), size: z.number().int() }),
      handler: (p: { count: number; size: number }, ctx) => {
        const blob = "x".repeat(p.size);
        for (let i = 0; i < p.count; i += 1) ctx.notify("test.blob", { i, blob });
        return { sent: p.count };
      },
    },
  };
}

export interface TestServer {
  server: RpcServer;
  bus: EventBus;
  socketPath: string;
  dir: string;
  warnings: Array<{ obj: object; msg: string }>;
  stop(): Promise<void>;
}

export async function startServer(overrides: Partial<RpcServerOptions> = {}): Promise<TestServer> {
  const { dir, cleanup } = await makeTempDir();
  const socketPath = overrides.socketPath ?? path.join(dir, "run", "rmxd.sock");
  const bus = (overrides.bus as EventBus | undefined) ?? new EventBus(new ManualClock());
  const warnings: Array<{ obj: object; msg: string }> = [];
  const server = new RpcServer({
    socketPath,
    maxConnections: 64,
    maxLineBytes: 1024 * 1024,
    subscriberQueue: 64,
    methods: fakeMethods(),
    bus,
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }), info() {}, debug() {} },
    ...overrides,
  });
  await server.listen();
  return {
    server,
    bus,
    socketPath,
    dir,
    warnings,
    stop: async () => {
      await server.close();
      await cleanup();
    },
  };
}

/** A raw socket that collects answer lines, for speaking the wire directly. */
export class RawConn {
  readonly lines: string[] = [];
  closed = false;
  private buffered = "";

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffered += chunk;
      let newline = this.buffered.indexOf("\n");
      while (newline !== -1) {
        this.lines.push(this.buffered.slice(0, newline));
        this.buffered = this.buffered.slice(newline + 1);
        newline = this.buffered.indexOf("\n");
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
    });
  }

  static open(socketPath: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      socket.once("connect", () => resolve(new RawConn(socket)));
      socket.once("error", reject);
    });
  }

  send(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  messages(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Waits for the nth answer line (1-based) and returns it parsed. */
  async nth(n: number, timeoutMs = 5000): Promise<Record<string, unknown>> {
    await waitFor(() => this.lines.length >= n, timeoutMs, `answer #${n}`);
    return JSON.parse(this.lines[n - 1]!) as Record<string, unknown>;
  }

  /** Sends one request line and waits for the next answer. */
  async request(text: string): Promise<Record<string, unknown>> {
    const n = this.lines.length + 1;
    this.send(text.endsWith("\n") ? text : `${text}\n`);
    return this.nth(n);
  }

  close(): void {
    this.socket.destroy();
  }
}
