/**
 * A socket server in its own process for the wire-limit reproductions (wire-limits.test.ts): the attack's
 * clients run in the test process, so a round trip measured there reflects the server's event loop, and
 * the server's RSS is its own. Built code (dist/), as the daemon runs it.
 * argv: <socket path> <RpcServer options as JSON>. Prints "ready" once listening.
 */
import { z } from "zod";
import { RpcServer } from "../../dist/ipc/server.js";

const [socketPath, optionsJson] = process.argv.slice(2);
const warnings = [];
const noListeners = { subscribe: () => () => {} };

function rssBytes() {
  return process.memoryUsage().rss;
}

const server = new RpcServer({
  socketPath,
  maxConnections: 1024,
  maxLineBytes: 1024 * 1024,
  subscriberQueue: 1000,
  bus: noListeners,
  logger: { warn: (_obj, msg) => warnings.push(msg), info() {}, debug() {} },
  ...JSON.parse(optionsJson ?? "{}"),
  methods: {
    "daemon.hello": {
      params: z.strictObject({}),
      handler: () => ({
        protocol: 1,
        product: "runtime-matrix",
        pid: process.pid,
        methods: server.methodNames,
      }),
    },
    "test.notify": {
      params: z.strictObject({ count: z.number().int(), size: z.number().int() }),
      // Like a log follower: lines arrive one at a time, not all in one turn of the event loop.
      handler: async (p, ctx) => {
        const blob = "x".repeat(p.size);
        for (let i = 0; i < p.count && !ctx.signal?.aborted; i += 1) {
          ctx.notify("logs.line", { i, blob });
          await new Promise((resolve) => setImmediate(resolve));
        }
        return { sent: p.count };
      },
    },
    "test.huge": {
      params: z.strictObject({ size: z.number().int() }),
      // Like runtime.logs with 10,000 lines: one answer larger than the per-connection cap.
      handler: (p) => ({ blob: "z".repeat(p.size) }),
    },
    "test.big": { params: z.strictObject({}), handler: () => ({ blob: "y".repeat(1200) }) },
    "test.deep": {
      params: z.strictObject({ content: z.unknown() }),
      // Like a chat forwarding its content to a backend: serialising it recurses.
      handler: (p) => ({ bytes: JSON.stringify(p.content).length }),
    },
    "test.held": {
      params: z.strictObject({ match: z.string() }),
      handler: (p) => {
        globalThis.gc?.();
        return {
          held: server.held ?? null,
          connections: server.connections,
          warnings: warnings.filter((w) => w.includes(p.match)).length,
          rss: rssBytes(),
        };
      },
    },
  },
});
await server.listen();
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
