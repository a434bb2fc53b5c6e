/**
 * Health as a user meets it: a loading backend is "starting", not failed, and is seen ready promptly;
 * a start-up that never ends is killed at `start_timeout`; a hung (SIGSTOPped) or wedged backend is
 * restarted after `failure_threshold` probes, while a brief blip only degrades it.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DaemonHandle, startDaemon, stopAll, until } from "../support/daemon-harness.js";
import { alive, configWith, figure, record, runtimeView, toState } from "./support.js";

let h: DaemonHandle;

const HUNG = { interval: 200, timeout: 200, threshold: 3 };

beforeAll(async () => {
  const config = configWith([
    { id: "loading", auto_start: false, args: ["--stub-load-ms", "1500"] },
    { id: "bindlate", args: ["--stub-bind-after-load", "--stub-load-ms", "800"] },
    {
      id: "slowstart",
      auto_start: false,
      args: ["--stub-load-ms", "60000"],
      extra: "health: { start_timeout: 700ms }\nrestart_budget: { max_restarts: 1 }",
    },
    {
      id: "hung",
      extra: `health: { interval: ${HUNG.interval}ms, timeout: ${HUNG.timeout}ms, failure_threshold: ${HUNG.threshold} }`,
    },
    { id: "blip", extra: "health: { interval: 500ms, timeout: 300ms, failure_threshold: 3 }" },
    {
      id: "wedged",
      auto_start: false,
      args: ["--stub-fail-inference"],
      extra:
        "health: { failure_threshold: 2, inference: { enabled: true, interval: 200ms, timeout: 1s } }\nrestart_budget: { max_restarts: 1 }",
    },
  ]);
  h = await startDaemon({ config });
});
afterAll(stopAll);

function getHealth(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/health", agent: false, timeout: 1000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

describe("start-up health", () => {
  it("503 'Loading model' is loading, and ready follows the backend's 200 promptly", async () => {
    const ev = await record(h, ["runtime.*"]);
    const started = await (await h.client()).call("runtime.start", { id: "loading" });
    expect(started.state, `state after runtime.start: ${started.state}`).toBe("starting");
    const port = await until(async () => (await runtimeView(h, "loading")).port, 5000, "the stub's port");
    // Watch the backend itself, tightly: it turned healthy after its last 503 and by its first 200, so
    // `ready - last 503` is an upper bound of the daemon's lag.
    let loadingAnswers = 0;
    let lastLoadingAt = 0;
    let firstOkAt = 0;
    const deadline = Date.now() + 10_000;
    while (firstOkAt === 0 && Date.now() < deadline) {
      const sentAt = Date.now();
      const r = await getHealth(port).catch(() => undefined);
      if (r?.status === 503 && r.body.includes("Loading model")) {
        loadingAnswers++;
        lastLoadingAt = sentAt;
      }
      if (r?.status === 200) firstOkAt = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(firstOkAt, "the stub's /health answered 200 within 10 s").toBeGreaterThan(0);
    const ready = await toState(ev, "loading", ["ready"]);
    const readyAt = Date.parse(ready.time);
    const lagBound = readyAt - lastLoadingAt;
    figure("backend /health 200 → ready event, upper bound (ready − last 503)", lagBound);
    figure("backend /health 200 → ready event, lower bound (ready − first 200 seen)", readyAt - firstOkAt);
    expect(
      loadingAnswers,
      `503 "Loading model" answers seen while loading: ${loadingAnswers}`,
    ).toBeGreaterThan(0);
    expect(
      lagBound,
      `ready event at most ${lagBound} ms after the backend's /health turned 200`,
    ).toBeLessThan(250);
    const transitions = ev.all("runtime.state.changed", "loading").map((e) => e.payload.to);
    expect(transitions, `transitions: ${transitions.join(" → ")}`).toEqual(["starting", "ready"]);
    expect(ev.all("runtime.probe.failed", "loading"), "no probe failures while loading").toHaveLength(0);
    const view = await runtimeView(h, "loading");
    expect(view.restart_budget.used, "no restart used").toBe(0);
    await ev.close();
  });

  it("a refused connection while the backend loads (bind after load) is loading, not failure", async () => {
    const view = await h.waitForState("bindlate", ["ready", "failed", "exhausted", "backoff"]);
    expect(view.state, `state ${view.state}, reason ${view.reason}`).toBe("ready");
    expect(view.restart_budget.used, "no restart used").toBe(0);
    expect(view.restarts_total, "no restart").toBe(0);
  });

  it("start_timeout exceeded: killed and restarted with the reason", async () => {
    const ev = await record(h, ["runtime.*"]);
    await (await h.client()).call("runtime.start", { id: "slowstart" });
    const timedOut = await ev.next(
      "runtime.state.changed",
      (p) => p.id === "slowstart" && /not healthy within/.test(p.reason ?? ""),
    );
    expect(timedOut.payload.reason, `reason: ${timedOut.payload.reason}`).toMatch(
      /^not healthy within 700 ms of start \(last probe: loading \(Loading model\)\)$/,
    );
    const next = await ev.next("runtime.state.changed", (p) => p.id === "slowstart" && p.to !== "starting");
    expect(next.payload.to, `after the kill: ${JSON.stringify(next.payload)}`).toMatch(
      /^(backoff|exhausted)$/,
    );
    expect(next.payload.reason, `reason: ${next.payload.reason}`).toMatch(
      /^not healthy within 700 ms of start/,
    );
    await ev.close();
  });
});

describe("steady health", () => {
  it("a SIGSTOPped backend is detected as hung within threshold × interval + timeout and restarted", async () => {
    const before = await h.waitForState("hung", ["ready"]);
    const pid = before.pid as number;
    const ev = await record(h, ["runtime.*"]);
    const stoppedAt = Date.now();
    process.kill(pid, "SIGSTOP");
    const unhealthy = await ev.next(
      "runtime.state.changed",
      (p) => p.id === "hung" && p.to === "degraded" && /failed 3\/3/.test(p.reason ?? ""),
    );
    const detectMs = Date.parse(unhealthy.time) - stoppedAt;
    const bound = HUNG.threshold * HUNG.interval + HUNG.timeout;
    figure(`SIGSTOP → hung detected (bound ${bound} ms)`, detectMs);
    expect(unhealthy.payload.reason, `reason: ${unhealthy.payload.reason}`).toMatch(
      /^\/health probe failed 3\/3: no answer within \d+ ms \(hung\?\)$/,
    );
    // Bound plus slack for a loaded CI machine; the figure is in the message.
    expect(detectMs, `hung detected ${detectMs} ms after SIGSTOP (design bound ${bound} ms)`).toBeLessThan(
      bound + 600,
    );
    const restart = await ev.next("runtime.restart", (p) => p.id === "hung");
    expect(restart.payload.restart_budget.used, "one restart used").toBe(1);
    const ready = await toState(ev, "hung", ["ready"]);
    expect(ready.payload.pid, `new pid ${ready.payload.pid} (old ${pid})`).not.toBe(pid);
    expect(alive(pid), `stopped process ${pid} is gone`).toBe(false);
    const view = await runtimeView(h, "hung");
    // SIGCONT before SIGTERM: the stopped stub could act on the stop signal — and, like llama-server b4748,
    // it dies of SIGABRT in its SIGTERM handler (a SIGKILL escalation would read SIGKILL).
    expect(view.last_exit, `last exit ${JSON.stringify(view.last_exit)}`).toMatchObject({
      code: null,
      signal: "SIGABRT",
    });
    expect(h.stderr(), "no SIGKILL escalation").not.toMatch(/"runtime":"hung"[^\n]*ignored the stop signal/);
    const health = view.health;
    expect(health.errors, `errors in the window: ${health.errors}`).toBeGreaterThanOrEqual(3);
    expect(health.error_rate, `error rate ${health.error_rate}`).toBeGreaterThan(0);
    for (const key of ["p50_ms", "p95_ms", "ewma_ms"] as const) {
      expect(health[key], `${key} = ${health[key]}`).toBeGreaterThan(0);
    }
    expect(health.p50_ms as number, `p50 ${health.p50_ms} <= p95 ${health.p95_ms}`).toBeLessThanOrEqual(
      health.p95_ms as number,
    );
    await ev.close();
  });

  it("a brief SIGSTOP/SIGCONT blip degrades, then recovers to ready without a restart", async () => {
    const before = await h.waitForState("blip", ["ready"]);
    const pid = before.pid as number;
    const ev = await record(h, ["runtime.*"]);
    process.kill(pid, "SIGSTOP");
    let resumed = false;
    try {
      const failed = await ev.next("runtime.probe.failed", (p) => p.id === "blip");
      process.kill(pid, "SIGCONT");
      resumed = true;
      expect(failed.payload, JSON.stringify(failed.payload)).toMatchObject({ count: 1, threshold: 3 });
    } finally {
      if (!resumed) process.kill(pid, "SIGCONT");
    }
    const degraded = await toState(ev, "blip", ["degraded"]);
    expect(degraded.payload.reason, `reason: ${degraded.payload.reason}`).toMatch(
      /^\/health probe failed 1\/3/,
    );
    expect(degraded.payload.status.code, "status code while degraded").toBe("degraded");
    const ready = await toState(ev, "blip", ["ready"]);
    expect(ready.payload.status.code, "status code after recovery").toBe("ready");
    const view = await runtimeView(h, "blip");
    expect(view.pid, `same pid ${view.pid} (was ${pid})`).toBe(pid);
    expect(view.restart_budget.used, "no restart used").toBe(0);
    expect(ev.all("runtime.restart", "blip"), "no restart event").toHaveLength(0);
    expect(view.health.errors, `the blip counted as an error: ${view.health.errors}`).toBeGreaterThanOrEqual(
      1,
    );
    await ev.close();
  });

  it("a wedged backend (/health ok, inference failing) is restarted by the inference probe", async () => {
    const ev = await record(h, ["runtime.*"]);
    await (await h.client()).call("runtime.start", { id: "wedged" });
    const unhealthy = await ev.next(
      "runtime.state.changed",
      (p) => p.id === "wedged" && /inference probe failed 2\/2/.test(p.reason ?? ""),
    );
    expect(unhealthy.payload.reason, `reason: ${unhealthy.payload.reason}`).toMatch(
      /^inference probe failed 2\/2: HTTP 500/,
    );
    const restart = await ev.next("runtime.restart", (p) => p.id === "wedged");
    expect(restart.payload.automatic, "automatic").toBe(true);
    const view = await runtimeView(h, "wedged");
    expect(view.inference, `inference summary ${JSON.stringify(view.inference)}`).toBeDefined();
    expect(view.inference?.errors ?? 0, `inference errors ${view.inference?.errors}`).toBeGreaterThanOrEqual(
      2,
    );
    expect(view.health.errors, `/health stayed ok: ${view.health.errors} errors`).toBe(0);
    await ev.close();
  });
});
