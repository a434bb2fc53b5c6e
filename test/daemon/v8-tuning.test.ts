/**
 * daemon/v8-tuning.ts keeps V8's young generation at its initial size: measured in a child process (the
 * flag is process-wide) that allocates short-lived objects, with the tuning and with RMX_V8_GROWTH=default.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { memoryReducerFlag } from "../../daemon/v8-tuning.js";
import { REPO } from "../support/daemon-harness.js";

const TUNING = path.join(REPO, "dist/daemon/v8-tuning.js");
const CHURN = `
await import(${JSON.stringify(TUNING)});
const v8 = await import("node:v8");
let keep = [];
// Enough garbage, some of it surviving a scavenge or two, for V8 to grow new space if it may.
for (let round = 0; round < 400; round++) {
  const batch = [];
  for (let i = 0; i < 2000; i++) batch.push({ i, s: "x" + i });
  keep.push(batch);
  if (keep.length > 40) keep = [];
}
const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
process.stdout.write(String(space.space_size));
`;

function newSpaceAfterChurn(env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", CHURN],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, out) => (error ? reject(error) : resolve(Number(out))),
    );
  });
}

describe("daemon V8 tuning", () => {
  it("new space stays small under churn (1-2 MiB on V8 11-12, under half of the default's on V8 13); V8's default lets it grow", async () => {
    const tuned = await newSpaceAfterChurn({ RMX_V8_GROWTH: "" });
    const untuned = await newSpaceAfterChurn({ RMX_V8_GROWTH: "default" });
    // V8 13 (Node 24) still resizes the young generation by its survival rate: 2-8 MiB in this churn
    // (16 runs), against 32 MiB with the default growth.
    if (Number.parseInt(process.versions.v8, 10) >= 13) expect(tuned).toBeLessThan(untuned / 2);
    else expect(tuned).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(untuned).toBeGreaterThan(tuned);
  });

  it("the memory reducer runs one GC, under the flag's name in each V8; this V8 takes every flag", async () => {
    expect(memoryReducerFlag("11.3.244.8-node.33")).toBe("--memory-reducer-single-gc");
    expect(memoryReducerFlag("12.4.254.21-node.33")).toBe("--memory-reducer-single-gc");
    expect(memoryReducerFlag("13.6.233.17-node.27")).toBe("--memory-reducer-gc-count=1");
    // V8 reports a flag it does not know on stderr ("Error: unrecognized flag …") and goes on.
    const stderr = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ["--input-type=module", "-e", `await import(${JSON.stringify(TUNING)});`],
        { env: { ...process.env, RMX_V8_GROWTH: "" }, timeout: 60_000 },
        (error, _out, err) => (error ? reject(error) : resolve(err)),
      );
    });
    expect(stderr).toBe("");
  });
});
