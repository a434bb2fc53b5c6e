import { describe, expect, it } from "vitest";
import { HEAP_SETTLE_MS, settleHeapAfterStart } from "../../daemon/heap-settle.js";

describe("settleHeapAfterStart", () => {
  it("collects once, after the delay, on an unref'd timer", async () => {
    let calls = 0;
    const collected = new Promise<void>((resolve) => {
      settleHeapAfterStart(() => {
        calls += 1;
        resolve();
      }, 1);
    });
    await collected;
    expect(calls).toBe(1);
    expect(HEAP_SETTLE_MS).toBeGreaterThan(0);
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
