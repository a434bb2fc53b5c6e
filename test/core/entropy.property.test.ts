/**
 * rmxd's random bytes, SHA-256 and constant-time compare without node:crypto (base/entropy.ts,
 * base/sha256.ts, base/constant-time.ts), held to node:crypto's own answers.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { equalConstantTime } from "../../base/constant-time.js";
import { randomBase64url, randomBytes, randomHex, randomUnit, randomUUID } from "../../base/entropy.js";
import { sha256Hex } from "../../base/sha256.js";

const nodeSha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("sha256Hex", () => {
  it("gives FIPS 180-4's answers", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("equals node:crypto's at every block boundary", () => {
    for (const length of [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000]) {
      const text = "x".repeat(length);
      expect(sha256Hex(text), `length ${length}`).toBe(nodeSha256(text));
    }
  });

  it("equals node:crypto's for any text, UTF-8 encoded", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        expect(sha256Hex(text)).toBe(nodeSha256(text));
      }),
      { numRuns: 500 },
    );
  });
});

describe("equalConstantTime", () => {
  it("answers as Buffer.equals, and as timingSafeEqual where lengths match", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.boolean(),
        (a, b, same) => {
          const other = same ? Uint8Array.from(a) : b;
          const expected = Buffer.from(a).equals(Buffer.from(other));
          expect(equalConstantTime(a, other)).toBe(expected);
          if (a.length === other.length) expect(timingSafeEqual(a, other)).toBe(expected);
        },
      ),
    );
  });
});

describe("random bytes", () => {
  it("gives the lengths asked for, across pool refills, and never the same bytes twice", () => {
    const seen = new Set<string>();
    for (const n of [4095, 10, 1, 16, 3000, 2000, 4096, 1024, 1025, 32]) {
      const bytes = randomBytes(n);
      expect(bytes.length).toBe(n);
      if (n >= 16) {
        const hex = bytes.toString("hex");
        expect(seen.has(hex), `a draw of ${n} bytes repeated`).toBe(false);
        seen.add(hex);
      }
    }
    // Zeros would mean bytes handed out after the pool wiped them. Small draws come from the pool:
    // 512 of 16 bytes span two refills. 16 random bytes are all zero with a probability of 2^-128.
    const zero = Buffer.alloc(16);
    const zeroDraws = Array.from({ length: 512 }, () => randomBytes(16)).filter((b) => b.equals(zero));
    expect(zeroDraws.length).toBe(0);
  });

  it("formats as the call sites need", () => {
    expect(randomHex(3)).toMatch(/^[0-9a-f]{6}$/);
    expect(randomBase64url(32)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const uuids = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const uuid = randomUUID();
      expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      uuids.add(uuid);
    }
    expect(uuids.size).toBe(200);
    const units = Array.from({ length: 1000 }, randomUnit);
    for (const u of units) {
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
    // Spread over [0, 1): each tenth holds some of 1,000 draws (all but certain: 1 - 10·0.9^1000).
    for (let tenth = 0; tenth < 10; tenth++) {
      expect(
        units.some((u) => Math.floor(u * 10) === tenth),
        `tenth ${tenth}`,
      ).toBe(true);
    }
  });
});
