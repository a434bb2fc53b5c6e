/**
 * base/crc32.ts equals node:zlib's crc32 (which the spawn journal used before) for any string, including
 * astral and lone-surrogate code points, and any bytes; and the check value of the standard.
 */
import zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../base/crc32.js";

const zlibCrc = (zlib as unknown as { crc32?: (d: string | Uint8Array) => number }).crc32;

describe("crc32", () => {
  it("the standard's check value: CRC-32 of '123456789' is cbf43926", () => {
    expect(crc32("123456789").toString(16)).toBe("cbf43926");
    expect(crc32("")).toBe(0);
  });

  it.skipIf(zlibCrc === undefined)("equals zlib.crc32 for any string and any bytes", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => crc32(s) === zlibCrc?.(s)));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => crc32(b) === zlibCrc?.(b)));
  });
});
