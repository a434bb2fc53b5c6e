/**
 * Runtime ids that are also names on Object.prototype (`constructor`, `toString`, `hasOwnProperty`) used to
 * never start: state indexed by id in plain objects found the prototype's function instead of nothing.
 * They start and report ready; `__proto__` is not a valid id (ids start alphanumeric) and is refused clearly.
 */
import { afterEach, describe, expect, it } from "vitest";
import { stopAll } from "../support/daemon-harness.js";
import { configText, removeDaemonDirs, report, startFaultDaemon, stubRuntime } from "./fault-support.js";

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

const IDS = ["constructor", "toString", "hasOwnProperty", "valueOf"];

describe("runtime ids named like Object.prototype members", { timeout: 90_000 }, () => {
  it("start, report ready, stop and start again across a daemon restart", async () => {
    const config = configText({ runtimes: IDS.map((id) => stubRuntime(id, [], { auto_start: true })) });
    const h = await startFaultDaemon({ config, ready: IDS, timeoutMs: 30_000 });
    const status = await h.status();
    const ready = status.runtimes.filter((r) => r.state === "ready").map((r) => r.id);
    report("prototype ids", { ready: ready.length, of: IDS.length });
    expect(ready.sort()).toEqual([...IDS].sort());
    const client = await h.client();
    await client.call("runtime.stop", { id: "constructor", wait: true });
    await client.call("runtime.start", { id: "constructor", wait: true });
    expect((await h.waitForState("constructor", ["ready"])).state).toBe("ready");
    // The persisted state (keyed by id) reads back: a second daemon on the same dir starts them too.
    const dir = h.dir;
    await h.stop();
    const again = await startFaultDaemon({ config, dir, ready: IDS, timeoutMs: 30_000 });
    expect((await again.status()).runtimes.every((r) => r.state === "ready")).toBe(true);
  });

  it("refuses __proto__ as an id with the position and the rule", async () => {
    const config = configText({ runtimes: [stubRuntime("__proto__")] });
    await expect(startFaultDaemon({ config, timeoutMs: 10_000 })).rejects.toThrow(
      /runtimes\[0\]\.id: expected an id \(letters, digits, '\.', '_', '-'; at most 63; starting alphanumeric\), got "__proto__"/,
    );
  });
});
