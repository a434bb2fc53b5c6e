/** The compose's LeaseBook is built once per synchronous turn, and afresh in the next one. */
import { describe, expect, it } from "vitest";
import { LeaseBook } from "../../daemon/policy/candidates.js";
import { LeaseBookMemo } from "../../daemon/policy/lease-book-memo.js";

describe("LeaseBookMemo", () => {
  it("one build for every cell of a compose; a new one after the turn; leases read live", async () => {
    let builds = 0;
    const held = new Map<string, number>();
    const memo = new LeaseBookMemo(() => {
      builds++;
      return new LeaseBook([], (t) => held.get(t) ?? 0);
    });
    const first = memo.get();
    for (let cell = 0; cell < 50; cell++) expect(memo.get()).toBe(first);
    expect(builds).toBe(1);
    held.set("cell", 2);
    expect(first.cellHeld("cell"), "held leases are read live").toBe(2);
    await Promise.resolve();
    expect(memo.get()).not.toBe(first);
    expect(builds).toBe(2);
  });
});
