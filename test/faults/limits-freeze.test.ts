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

describe("patterns and files that used to freeze the daemon", { timeout: 60_000 }, () => {
  it("refuses an over-limit topic pattern and matches the worst allowed one in linear time", async () => {
    const h = await startFaultDaemon({ config: configText({ runtimes: [stubRuntime("a")] }) });
    const attacker = await h.client();
    const other = await h.client();
    const refused = await rpcError(
      withTimeout(attacker.call("events.subscribe", { topics: [EVIL] }), 5_000, "events.subscribe"),
    );
    expect(refused.stableCode).toBe("PATTERN_INVALID");
    expect(refused.message).toMatch(/40 '\*' wildcards \(limit 16\)/);
    // The worst pattern within the limits, then events to match against it: the daemon keeps answering.
    await attacker.call("events.subscribe", { topics: [WORST_ALLOWED, `${"a*".repeat(16)}`] });
    await withTimeout(attacker.call("runtime.start", { id: "a", wait: true }), 20_000, "runtime.start");
    const max = await maxRoundTripMs(other);
    report("topic pattern", { refused: refused.stableCode, max_round_trip_ms: max });
    expect(max).toBeLessThan(ROUND_TRIP_BOUND_MS);
  });

  it("refuses an over-limit pin at once, and drops one found in the state file with a warning", async () => {
    const dir = await faultDir();
    const config = configText({ runtimes: [stubRuntime("a")] });
    const h = await startFaultDaemon({ config, dir });
    const client = await h.client();
    const refused = await rpcError(
      withTimeout(client.call("pin.set", { agent: "x", patterns: [EVIL] }), 5_000, "pin.set"),
    );
    expect(refused.stableCode).toBe("CONFIG_INVALID");
    expect(refused.message).toMatch(/limit 16/);
    await client.call("pin.set", { agent: "y", patterns: [WORST_ALLOWED] });
    expect(await maxRoundTripMs(await h.client())).toBeLessThan(ROUND_TRIP_BOUND_MS);
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
    report("pin pattern", { refused: refused.stableCode, restarted: true, max_round_trip_ms: max });
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
