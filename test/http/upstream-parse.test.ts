/**
 * The lean upstream client's parse and streaming: for random answers (chunked with random chunk sizes,
 * extensions and trailers; Content-Length; close-delimited), split anywhere, the streaming parser hands
 * on exactly the body, and a real gateway forwarding over the lean client gives its client exactly the
 * status, content type and bytes node's own client reads from the same backend.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type ParsedHead, ResponseParser } from "../../adapters/shared/http-lite-parse.js";
import { closeUpstreamPools } from "../../daemon/http/upstream-pool.js";
import { miniGateway, post, rawBackend, targetOf } from "./upstream-support.js";

interface Answer {
  bytes: Buffer;
  status: number;
  body: Buffer;
  framing: "length" | "chunked" | "close";
}

const answerArb: fc.Arbitrary<Answer> = fc
  .record({
    framing: fc.constantFrom("length", "chunked", "close"),
    status: fc.constantFrom(200, 201, 202),
    body: fc.uint8Array({ maxLength: 3000 }),
    cuts: fc.array(fc.nat(3000), { maxLength: 8 }),
    ext: fc.array(fc.constantFrom("", ";a=b", ";x", ';q="v"'), { minLength: 10, maxLength: 10 }),
    trailers: fc.array(fc.constantFrom("X-T: 1", "Server-Timing: a;dur=1"), { maxLength: 2 }),
    early: fc.boolean(),
  })
  .map(({ framing, status, body, cuts, ext, trailers, early }) => {
    const b = Buffer.from(body);
    const type = "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
    const lead = early ? "HTTP/1.1 100 Continue\r\n\r\n" : "";
    let bytes: Buffer;
    if (framing === "length")
      bytes = Buffer.concat([
        Buffer.from(`${lead}HTTP/1.1 ${status} OK\r\n${type}Content-Length: ${b.length}\r\n\r\n`),
        b,
      ]);
    else if (framing === "close")
      bytes = Buffer.concat([
        Buffer.from(`${lead}HTTP/1.1 ${status} OK\r\n${type}Connection: close\r\n\r\n`),
        b,
      ]);
    else {
      const at = [...new Set(cuts.filter((c) => c > 0 && c < b.length))].sort((x, y) => x - y);
      const pieces: Buffer[] = [
        Buffer.from(`${lead}HTTP/1.1 ${status} OK\r\n${type}Transfer-Encoding: chunked\r\n\r\n`),
      ];
      let from = 0;
      for (const [i, to] of [...at, b.length].entries()) {
        if (to === from) continue;
        pieces.push(
          Buffer.from(`${(to - from).toString(16)}${ext[i % ext.length]}\r\n`),
          b.subarray(from, to),
          Buffer.from("\r\n"),
        );
        from = to;
      }
      pieces.push(Buffer.from(`0\r\n${trailers.map((t) => `${t}\r\n`).join("")}\r\n`));
      bytes = Buffer.concat(pieces);
    }
    return { bytes, status, body: b, framing };
  });

/** `bytes` cut at the given offsets. */
function split(bytes: Buffer, offsets: number[]): Buffer[] {
  const at = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    out.push(bytes.subarray(from, to));
    from = to;
  }
  return out.filter((p) => p.length > 0);
}

afterAll(() => closeUpstreamPools());

describe("the streaming parser", () => {
  it("hands on exactly the body, its head first, however the bytes are split", () => {
    fc.assert(
      fc.property(answerArb, fc.array(fc.nat(), { maxLength: 12 }), (answer, offsets) => {
        const pieces: Buffer[] = [];
        let head: ParsedHead | undefined;
        const parser = new ResponseParser(Number.POSITIVE_INFINITY, {
          head: (h) => {
            expect(pieces).toHaveLength(0);
            head = h;
          },
          body: (p) => {
            expect(p.length).toBeGreaterThan(0);
            pieces.push(Buffer.from(p));
          },
        });
        let event = parser.feed(Buffer.alloc(0));
        for (const piece of split(answer.bytes, offsets)) event = parser.feed(piece);
        if (answer.framing === "close") {
          expect(event.kind).toBe("more");
          event = parser.end();
        }
        expect(event).toEqual({ kind: "done", keepAlive: answer.framing !== "close" });
        expect(head?.status).toBe(answer.status);
        expect(Buffer.concat(pieces).equals(answer.body)).toBe(true);
        // The sink keeps nothing itself.
        expect(parser.bodyText()).toBe("");
      }),
      { numRuns: 300 },
    );
  });

  it("takes a chunk-size line exactly when the grammar's regex does", () => {
    const grammar = /^([0-9A-Fa-f]+)[ \t]*(?:;.*)?$/;
    const line = fc
      .array(fc.constantFrom("0", "7", "a", "F", "g", " ", "\t", ";", "=", "x", "\n", "\r", "-"), {
        maxLength: 10,
      })
      .map((cs) => cs.join(""));
    fc.assert(
      fc.property(line, (text) => {
        // A chunk-size line ends at the first CRLF: a CR right before the LF ends it earlier.
        if (text.includes("\r")) return;
        const parser = new ResponseParser(Number.POSITIVE_INFINITY, { head: () => {}, body: () => {} });
        parser.feed(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
        const event = parser.feed(Buffer.from(`${text}\r\n`, "latin1"));
        const match = grammar.exec(text);
        const size = match?.[1] === undefined ? Number.NaN : Number.parseInt(match[1], 16);
        expect(event.kind === "invalid").toBe(!Number.isSafeInteger(size));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("a real gateway over the lean client", () => {
  it("gives its client what node's own client reads from the backend", async () => {
    let current: { pieces: Buffer[]; close: boolean } = { pieces: [], close: false };
    // The backend writes the pieces one by one, each after the previous one left, then ends if the
    // answer is close-delimited.
    const backend = await rawBackend((socket) => {
      const { pieces, close } = current;
      const write = (i: number) => {
        if (i === pieces.length) {
          if (close) socket.end();
          return;
        }
        socket.write(pieces[i] as Buffer, () => setImmediate(() => write(i + 1)));
      };
      write(0);
    });
    const gateway = await miniGateway(targetOf(backend.port), "lean");
    try {
      await fc.assert(
        fc.asyncProperty(answerArb, fc.array(fc.nat(), { maxLength: 6 }), async (answer, offsets) => {
          current = { pieces: split(answer.bytes, offsets), close: answer.framing === "close" };
          const direct = await post(backend.port);
          const via = await post(gateway.port);
          const outcome = await gateway.next();
          expect(outcome.kind).toBe("done");
          expect(direct.cut).toBe(false);
          expect(via.cut).toBe(false);
          expect(via.status).toBe(direct.status);
          expect(via.headers["content-type"]).toBe(direct.headers["content-type"]);
          expect(via.headers["cache-control"]).toBe(direct.headers["cache-control"]);
          expect(via.headers["x-rmx-cell"]).toBe("cell-a");
          expect(via.body.equals(direct.body)).toBe(true);
          expect(via.body.equals(answer.body)).toBe(true);
        }),
        { numRuns: 40 },
      );
    } finally {
      await gateway.close();
      await backend.close();
    }
  }, 60_000);
});
