import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { fakeMethods, RawConn, startServer, type TestServer } from "./helpers.js";

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

describe("answers and events keep the order of what they show", () => {
  it("a synchronous method's answer goes out before an event published right after it was taken", async () => {
    let version = 0;
    // A snapshot method, and a change that lands a microtask later (a probe settling, say).
    const methods = {
      ...fakeMethods(),
      "test.snapshot": {
        params: z.strictObject({}),
        handler: () => {
          queueMicrotask(() => {
            version += 1;
            ts.bus.publish("runtime.exited", { version } as never);
          });
          return { version };
        },
      },
    };
    const ts = await startServer({ methods });
    servers.push(ts);
    const c = await RawConn.open(ts.socketPath);
    try {
      const sub = await c.request(
        '{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"topics":["runtime.*"]}}',
      );
      expect(sub).toMatchObject({ id: 1 });
      c.send('{"jsonrpc":"2.0","id":2,"method":"test.snapshot"}\n');
      await c.nth(3);
      const [, first, second] = c.messages();
      // A subscribe-then-snapshot client applies them in arrival order: the newer event must come last.
      expect(first).toMatchObject({ id: 2, result: { version: 0 } });
      expect(second).toMatchObject({ method: "event", params: { payload: { version: 1 } } });
    } finally {
      c.close();
    }
  });

  it("an async method is still answered, after what it awaited", async () => {
    const methods = {
      ...fakeMethods(),
      "test.later": {
        params: z.strictObject({}),
        handler: async () => {
          await new Promise((resolve) => setImmediate(resolve));
          return { later: true };
        },
      },
    };
    const ts = await startServer({ methods });
    servers.push(ts);
    const c = await RawConn.open(ts.socketPath);
    try {
      expect(await c.request('{"jsonrpc":"2.0","id":7,"method":"test.later"}')).toMatchObject({
        id: 7,
        result: { later: true },
      });
      expect(await c.request('{"jsonrpc":"2.0","id":8,"method":"test.boom"}')).toMatchObject({
        id: 8,
        error: { code: -32603 },
      });
    } finally {
      c.close();
    }
  });
});
