/**
 * Work a client could make unbounded: 150 pipelined `hardware.get {refresh:true}` used to start 151
 * nvidia-smi at once; `runtime.logs {lines:1}` on a newline-free 100 MB log answered 42 MB. Now heavy
 * probes coalesce to one in flight and log tails are read backwards under a byte cap, long lines cut with
 * a marker. Another client's round trip stays under 100 ms throughout.
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TAIL_MAX_LINE_BYTES } from "../../daemon/process/logs.js";
import { stopAll } from "../support/daemon-harness.js";
import {
  configText,
  faultDir,
  MiB,
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

const INVENTORY = "0, NVIDIA GeForce RTX 3090, 24576, 00000000:01:00.0, 550.54.14";
const SAMPLE = "0, 37, 1024, 24576, 61";

/** An nvidia-smi that takes 300 ms (so concurrent callers overlap) and logs each run to calls.log. */
async function slowFakeNvidiaSmi(dir: string): Promise<string> {
  const log = path.join(dir, "calls.log");
  await fs.writeFile(
    path.join(dir, "nvidia-smi"),
    [
      "#!/bin/sh",
      `echo "$@" >> '${log}'`,
      "sleep 0.3",
      'case "$*" in',
      `  *utilization.gpu*) echo '${SAMPLE}' ;;`,
      `  *) echo '${INVENTORY}' ;;`,
      "esac",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return log;
}

async function lineCount(file: string): Promise<number> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "").length;
}

describe("work a client could make unbounded", { timeout: 120_000 }, () => {
  it("150 concurrent hardware refreshes share one nvidia-smi", async () => {
    const bin = await faultDir();
    const calls = await slowFakeNvidiaSmi(bin);
    const h = await startFaultDaemon({
      config: configText({ runtimes: [stubRuntime("a")], telemetry: { sample_interval: "1h" } }),
      env: { PATH: `${bin}:${process.env.PATH}` },
    });
    const attacker = await h.client();
    const other = await h.client();
    await attacker.call("hardware.get", { refresh: false });
    const before = await lineCount(calls);
    const refreshes = Array.from({ length: 150 }, () => attacker.call("hardware.get", { refresh: true }));
    const max = await maxRoundTripMs(other);
    const answers = await withTimeout(Promise.all(refreshes), 60_000, "150 refreshes");
    const started = (await lineCount(calls)) - before;
    report("hardware refresh", {
      requests: answers.length,
      nvidia_smi_runs: started,
      max_round_trip_ms: max,
    });
    expect(answers.every((a) => (a as { inventory: { gpus: unknown[] } }).inventory.gpus.length === 1)).toBe(
      true,
    );
    // One inventory query and one sample, plus slack for refreshes that arrive after the first settled.
    expect(started).toBeLessThanOrEqual(6);
    expect(max).toBeLessThan(ROUND_TRIP_BOUND_MS);
  });

  it("runtime.logs {lines:1} on a newline-free 100 MB log answers one capped line", async () => {
    const dir = await faultDir();
    const logs = path.join(dir, "state", "logs");
    await fs.mkdir(logs, { recursive: true, mode: 0o700 });
    const out = createWriteStream(path.join(logs, "a.log"), { mode: 0o600 });
    const block = Buffer.alloc(MiB, "z");
    for (let i = 0; i < 100; i++) if (!out.write(block)) await once(out, "drain");
    out.end();
    await once(out, "finish");
    const h = await startFaultDaemon({
      dir,
      config: configText({ runtimes: [stubRuntime("a", [], { logs: { max_bytes: "1GB", files: 1 } })] }),
    });
    const attacker = await h.client();
    const other = await h.client();
    const pending = Promise.all(
      Array.from({ length: 10 }, () => attacker.call("runtime.logs", { id: "a", lines: 1 })),
    );
    const max = await maxRoundTripMs(other);
    const answers = (await withTimeout(pending, 30_000, "runtime.logs")) as { lines: string[] }[];
    const answer = answers[0] as { lines: string[] };
    const bytes = Buffer.byteLength(JSON.stringify(answer));
    report("log tail", { answer_bytes: bytes, max_round_trip_ms: max });
    expect(answer.lines).toHaveLength(1);
    expect(answer.lines[0]).toMatch(/^\[rmx\] line cut: at least \d+ earlier bytes not read …z+$/);
    expect(bytes).toBeLessThan(TAIL_MAX_LINE_BYTES + 1024);
    expect(max).toBeLessThan(ROUND_TRIP_BOUND_MS);
  });
});
