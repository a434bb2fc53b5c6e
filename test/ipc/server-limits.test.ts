/** Per-connection limits that need no attack to show: the idle timeout, the call signal, the nesting scan. */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { nestsDeeperThan } from "../../ipc/server/json-depth.js";
import { type BudgetHolder, OutputBudget } from "../../ipc/server/output-budget.js";
import { fakeMethods, RawConn, startServer, type TestServer, waitFor } from "./helpers.js";

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function serve(overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const ts = await startServer(overrides);
  servers.push(ts);
  return ts;
}

describe("idle timeout", () => {
  it("closes an idle connection, but not one with a subscription or a request in flight", async () => {
    const ts = await serve({ idleTimeoutMs: 300 });
    const subscriber = await RawConn.open(ts.socketPath);
    await subscriber.request(
      '{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"topics":["*"]}}',
    );
    const waiting = await RawConn.open(ts.socketPath);
    waiting.send('{"jsonrpc":"2.0","id":1,"method":"test.hang"}\n');
    const idle = await RawConn.open(ts.socketPath);
    expect((await idle.request('{"jsonrpc":"2.0","id":1,"method":"daemon.hello"}')).result).toBeDefined();
    await waitFor(() => idle.closed, 5000, "the idle connection to be closed");
    expect(idle.messages()[1]).toMatchObject({
      id: null,
      error: { code: -32600, data: { code: "IDLE_TIMEOUT", limit: 300 } },
    });
    expect((idle.messages()[1]!.error as { message: string }).message).toBe(
      "idle connection closed: no request, subscription or pending answer for 0.3 s",
    );
    // A second idle connection opened after the first closed: by the time it is closed too, the busy ones
    // have outlived at least two idle periods.
    const later = await RawConn.open(ts.socketPath);
    await waitFor(() => later.closed, 5000, "the later idle connection to be closed");
    expect(subscriber.closed).toBe(false);
    expect(waiting.closed).toBe(false);
    subscriber.close();
    waiting.close();
  });
});

describe("call context", () => {
  it("aborts the handlers' signal when their connection closes", async () => {
    const aborted: string[] = [];
    const ts = await serve({
      methods: {
        ...fakeMethods(),
        "test.wait": {
          params: z.strictObject({}),
          handler: (_p: unknown, ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                aborted.push(String((ctx.signal.reason as Error).message));
                resolve(null);
              });
            }),
        },
      },
    });
    const c = await RawConn.open(ts.socketPath);
    c.send('{"jsonrpc":"2.0","id":1,"method":"test.wait"}\n');
    await waitFor(() => ts.server.connections === 1, 5000, "the connection");
    c.close();
    await waitFor(() => aborted.length === 1, 5000, "the signal to fire");
    expect(aborted[0]).toMatch(/^connection \d+ closed$/);
  });
});

function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((max, child) => Math.max(max, depthOf(child)), 0);
}

describe("nestsDeeperThan", () => {
  it("agrees with the depth of the parsed value, whatever the strings hold", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), (value, limit) => {
        const text = JSON.stringify(value);
        expect(nestsDeeperThan(text, limit)).toBe(depthOf(value) > limit);
      }),
    );
  });

  it("skips brackets and escaped quotes inside strings", () => {
    expect(nestsDeeperThan(JSON.stringify({ a: '[[[[\\"{{{{' }), 1)).toBe(false);
    expect(nestsDeeperThan("[[[]]]", 2)).toBe(true);
  });
});

describe("OutputBudget", () => {
  function holder(id: number, bytes: () => number, cut: number[]): BudgetHolder {
    return { id, pendingBytes: bytes, cutOff: () => cut.push(id) };
  }

  it("cuts off the largest holders until the total is under the limit", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        const budget = new OutputBudget(150);
        const cut: number[] = [];
        const current = new Map<number, number>();
        sizes.forEach((size, id) => {
          current.set(id, size);
          budget.set(
            holder(id, () => (cut.includes(id) ? 0 : current.get(id)!), cut),
            size,
          );
          expect(budget.total).toBeLessThanOrEqual(150);
        });
        const left = sizes.reduce((sum, size, id) => sum + (cut.includes(id) ? 0 : size), 0);
        expect(budget.total).toBe(left);
        expect(budget.peak).toBeLessThanOrEqual(150);
      }),
    );
  });
});
