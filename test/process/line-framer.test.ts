import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HELD_MAX_BYTES, LineFramer } from "../../daemon/process/line-framer.js";

/** A log that two framers (stdout, stderr) write into, as a child's pipes do. */
function sharedLog(holdMs = 3_600_000) {
  const written: Buffer[] = [];
  const sink = (bytes: Buffer) => {
    written.push(Buffer.from(bytes));
  };
  return {
    out: new LineFramer(sink, { holdMs }),
    err: new LineFramer(sink, { holdMs }),
    text: () => Buffer.concat(written).toString("utf8"),
    writes: written,
  };
}

describe("LineFramer", () => {
  it("keeps a stderr line read between two reads of a stdout line out of it", () => {
    const log = sharedLog();
    log.out.push(Buffer.from("line 1\nline 2 xx"));
    log.err.push(Buffer.from("last stderr line\n"));
    log.out.push(Buffer.from("xx\nlast stdout line\n"));
    expect(log.text()).toBe("line 1\nlast stderr line\nline 2 xxxx\nlast stdout line\n");
  });

  it("passes on what is held when the stream ends, a line without its newline", () => {
    const log = sharedLog();
    log.out.push(Buffer.from("no newline"));
    expect(log.text()).toBe("");
    log.out.flush();
    expect(log.text()).toBe("no newline");
  });

  it("passes on a held partial line (a prompt) once its hold time is over", async () => {
    const written = new Promise<string>((resolve) => {
      const framer = new LineFramer((bytes) => resolve(bytes.toString()), { holdMs: 5 });
      framer.push(Buffer.from("prompt> "));
    });
    expect(await written).toBe("prompt> ");
  });

  it("puts a due hold off while the rest of the line is on its way (the pipes paused), then passes it on", async () => {
    // The source says "more is waiting" for the first three times the hold falls due, then no more.
    const answers: boolean[] = [];
    const written = new Promise<{ text: string; answers: boolean[] }>((resolve) => {
      const framer = new LineFramer((bytes) => resolve({ text: bytes.toString(), answers: [...answers] }), {
        holdMs: 5,
        pending: () => {
          answers.push(answers.length < 3);
          return answers.at(-1)!;
        },
      });
      framer.push(Buffer.from("line cut by a read"));
    });
    expect(await written).toEqual({ text: "line cut by a read", answers: [true, true, true, false] });
  });

  it("holds a line no longer than HELD_MAX_BYTES: a longer one goes out as it is", () => {
    const log = sharedLog();
    const long = Buffer.alloc(HELD_MAX_BYTES + 1, 0x61);
    log.out.push(long);
    expect(log.writes).toHaveLength(1);
    expect(log.writes[0]!.equals(long)).toBe(true);
  });

  it("property: any reads of two streams, interleaved any way, leave each stream's lines whole and in order", () => {
    const line = fc.stringMatching(/^[a-z ]{0,12}$/);
    const stream = fc.array(line, { minLength: 1, maxLength: 8 });
    // A stream's text cut into reads at arbitrary offsets.
    const reads = (lines: string[]) =>
      fc.array(fc.nat(), { maxLength: 6 }).map((cuts) => {
        const text = lines.map((l) => `${l}\n`).join("");
        const offsets = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const pieces: string[] = [];
        let from = 0;
        for (const at of [...offsets, text.length]) {
          if (at > from) pieces.push(text.slice(from, at));
          from = at;
        }
        return pieces;
      });
    const tagged = (prefix: string) => stream.map((lines) => lines.map((l) => `${prefix}${l}`));
    fc.assert(
      fc.property(
        tagged("o:").chain((o) => reads(o).map((r) => ({ lines: o, reads: r }))),
        tagged("e:").chain((e) => reads(e).map((r) => ({ lines: e, reads: r }))),
        fc.array(fc.boolean(), { maxLength: 30 }),
        (out, err, order) => {
          const log = sharedLog();
          const queues = { out: [...out.reads], err: [...err.reads] };
          let turn = 0;
          while (queues.out.length > 0 || queues.err.length > 0) {
            const pickOut = queues.err.length === 0 || (queues.out.length > 0 && (order[turn++] ?? true));
            if (pickOut) log.out.push(Buffer.from(queues.out.shift()!));
            else log.err.push(Buffer.from(queues.err.shift()!));
          }
          log.out.flush();
          log.err.flush();
          const lines = log.text().split("\n").slice(0, -1);
          expect(lines.filter((l) => !l.startsWith("e:"))).toEqual(out.lines);
          expect(lines.filter((l) => l.startsWith("e:"))).toEqual(err.lines);
        },
      ),
    );
  });
});
