/**
 * http-lite-parse.ts against node's own parser: the same response bytes (random header casing, chunk
 * extensions, trailers, Content-Length or chunked or read-to-close framing) give the same status and
 * body through node:http as through ResponseParser, however the bytes are split.
 */
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ParseEvent, ResponseParser } from "../../adapters/shared/http-lite-parse.js";

interface Case {
  bytes: Buffer;
  /** The server ends the connection after the bytes (read-to-close framing needs it). */
  close: boolean;
}

let current: Case = { bytes: Buffer.alloc(0), close: true };
let server: net.Server;
let port = 0;

beforeAll(async () => {
  server = net.createServer((socket) => {
    socket.once("data", () => {
      const { bytes, close } = current;
      if (close) socket.end(bytes);
      else socket.write(bytes);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** node:http's reading of the bytes: status and body. */
function nodeReading(c: Case): Promise<{ status: number; body: string }> {
  current = c;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        req.destroy();
      });
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

/** ResponseParser's reading of the bytes fed in `pieces`, then the end of the connection if `close`. */
function liteReading(pieces: Buffer[], close: boolean): { status: number; body: string; keepAlive: boolean } {
  const parser = new ResponseParser(4 * 1024 * 1024);
  let event: ParseEvent = { kind: "more" };
  for (const piece of pieces) {
    event = parser.feed(piece);
    if (event.kind !== "more") break;
  }
  if (event.kind === "more" && close) event = parser.end();
  if (event.kind !== "done" || parser.head === undefined)
    throw new Error(`not done: ${JSON.stringify(event)}`);
  return { status: parser.head.status, body: parser.bodyText(), keepAlive: event.keepAlive };
}

const casing = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((flags) => [...name].map((ch, i) => (flags[i] ? ch.toUpperCase() : ch.toLowerCase())).join(""));

const token = fc.stringMatching(/^[a-z0-9]{1,8}$/);

const responseCase: fc.Arbitrary<Case> = fc
  .record({
    status: fc.constantFrom(200, 201, 400, 401, 404, 500, 501, 503),
    body: fc.oneof(fc.string({ maxLength: 300 }), fc.constant(""), fc.constant('{"status":"ok"}')),
    framing: fc.constantFrom("length", "chunked", "close"),
    contentType: casing("content-type"),
    lengthName: casing("content-length"),
    codingName: casing("transfer-encoding"),
    chunkedValue: casing("chunked"),
    extra: fc.array(fc.tuple(casing("x-extra"), token), { maxLength: 3 }),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 12 }),
    extensions: fc.array(fc.option(fc.tuple(token, fc.option(token)), { nil: undefined }), { maxLength: 12 }),
    trailers: fc.array(fc.tuple(casing("x-trailer"), token), { maxLength: 2 }),
    upperHex: fc.boolean(),
  })
  .map((r) => {
    const body = Buffer.from(r.body, "utf8");
    const head = [`HTTP/1.1 ${r.status} Reason Phrase`, `${r.contentType}: application/json`];
    for (const [name, value] of r.extra) head.push(`${name}: ${value}`);
    let payload: Buffer;
    if (r.framing === "length") {
      head.push(`${r.lengthName}: ${body.length}`);
      payload = body;
    } else if (r.framing === "chunked") {
      head.push(`${r.codingName}: ${r.chunkedValue}`);
      const parts: Buffer[] = [];
      let at = 0;
      let i = 0;
      while (at < body.length) {
        const size = Math.min(r.chunkSizes[i % r.chunkSizes.length] ?? 1, body.length - at);
        const ext = r.extensions[i];
        const extText = ext === undefined ? "" : `;${ext[0]}${ext[1] === null ? "" : `=${ext[1]}`}`;
        const hex = r.upperHex ? size.toString(16).toUpperCase() : size.toString(16);
        parts.push(Buffer.from(`${hex}${extText}\r\n`), body.subarray(at, at + size), Buffer.from("\r\n"));
        at += size;
        i++;
      }
      const trailers = r.trailers.map(([name, value]) => `${name}: ${value}\r\n`).join("");
      parts.push(Buffer.from(`0\r\n${trailers}\r\n`));
      payload = Buffer.concat(parts);
    } else {
      head.push("Connection: close");
      payload = body;
    }
    const bytes = Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), payload]);
    return { bytes, close: r.framing === "close" };
  });

describe("ResponseParser against node's parser", () => {
  it("same status and body, fed whole, split at every byte, and a byte at a time", async () => {
    await fc.assert(
      fc.asyncProperty(responseCase, async (c) => {
        const expected = await nodeReading(c);
        expect(liteReading([c.bytes], c.close)).toMatchObject(expected);
        for (let i = 1; i < c.bytes.length; i++) {
          const split = liteReading([c.bytes.subarray(0, i), c.bytes.subarray(i)], c.close);
          expect(split, `split at ${i}`).toMatchObject(expected);
        }
        const bytewise = [...c.bytes].map((b) => Buffer.from([b]));
        expect(liteReading(bytewise, c.close)).toMatchObject(expected);
      }),
      { numRuns: 60 },
    );
  });

  it("keeps the socket for HTTP/1.1 unless the server says close; HTTP/1.0 only with keep-alive", () => {
    const read = (text: string, close = false) => liteReading([Buffer.from(text)], close);
    expect(read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").keepAlive).toBe(true);
    expect(read("HTTP/1.1 200 OK\r\nconnection: Close\r\nContent-Length: 2\r\n\r\nok").keepAlive).toBe(false);
    expect(read("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").keepAlive).toBe(false);
    expect(read("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok").keepAlive).toBe(
      true,
    );
    // Read to the end of the connection: never reusable.
    expect(read("HTTP/1.1 200 OK\r\n\r\nall of it", true)).toMatchObject({
      body: "all of it",
      keepAlive: false,
    });
    // Bytes after a whole response: never reuse a socket carrying them.
    expect(read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1").keepAlive).toBe(false);
  });

  it("skips 1xx answers, reads no body for 204 and 304", () => {
    const read = (text: string) => liteReading([Buffer.from(text)], false);
    expect(read("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")).toMatchObject(
      {
        status: 200,
        body: "ok",
      },
    );
    expect(read("HTTP/1.1 204 No Content\r\n\r\n")).toMatchObject({ status: 204, body: "", keepAlive: true });
    expect(read("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")).toMatchObject({ status: 304 });
  });

  it("refuses a body over the cap, by Content-Length at once or as chunks arrive", () => {
    const length = new ResponseParser(4).feed(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"));
    expect(length.kind).toBe("too_large");
    const chunked = new ResponseParser(4);
    expect(
      chunked.feed(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")).kind,
    ).toBe("more");
    expect(chunked.feed(Buffer.from("2\r\nde\r\n0\r\n\r\n")).kind).toBe("too_large");
  });

  it("calls a malformed answer invalid: status line, header line, chunk size, oversized head", () => {
    const feed = (text: string) => new ResponseParser(1024).feed(Buffer.from(text));
    expect(feed("HTTP/2 200 OK\r\n\r\n")).toMatchObject({ kind: "invalid" });
    expect(feed("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")).toMatchObject({ kind: "invalid" });
    expect(feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")).toMatchObject({
      kind: "invalid",
    });
    expect(feed(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(17 * 1024)}`)).toMatchObject({ kind: "invalid" });
  });
});
