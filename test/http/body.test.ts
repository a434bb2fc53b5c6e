/**
 * readBody over a real socket: a whole body, one that comes in pieces with the server waiting between
 * them, one that stalls (408 after the idle time), one over the limit (413); readBodyThen's callback for
 * a body that came with its headers runs at its last chunk, before the request's `end`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type BodyResult, readBody, readBodyThen } from "../../daemon/http/body.js";

let server: http.Server;
let port: number;
let results: ((r: BodyResult) => void)[];
let chunkSeen: (() => void)[];

const IDLE_MS = 300;
const MAX = 1000;

beforeEach(async () => {
  results = [];
  chunkSeen = [];
  server = http.createServer((req, res) => {
    req.on("data", () => chunkSeen.shift()?.());
    void readBody(req, MAX, IDLE_MS).then((r) => {
      results.shift()?.(r);
      res.end(r.ok ? "ok" : String(r.error.status));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const nextResult = () => new Promise<BodyResult>((resolve) => results.push(resolve));
const nextChunk = () => new Promise<void>((resolve) => chunkSeen.push(resolve));

function open(length: number): net.Socket {
  const socket = net.connect(port, "127.0.0.1");
  socket.write(`POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${length}\r\n\r\n`);
  return socket;
}

describe("readBody", () => {
  it("reads a body sent whole with its headers", async () => {
    const result = nextResult();
    const socket = open(5);
    socket.write("hello");
    const r = await result;
    socket.destroy();
    expect(r.ok && r.body.toString()).toBe("hello");
  });

  it("reads a body that comes in pieces, the server seeing each before the next is sent", async () => {
    const result = nextResult();
    const socket = open(9);
    const first = nextChunk();
    socket.write("abc");
    await first;
    const second = nextChunk();
    socket.write("def");
    await second;
    socket.write("ghi");
    const r = await result;
    socket.destroy();
    expect(r.ok && r.body.toString()).toBe("abcdefghi");
  });

  it("answers 408 body_timeout when the body stalls, after at least the idle time", async () => {
    const result = nextResult();
    const socket = open(10);
    const first = nextChunk();
    socket.write("abc");
    await first;
    const at = performance.now();
    const r = await result;
    socket.destroy();
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.status, r.error.code]).toEqual([408, "body_timeout"]);
    // Never earlier than the idle time since the last chunk (one timer per body sleeps again for the rest).
    expect(performance.now() - at).toBeGreaterThanOrEqual(IDLE_MS - 5);
  });

  it("answers 413 as soon as the bytes pass the limit", async () => {
    const result = nextResult();
    const socket = open(MAX * 2);
    socket.write("x".repeat(MAX + 1));
    const r = await result;
    socket.destroy();
    expect(!r.ok && r.error.status).toBe(413);
  });
});

describe("readBodyThen", () => {
  /** One request to a server reading its body with readBodyThen; what the callback saw. */
  async function readWith(
    write: (socket: net.Socket) => void,
    maxBytes = MAX,
  ): Promise<{ result: BodyResult; ended: boolean; sync: boolean }> {
    let seen!: (s: { result: BodyResult; ended: boolean; sync: boolean }) => void;
    const got = new Promise<{ result: BodyResult; ended: boolean; sync: boolean }>((resolve) => {
      seen = resolve;
    });
    const own = http.createServer((req, res) => {
      let returned = false;
      readBodyThen(req, maxBytes, IDLE_MS, (result) => {
        seen({ result, ended: req.readableEnded, sync: !returned });
        res.end("ok");
      });
      returned = true;
    });
    await new Promise<void>((resolve) => own.listen(0, "127.0.0.1", resolve));
    const socket = net.connect((own.address() as AddressInfo).port, "127.0.0.1");
    write(socket);
    const r = await got;
    socket.destroy();
    own.closeAllConnections();
    await new Promise((resolve) => own.close(resolve));
    return r;
  }

  it("reads a body that came with its headers at its last chunk, before the request's end", async () => {
    const r = await readWith((s) => s.write("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"));
    expect(r.result.ok && r.result.body.toString()).toBe("hello");
    expect(r.ended).toBe(false);
  });

  it("reads a chunked body in pieces whole", async () => {
    const r = await readWith((s) =>
      s.write(
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
      ),
    );
    expect(r.result.ok && r.result.body.toString()).toBe("abcdef");
  });

  it("refuses a declared length over the limit at once, in the call itself", async () => {
    const r = await readWith((s) =>
      s.write(`POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${MAX + 1}\r\n\r\n`),
    );
    expect(!r.result.ok && r.result.error.status).toBe(413);
    expect(r.sync).toBe(true);
  });
});
