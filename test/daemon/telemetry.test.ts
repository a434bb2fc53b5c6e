/**
 * `runtime.health` events: one for the node in the reference entry shape and one per runtime, every
 * `telemetry.health_interval`; the node id comes from RMX_NODE_ID, then ARW_NODE_ID; nothing latches.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startDaemon, stopAll } from "../support/daemon-harness.js";
import { configWith, record, toState } from "./support.js";

afterEach(stopAll);

const config = configWith(
  [{ id: "t1", extra: "backoff: { initial: 1500ms, max: 5s, jitter: 0 }" }],
  "telemetry: { health_interval: 200ms }",
);

describe("runtime.health telemetry", () => {
  it("publishes the node entry and each runtime; node id from RMX_NODE_ID; severity follows findings", async () => {
    const h = await startDaemon({
      config,
      ready: ["t1"],
      env: { RMX_NODE_ID: "node-a", ARW_NODE_ID: "node-b" },
    });
    const ev = await record(h, ["runtime.health", "runtime.state.changed"]);
    const node = await ev.next(
      "runtime.health",
      (p) => p.scope === "node" && p.entry.runtime.states.ready === 1,
    );
    const entry = node.payload.entry;
    expect(entry.target, `target ${entry.target}`).toBe("node-a");
    expect(entry.status, JSON.stringify(entry.status)).toMatchObject({
      code: "ok",
      severity: "info",
      severity_label: "Info",
    });
    for (const key of ["label", "aria_hint"]) {
      expect(typeof entry.status[key], `status.${key}: ${entry.status[key]}`).toBe("string");
    }
    expect(Array.isArray(entry.status.detail), `detail ${JSON.stringify(entry.status.detail)}`).toBe(true);
    expect(Date.parse(entry.generated), `generated ${entry.generated}`).not.toBeNaN();
    expect(entry.http, `http ${JSON.stringify(entry.http)}`).toBeDefined();
    expect(entry.runtime, JSON.stringify(entry.runtime)).toMatchObject({ total: 1, states: { ready: 1 } });
    expect(Date.parse(entry.runtime.updated), `runtime.updated ${entry.runtime.updated}`).not.toBeNaN();
    expect(node.payload.summary, JSON.stringify(node.payload.summary)).toMatchObject({ ready: 1, total: 1 });

    const rt = await ev.next("runtime.health", (p) => p.scope === "runtime" && p.id === "t1");
    expect(rt.payload, JSON.stringify(rt.payload)).toMatchObject({ id: "t1", state: "ready" });
    expect(rt.payload.status.aria_hint, "runtime aria hint").toContain("t1");
    expect(rt.payload.health.requests, "health summary").toBeGreaterThanOrEqual(1);
    expect(rt.payload.restart_budget, "budget").toMatchObject({ max_restarts: 3, used: 0 });

    // A crash raises the node's severity while it lasts, and only while it lasts.
    const pid = (await h.waitForState("t1", ["ready"])).pid as number;
    process.kill(pid, "SIGKILL");
    await toState(ev, "t1", ["backoff"]);
    const degraded = await ev.next(
      "runtime.health",
      (p) => p.scope === "node" && p.entry.status.code !== "ok",
    );
    expect(degraded.payload.entry.status, JSON.stringify(degraded.payload.entry.status)).toMatchObject({
      code: "degraded",
      severity: "warn",
    });
    expect(degraded.payload.entry.status.aria_hint, "aria says why").toMatch(/t1 restarting/);
    await toState(ev, "t1", ["ready"]);
    const recovered = await ev.next(
      "runtime.health",
      (p) => p.scope === "node" && p.entry.status.code === "ok",
    );
    expect(recovered.payload.entry.runtime.states, "ready again").toEqual({ ready: 1 });
    await ev.close();
  });

  it("takes the node id from ARW_NODE_ID when RMX_NODE_ID is not set", async () => {
    const h = await startDaemon({ config, env: { ARW_NODE_ID: "node-b", RMX_NODE_ID: "" } });
    const ev = await record(h, ["runtime.health"]);
    const node = await ev.next("runtime.health", (p) => p.scope === "node");
    expect(node.payload.entry.target, `target ${node.payload.entry.target}`).toBe("node-b");
    const hello = await (await h.client()).call("daemon.hello");
    expect(hello.node_id, `hello node_id ${hello.node_id}`).toBe("node-b");
    await ev.close();
  });
});
