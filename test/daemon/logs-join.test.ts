/** The seam of `runtime.logs --follow`: the disk tail and the lines followed meanwhile join without loss or repeat. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { joinTailAndFollowed } from "../../daemon/rpc/methods.js";

describe("joinTailAndFollowed", () => {
  it("drops the lines both hold", () => {
    expect(joinTailAndFollowed(["a", "b", "c"], ["b", "c", "d"])).toEqual(["a", "b", "c", "d"]);
    expect(joinTailAndFollowed(["a", "b"], ["c"])).toEqual(["a", "b", "c"]);
    expect(joinTailAndFollowed([], ["c"])).toEqual(["c"]);
    expect(joinTailAndFollowed(["a"], [])).toEqual(["a"]);
  });

  it("treats a partial last tail line as the start of the followed line", () => {
    expect(joinTailAndFollowed(["a", "line 4"], ["line 47", "line 48"])).toEqual(["a", "line 47", "line 48"]);
  });

  it("property: any split of a numbered stream with any overlap joins back to the stream", () => {
    fc.assert(
      fc.property(fc.nat(40), fc.nat(40), fc.nat(40), (tailLen, overlap, extra) => {
        const stream = Array.from({ length: tailLen + extra }, (_, i) => `line ${i}`);
        const tail = stream.slice(0, tailLen);
        const followed = stream.slice(Math.max(0, tailLen - Math.min(overlap, tailLen)));
        expect(joinTailAndFollowed(tail, followed)).toEqual(stream);
      }),
    );
  });
});
