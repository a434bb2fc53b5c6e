import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeMessage, LineDecoder } from "../../ipc/framing.js";

function decodeAll(decoder: LineDecoder, chunks: Buffer[]): { lines: string[]; overflow: boolean } {
  const lines: string[] = [];
  let overflow = false;
  for (const chunk of chunks) {
    const out = decoder.push(chunk);
    lines.push(...out.lines);
    overflow ||= out.overflow;
  }
  return { lines, overflow };
}

/** Cuts a buffer at the given (sorted, deduplicated) offsets. */
function cut(buf: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (buf.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    chunks.push(buf.subarray(last, p));
    last = p;
  }
  chunks.push(buf.subarray(last));
  return chunks;
}

describe("LineDecoder", () => {
  it("splits on newlines, strips one trailing CR, and keeps empty lines", () => {
    const d = new LineDecoder(100);
    expect(d.push(Buffer.from('{"a":1}\r\n\n{"b":2}\nrest'))).toEqual({
      lines: ['{"a":1}', "", '{"b":2}'],
      overflow: false,
    });
    expect(d.buffered).toBe(4);
    expect(d.push(Buffer.from("-of-line\n"))).toEqual({ lines: ["rest-of-line"], overflow: false });
    expect(d.buffered).toBe(0);
  });

  it("reassembles a multi-byte character split across chunks", () => {
    const d = new LineDecoder(100);
    const bytes = Buffer.from("héllo → 世界 🎉\n", "utf8");
    const lines: string[] = [];
    for (let i = 0; i < bytes.length; i += 1) lines.push(...d.push(bytes.subarray(i, i + 1)).lines);
    expect(lines).toEqual(["héllo → 世界 🎉"]);
  });

  it("accepts a line of exactly maxLineBytes, with or without CR, and overflows at one more", () => {
    expect(new LineDecoder(4).push(Buffer.from("abcd\n"))).toEqual({ lines: ["abcd"], overflow: false });
    expect(new LineDecoder(4).push(Buffer.from("abcd\r\n"))).toEqual({ lines: ["abcd"], overflow: false });
    const split = new LineDecoder(4);
    expect(split.push(Buffer.from("abcd\r"))).toEqual({ lines: [], overflow: false });
    expect(split.push(Buffer.from("\n"))).toEqual({ lines: ["abcd"], overflow: false });
    expect(new LineDecoder(4).push(Buffer.from("abcde\n"))).toEqual({ lines: [], overflow: true });
    expect(new LineDecoder(4).push(Buffer.from("abcde"))).toEqual({ lines: [], overflow: true });
    const crThenMore = new LineDecoder(4);
    expect(crThenMore.push(Buffer.from("abcd\r"))).toEqual({ lines: [], overflow: false });
    expect(crThenMore.push(Buffer.from("x"))).toEqual({ lines: [], overflow: true });
  });

  it("returns the complete lines before an overflow, then stays overflowed and holds nothing", () => {
    const d = new LineDecoder(8);
    expect(d.push(Buffer.from("ok\nthis-is-far-too-long"))).toEqual({ lines: ["ok"], overflow: true });
    expect(d.buffered).toBe(0);
    expect(d.push(Buffer.from("fine\n"))).toEqual({ lines: [], overflow: true });
  });

  it("never holds more than maxLineBytes + 1 bytes however the input is chunked", () => {
    const d = new LineDecoder(1000);
    let overflow = false;
    for (let i = 0; i < 200 && !overflow; i += 1) {
      overflow = d.push(Buffer.alloc(7, 0x61)).overflow;
      expect(d.buffered).toBeLessThanOrEqual(1001);
    }
    expect(overflow).toBe(true);
  });

  it("rejects a non-positive limit", () => {
    expect(() => new LineDecoder(0)).toThrow(RangeError);
  });

  it("property: any chunking of any UTF-8 text yields the same lines as a one-shot split", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replace(/\n/g, "")),
          {
            maxLength: 12,
          },
        ),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 10 }),
        (texts, crlf, offsets) => {
          const input = Buffer.from(texts.map((t) => `${t}${crlf ? "\r" : ""}\n`).join(""), "utf8");
          const { lines, overflow } = decodeAll(new LineDecoder(10_000), cut(input, offsets));
          expect(overflow).toBe(false);
          expect(lines).toEqual(texts.map((t) => (crlf || !t.endsWith("\r") ? t : t.slice(0, -1))));
        },
      ),
    );
  });

  it("property: overflow is reported exactly when some line exceeds the limit", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, "")),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (texts, limit, offsets) => {
          const input = Buffer.from(texts.map((t) => `${t}\n`).join(""), "utf8");
          const { lines, overflow } = decodeAll(new LineDecoder(limit), cut(input, offsets));
          const firstLong = texts.findIndex((t) => Buffer.byteLength(t) > limit);
          expect(overflow).toBe(firstLong !== -1);
          expect(lines).toEqual(firstLong === -1 ? texts : texts.slice(0, firstLong));
        },
      ),
    );
  });
});

describe("encodeMessage", () => {
  it("is one JSON document and a newline, with newlines in strings escaped", () => {
    const line = encodeMessage({ jsonrpc: "2.0", method: "x", params: { text: "a\nb" } });
    expect(line.endsWith("\n")).toBe(true);
    expect(line.indexOf("\n")).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual({ jsonrpc: "2.0", method: "x", params: { text: "a\nb" } });
  });
});
