/**
 * The route table mounted on a plain node:http server in this test, as the gateway will mount it: the
 * SSE route subscribes to the bus only while a client is connected (no browser, no cost), and the
 * quick-action route runs the socket's own method entries (same schema, same refusal text).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { EventBus } from "../../daemon/events.js";
import { observabilityHost } from "../../daemon/http/daemon-host.js";
import { DaemonMetrics } from "../../daemon/http/metrics.js";
import type { Route } from "../../daemon/http/observability-host.js";
import { observabilityRoutes } from "../../daemon/http/routes.js";
import { DashboardSessions } from "../../daemon/http/session.js";
import type { RuntimeStatusResult } from "../../ipc/protocol/runtime.js";
import { paramSchemas } from "../../ipc/protocol/schemas.js";

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const STATUS: RuntimeStatusResult = {
  generated: "2026-01-01T00:00:00.000Z",
  node: undefined as unknown as RuntimeStatusResult["node"],
  summary: { ready: 0, total: 0, attention_required: false },
  runtimes: [],
  problems: [],
};

async function mount(routes: Route[]): Promise<string> {
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    const route = routes.find((r) => r.method === req.method && r.path === pathname);
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    void route.handle(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function setup() {
  const clock = new ManualClock(Date.now());
  const bus = new EventBus(clock);
  const calls: unknown[] = [];
  const host = observabilityHost({
    nodeId: "t",
    bus,
    matrix: undefined,
    methods: {
      "runtime.stop": {
        params: paramSchemas["runtime.stop"],
        handler: (p: unknown) => {
          calls.push(p);
          return { id: "x", state: "stopping" };
        },
      },
    },
    status: () => STATUS,
    getRuntime: () => {
      throw new Error("no runtimes here");
    },
  });
  const sessions = new DashboardSessions(clock);
  const routes = observabilityRoutes({
    host,
    metrics: new DaemonMetrics("t", { processMetrics: false }),
    sessions,
    formatTime: (iso) => iso,
  });
  return { bus, sessions, routes, calls };
}

async function login(base: string, sessions: DashboardSessions): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${base}/login?token=${sessions.issueLogin().token}`, { redirect: "manual" });
  expect(r.status).toBe(303);
  const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] as string;
  const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
  const csrf = /name="rmx-csrf" content="([^"]+)"/.exec(page)?.[1] as string;
  return { cookie, csrf };
}

describe("observability routes on a plain node:http server", () => {
  it("subscribes to the bus only while an SSE client is connected", async () => {
    const { bus, sessions, routes } = setup();
    const base = await mount(routes);
    const { cookie } = await login(base, sessions);
    expect(bus.subscriberCount).toBe(0);
    const controller = new AbortController();
    const res = await fetch(`${base}/events`, { headers: { cookie }, signal: controller.signal });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("event: state")) text += new TextDecoder().decode((await reader.read()).value);
    expect(bus.subscriberCount).toBe(1);
    // A burst of events: one snapshot.
    for (let i = 0; i < 5; i++) bus.publish("runtime.state.changed", { id: "x" } as never); // only the burst matters here
    text = "";
    while (!text.includes("event: state")) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await new Promise<void>((resolve) => {
      const check = () => (bus.subscriberCount === 0 ? resolve() : setImmediate(check));
      check();
    });
    expect(bus.subscriberCount).toBe(0);
  });

  it("quick actions use the socket method's schema and handler; CSRF and method are checked", async () => {
    const { sessions, routes, calls } = setup();
    const base = await mount(routes);
    const { cookie, csrf } = await login(base, sessions);
    const post = (body: unknown, headers: Record<string, string> = { "x-rmx-csrf": csrf }) =>
      fetch(`${base}/api/action`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    const ok = await post({ method: "runtime.stop", params: { id: "x" } });
    expect(ok.status).toBe(200);
    expect(calls).toEqual([{ id: "x", wait: false }]);
    const bad = await post({ method: "runtime.stop", params: { id: "" } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toBe(
      "runtime.stop: params.id: must not be empty",
    );
    expect((await post({ method: "runtime.stop", params: { id: "x" } }, {})).status).toBe(403);
    expect((await post({ method: "config.reload" })).status).toBe(400);
    expect(calls.length).toBe(1);
  });
});
