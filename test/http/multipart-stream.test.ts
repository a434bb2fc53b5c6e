/**
 * The streaming multipart parser: properties over random forms (binary files with CRLFs and dashes, text
 * fields) cut into random chunks, against the whisper adapter's builder; every strict prefix is a truncated
 * body; the caps refuse as soon as they are crossed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildMultipart, type FormField } from "../../adapters/whisper-cpp/multipart.js";
import { boundaryOf, MultipartError, MultipartParser } from "../../daemon/http/multipart-stream.js";

const bytes = fc
  .array(fc.constantFrom(0x0d, 0x0a, 0x2d, 0x61, 0x00, 0xff, 0x20), { maxLength: 300 })
  .map((a) => Buffer.from(a));
const field: fc.Arbitrary<FormField> = fc.oneof(
  fc.record({ name: fc.stringMatching(/^[a-z_]{1,12}$/), value: fc.string({ maxLength: 80 }) }),
  fc.record({
    name: fc.stringMatching(/^[a-z_]{1,12}$/),
    filename: fc.stringMatching(/^[a-z0-9. -]{1,20}$/),
    data: bytes,
  }),
);

function cutAt(body: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(body.subarray(at, p));
    at = p;
  }
  out.push(body.subarray(at));
  return out;
}

const LIMITS = { maxBytes: 1 << 20, maxFieldBytes: 1 << 16 };

function parse(contentType: string, chunks: Buffer[], limits = LIMITS) {
  const p = new MultipartParser(boundaryOf(contentType) as string, limits);
  for (const c of chunks) p.push(c);
  return p.end();
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return "ok";
  } catch (error) {
    if (error instanceof MultipartError) return error.code;
    throw error;
  }
};

describe("MultipartParser", () => {
  it("parses any form cut into any chunks exactly as built", () => {
    fc.assert(
      fc.property(
        fc.array(field, { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (fields, cuts) => {
          const form = buildMultipart(fields);
          const parts = parse(form.contentType, cutAt(form.body, cuts));
          expect(parts.map((p) => p.name)).toEqual(fields.map((f) => f.name));
          fields.forEach((f, i) => {
            const part = parts[i];
            if ("data" in f) {
              expect(part?.filename).toBe(f.filename);
              expect(part?.data.equals(f.data)).toBe(true);
            } else {
              expect(part?.filename).toBeUndefined();
              expect(part?.data.toString("utf8")).toBe(f.value);
            }
          });
        },
      ),
    );
  });

  it("every strict prefix of a form is a truncated body", () => {
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 4 }), fc.nat(), (fields, n) => {
        const form = buildMultipart(fields);
        // The body ends with the closing `--boundary--` and a CRLF; any cut before its `--` is truncated.
        const end = form.body.length - 4;
        const prefix = form.body.subarray(0, n % end);
        expect(codeOf(() => parse(form.contentType, [prefix]))).toBe("truncated_body");
      }),
    );
  });

  it("refuses a text field over its cap and a body over the upload cap, while they arrive", () => {
    const form = buildMultipart([
      { name: "model", value: "asr" },
      { name: "prompt", value: "x".repeat(2000) },
    ]);
    expect(
      codeOf(() => parse(form.contentType, [form.body], { maxBytes: 1 << 20, maxFieldBytes: 1000 })),
    ).toBe("field_too_large");
    const file = buildMultipart([{ name: "file", filename: "a.wav", data: Buffer.alloc(5000) }]);
    // A file part is bounded only by the upload cap.
    expect(codeOf(() => parse(file.contentType, [file.body], { maxBytes: 1 << 20, maxFieldBytes: 10 }))).toBe(
      "ok",
    );
    const p = new MultipartParser(boundaryOf(file.contentType) as string, {
      maxBytes: 4096,
      maxFieldBytes: 10,
    });
    p.push(file.body.subarray(0, 4000));
    expect(codeOf(() => p.push(file.body.subarray(4000, 5000)))).toBe("upload_too_large");
  });

  it("reads the boundary from the Content-Type, quoted or bare, and refuses other types", () => {
    expect(boundaryOf("multipart/form-data; boundary=abc")).toBe("abc");
    expect(boundaryOf('Multipart/Form-Data; charset=utf-8; boundary="a b;c"')).toBe("a b;c");
    expect(boundaryOf("multipart/form-data")).toBeUndefined();
    expect(boundaryOf("application/json; boundary=abc")).toBeUndefined();
    expect(boundaryOf(undefined)).toBeUndefined();
  });

  it("refuses a part without a form-data name, and ignores the preamble and epilogue", () => {
    const noName = Buffer.from("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n");
    expect(codeOf(() => parse("multipart/form-data; boundary=b", [noName]))).toBe("malformed_multipart");
    const framed = Buffer.from(
      'preamble\r\n--b\r\nContent-Disposition: form-data; name="m"\r\n\r\nasr\r\n--b--\r\nepilogue',
    );
    const parts = parse("multipart/form-data; boundary=b", [framed]);
    expect(parts.map((x) => [x.name, x.data.toString()])).toEqual([["m", "asr"]]);
    const escaped = Buffer.from(
      '--b\r\nContent-Disposition: form-data; name="file"; filename="a \\"q\\".wav"\r\n\r\nxy\r\n--b--',
    );
    expect(parse("multipart/form-data; boundary=b", [escaped])[0]?.filename).toBe('a "q".wav');
  });
});
