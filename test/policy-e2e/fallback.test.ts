/**
 * Pins with automatic fallback, with real stub runtimes: a pinned backend killed (restart budget 0, so it
 * stays down) or starting to fail inference moves its users to the next allowed cell with one
 * `policy.fallback` and no request needed; after recovery they come back with `policy.restored` once the
 * pinned cell has been healthy for `policy.restore_after`. With fallback disallowed, the refusal exits 3.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatResult, PolicyView } from "../../ipc/protocol/policy.js";
import { type DaemonHandle, startDaemon, stopAll } from "../support/daemon-harness.js";
import { call, type EventRecorder, recordEvents } from "./support.js";

const RESTORE_AFTER_MS = 800;
let d: DaemonHandle;
let events: EventRecorder;

beforeAll(async () => {
  const config = `
policy: { restore_after: ${RESTORE_AFTER_MS}ms }
defaults:
  health: { interval: 100ms }
runtimes:
  - id: primary
    adapter: llama-stub
    args: ["--alias", "main"]
    auto_start: true
    restart_budget: { max_restarts: 0 }
  - { id: backup, adapter: llama-stub, args: ["--alias", "spare"], auto_start: true }
  - id: flaky
    adapter: llama-stub
    args: ["--alias", "shaky", "--stub-fail-inference-after", "3"]
    auto_start: true
    health: { failure_threshold: 100000, inference: { enabled: true, interval: 100ms, timeout: 2s } }
`;
  d = await startDaemon({ config, ready: ["primary", "backup"] });
  // flaky turns degraded a few probes after it is ready: either state will do here.
  await d.waitForState("flaky", ["ready", "degraded"]);
  events = await recordEvents(d, ["policy.*", "runtime.state.changed"]);
}, 60_000);

afterAll(async () => {
  await events?.close();
  await stopAll();
});

const chat = (agent: string) =>
  call<ChatResult>(d, "chat.respond", { agent, messages: [{ role: "user", content: "hi" }], max_tokens: 3 });

describe("fallback and restore", () => {
  it("moves users off a killed pinned backend without a request, and back after it has recovered", async () => {
    const pinned = await d.cli(["pin", "set", "--agent", "dev", "main@cpu/none", "spare@cpu/none"]);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(await chat("dev")).toMatchObject({ runtime: "primary", fallback: { used: false } });

    const victim = (await d.status()).runtimes.find((r) => r.id === "primary");
    process.kill(victim?.pid as number, "SIGKILL");
    const moved = await events.waitFor("policy.fallback", (p) => p.scope === "agent:dev");
    expect(moved.payload).toMatchObject({ scope: "agent:dev", from: "main@cpu/none", to: "spare@cpu/none" });
    expect(String((moved.payload as { reason: string }).reason)).toMatch(/^(unhealthy|exhausted): /);
    await d.waitForState("primary", ["exhausted"]);

    const served = await chat("dev");
    expect(served).toMatchObject({
      runtime: "backup",
      cell: "spare@cpu/none",
      fallback: { used: true, from: "main@cpu/none" },
    });
    expect(served.fallback.reason).toContain("exhausted");
    const text = await d.cli(["chat", "--agent", "dev", "hi"]);
    expect(text.stdout).toContain("— fallback from main@cpu/none: exhausted:");

    // Recovery: the operator reloads it (a requested change needs no restart budget); users stay on the
    // spare until it has been healthy long enough.
    const reload = await d.cli(["runtime", "reload", "--id", "primary", "--wait"]);
    expect(reload.code, reload.stderr).toBe(0);
    expect(reload.stdout).toContain("primary is ready");
    const readyAt = Date.now();
    const sticky = await chat("dev");
    if (Date.now() - readyAt < RESTORE_AFTER_MS - 100) {
      expect(sticky.runtime).toBe("backup");
      expect(sticky.fallback.reason).toContain("until main@cpu/none has been healthy for 800 ms");
    }
    const back = await events.waitFor("policy.restored", (p) => p.scope === "agent:dev");
    expect(back.payload).toMatchObject({ scope: "agent:dev", from: "spare@cpu/none", to: "main@cpu/none" });
    expect((back.payload as { healthy_for_ms: number }).healthy_for_ms).toBeGreaterThanOrEqual(
      RESTORE_AFTER_MS,
    );
    expect(events.seen("policy.fallback", (p) => p.scope === "agent:dev")).toHaveLength(1);
    expect(await chat("dev")).toMatchObject({ runtime: "primary", fallback: { used: false } });

    const view = await call<PolicyView>(d, "policy.get");
    expect(view.fallback).toContainEqual(
      expect.objectContaining({ scope: "agent:dev", preferred: "main@cpu/none", on_fallback: false }),
    );
  });

  it("moves users off a pinned backend whose inference starts failing", async () => {
    const pinned = await d.cli(["pin", "set", "--agent", "ops", "shaky@*/*", "spare"]);
    expect(pinned.code, pinned.stderr).toBe(0);
    const moved = await events.waitFor("policy.fallback", (p) => p.scope === "agent:ops");
    expect(moved.payload).toMatchObject({ from: "shaky@cpu/none", to: "spare@cpu/none" });
    expect(String((moved.payload as { reason: string }).reason)).toContain("unhealthy");
    const flaky = await d.waitForState("flaky", ["degraded"]);
    expect(flaky.reason).toContain("inference probe failed");
    expect(flaky.restart_budget.used).toBe(0);

    expect(await chat("ops")).toMatchObject({
      runtime: "backup",
      fallback: { used: true, from: "shaky@cpu/none" },
    });
  });

  it("refuses with exit 3 when fallback is not allowed, and explains why", async () => {
    const set = await call<PolicyView>(d, "policy.set", { allow_fallback: false });
    expect(set).toMatchObject({ allow_fallback: false, overridden: true });
    try {
      const r = await d.cli(["chat", "--agent", "ops", "hi"]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain("[NO_ELIGIBLE_CELL]");
      expect(r.stderr).toContain("shaky@cpu/none (runtime flaky): unhealthy");
      expect(r.stderr).toContain("spare@cpu/none (runtime backup): fallback_not_allowed");
      const resolve = await d.cli(["resolve", "--agent", "ops"]);
      expect(resolve.code).toBe(3);
      expect(resolve.stderr).toContain("main@cpu/none (runtime primary): not_pinned");
    } finally {
      await call(d, "policy.set", { allow_fallback: true });
    }
  });
});
