/**
 * Inputs that used to freeze rmxd: a topic pattern that compiled to a backtracking regex (`*` × 40 + `x`),
 * the same as a pin (never answered, persisted, so every later start froze too), and FIFOs given to
 * `models.inspect` (each blocked one of libuv's four threadpool threads: logs, state writes and shutdown
 * hung). Now patterns are matched in linear time within stated limits, FIFOs are refused before any read,
 * and throughout another client's round trip stays under 100 ms.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RpcCallError } from "../../ipc/client.js";
import { stopAll } from "../support/daemon-harness.js";
import {
  configText,
  faultDir,
  removeDaemonDirs,
  report,
  startFaultDaemon,
  stubRuntime,
} from "./fault-support.js";
import { maxRoundTripMs, ROUND_TRIP_BOUND_MS, withTimeout } from "./limits-support.js";

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

const EVIL = `${"*".repeat(40)}x`;
/** As adversarial as the limits allow: 16 stars and a tail that never matches. */
const WORST_ALLOWED = `${"*a".repeat(15)}*x`;

async function rpcError(call: Promise<unknown>): Promise<RpcCallError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof RpcCallError) return error;
    throw error;
  }
  throw new Error("expected the call to be refused");
}

/** What became of a call: its stable error code, "accepted", or the timeout/transport error text. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "accepted";
  } catch (error) {
    if (error instanceof RpcCallError) return error.stableCode ?? String(error.code);
    return error instanceof Error ? error.message : String(error);
  }
}

/** The max round trip, or the reason there was none (on the old code: the daemon stopped answering). */
async function probe(client: Parameters<typeof maxRoundTripMs>[0]): Promise<number | string> {
  try {
    return await maxRoundTripMs(client);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe("patterns and files that used to freeze the daemon", { timeout: 60_000 }, () => {
  it("refuses an over-limit topic pattern and matches the worst allowed one in linear time", async () => {
    const h = await startFaultDaemon({ config: configText({ runtimes: [stubRuntime("a")] }) });
    const attacker = await h.client();
    const other = await h.client();
    // Before the fix the subscription was accepted and the first published event froze the daemon.
    const evil = await outcome(
      withTimeout(attacker.call("events.subscribe", { topics: [EVIL] }), 5_000, "events.subscribe"),
    );
    // The worst pattern within the limits, then events to match against it: the daemon keeps answering.
    const worst = await outcome(
      attacker.call("events.subscribe", { topics: [WORST_ALLOWED, `${"a*".repeat(16)}`] }),
    );
    void attacker.call("runtime.start", { id: "a", wait: true }).catch(() => {});
    const max = await probe(other);
    report("topic pattern", { over_limit: evil, worst_allowed: worst, max_round_trip_ms: max });
    expect(evil).toBe("PATTERN_INVALID");
    expect(worst).toBe("accepted");
    expect(max).toBeLessThan(ROUND_TRIP_BOUND_MS);
    const refused = await rpcError(attacker.call("events.subscribe", { topics: [EVIL] }));
    expect(refused.message).toMatch(/40 '\*' wildcards \(limit 16\)/);
    expect((await h.waitForState("a", ["ready"])).state).toBe("ready");
  });

  it("refuses an over-limit pin at once, and drops one found in the state file with a warning", async () => {
    const dir = await faultDir();
    const config = configText({ runtimes: [stubRuntime("a")] });
    const h = await startFaultDaemon({ config, dir });
    const client = await h.client();
    // Before the fix this never answered, and the pin was persisted.
    const evil = await outcome(
      withTimeout(client.call("pin.set", { agent: "x", patterns: [EVIL] }), 5_000, "pin.set"),
    );
    const first = await probe(await h.client());
    report("pin pattern (set)", { over_limit: evil, max_round_trip_ms: first });
    expect(evil).toBe("CONFIG_INVALID");
    expect(first).toBeLessThan(ROUND_TRIP_BOUND_MS);
    const refused = await rpcError(client.call("pin.set", { agent: "x", patterns: [EVIL] }));
    expect(refused.message).toMatch(/limit 16/);
    await client.call("pin.set", { agent: "y", patterns: [WORST_ALLOWED] });
    await h.stop();

    // A state file written by an older daemon (or by hand) with the freezing pin.
    const stateFile = path.join(h.stateDir, "state.json");
    const state = JSON.parse(await fs.readFile(stateFile, "utf8"));
    state.pins.push({ scope: "agent:z", agent: "z", patterns: [EVIL], set_at: state.pins[0].set_at });
    await fs.writeFile(stateFile, JSON.stringify(state));
    const again = await startFaultDaemon({ config, dir, timeoutMs: 10_000 });
    const pins = (await (await again.client()).call("pin.list", {})) as { pins: { scope: string }[] };
    expect(pins.pins.map((p) => p.scope)).toEqual(["agent:y"]);
    expect(again.stderr()).toMatch(/ignoring an unreadable stored pin/);
    const max = await maxRoundTripMs(await again.client());
    report("pin pattern (restart)", { dropped: "agent:z", max_round_trip_ms: max });
    expect(max).toBeLessThan(ROUND_TRIP_BOUND_MS);
  });

  it("refuses FIFOs and directories given to models.inspect without blocking a thread", async () => {
    const dir = await faultDir();
    const fifos = Array.from({ length: 8 }, (_, i) => path.join(dir, `pipe-${i}.gguf`));
    for (const fifo of fifos) execFileSync("mkfifo", [fifo]);
    const h = await startFaultDaemon({ config: configText({ runtimes: [stubRuntime("a")] }) });
    const attacker = await h.client();
    const other = await h.client();
    const errors = await Promise.all(
      fifos.map((p) =>
        rpcError(withTimeout(attacker.call("models.inspect", { path: p }), 5_000, "models.inspect")),
      ),
    );
    for (const [i, error] of errors.entries()) {
      expect(error.stableCode).toBe("MODEL_INVALID");
      expect(error.message).toBe(
        `model file ${fifos[i]} is a FIFO (named pipe), not a regular file; point it at a .gguf file`,
      );
    }
    const asDir = await rpcError(attacker.call("models.inspect", { path: dir }));
    expect(asDir.message).toContain(`model file ${dir} is a directory`);
    const max = await maxRoundTripMs(other);
    // File work still runs: a runtime starts (logs, state writes) and the daemon shuts down cleanly.
    await withTimeout(attacker.call("runtime.start", { id: "a", wait: true }), 20_000, "runtime.start");
    const exit = await withTimeout(h.stop(), 15_000, "shutdown");
    report("fifo inspect", { refused: errors.length, max_round_trip_ms: max, exit: exit.code });
    expect(max).toBeLessThan(ROUND_TRIP_BOUND_MS);
    expect(exit.code).toBe(0);
  });
});
