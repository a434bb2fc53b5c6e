import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import {
  type CollectOptions,
  HEAP_SETTLE_MS,
  settleCollection,
  settleHeapAfterStart,
} from "../../daemon/heap-settle.js";

const run = promisify(execFile);

describe("settleHeapAfterStart", () => {
  it("collects once, after the delay, on an unref'd timer", async () => {
    const calls: (CollectOptions | undefined)[] = [];
    const options: CollectOptions = { type: "major", execution: "sync", flavor: "last-resort" };
    await new Promise<void>((resolve) => {
      settleHeapAfterStart(
        (given) => {
          calls.push(given);
          resolve();
        },
        1,
        options,
      );
    });
    expect(calls).toEqual([options]);
    expect(HEAP_SETTLE_MS).toBeGreaterThan(0);
  });

  it("without options it calls a plain gc(), with no argument at all", async () => {
    const argCounts: number[] = [];
    await new Promise<void>((resolve) => {
      settleHeapAfterStart(
        (...args: unknown[]) => {
          argCounts.push(args.length);
          resolve();
        },
        1,
        null,
      );
    });
    expect(argCounts).toEqual([0]);
  });

  it("a cancel before the delay means no collection", async () => {
    let calls = 0;
    const cancel = settleHeapAfterStart(() => {
      calls += 1;
    }, 5);
    cancel?.();
    // A timer of the same length set after it fires after the cancelled one would have.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(calls).toBe(0);
  });

  it("without gc (a bare `node rmxd.cjs`) it schedules nothing", () => {
    expect(settleHeapAfterStart(undefined)).toBeUndefined();
    const cancel = settleHeapAfterStart(() => undefined, 60_000);
    expect(cancel).toBeTypeOf("function");
    cancel?.();
  });
});

describe("settleCollection", () => {
  it("is the memory-reducing flavor from V8 13 (Node 24), a plain gc() before", () => {
    expect(settleCollection("11.3.244.8-node.38")).toBeNull();
    expect(settleCollection("12.4.254.21-node.33")).toBeNull();
    expect(settleCollection("13.6.233.17-node.37")).toEqual({
      type: "major",
      execution: "sync",
      flavor: "last-resort",
    });
    expect(settleCollection("14.1.0")).toEqual(settleCollection("13.0.0"));
  });

  // A real heap in a child node: 200,000 objects promoted to old space, seven in eight then dropped, so
  // every old-space page is mostly empty. The collection the daemon makes on this node must not leave
  // old space bigger than it was, and on V8 13 it must give most of those pages back (a plain gc()
  // keeps them all there: the reason for the flavor).
  it("on this node, the daemon's collection gives a sparse old space back", async () => {
    const options = settleCollection();
    const script = `
      const v8 = require("node:v8");
      const old = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space").physical_space_size;
      let keep = [];
      for (let i = 0; i < 200000; i++) keep.push({ i, s: "x" + i });
      gc();
      keep = keep.filter((_, i) => i % 8 === 0);
      const before = old();
      const options = JSON.parse(process.argv[1]);
      if (options === null) gc(); else gc(options);
      process.stdout.write(JSON.stringify({ before, after: old(), kept: keep.length }));
    `;
    const { stdout } = await run(process.execPath, ["--expose-gc", "-e", script, JSON.stringify(options)]);
    const { before, after, kept } = JSON.parse(stdout) as { before: number; after: number; kept: number };
    expect(kept).toBe(25_000);
    expect(after).toBeLessThanOrEqual(before);
    if (options !== null) expect(after).toBeLessThan(before / 2);
  });
});
