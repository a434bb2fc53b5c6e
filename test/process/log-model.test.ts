/**
 * RotatingLog against a naive model: the ring is the last 200 complete lines of everything written,
 * followers get exactly the lines completed while they follow, and the disk (after a flush) holds a
 * suffix of the bytes written, whatever the chunking, the reads in between and the rotations.
 */

import { execFileSync } from "node:child_process";
import { open, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_LINE_CHARS, RotatingLog } from "../../daemon/process/logs.js";
import { tempDir } from "./fixtures.js";

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  await cleanup();
});

/** The complete lines of `bytes` as the ring shows them: decoded, CR dropped, cut at MAX_LINE_CHARS. */
function modelLines(bytes: Buffer): string[] {
  const text = bytes.toString("utf8");
  const pieces = text.split("\n");
  pieces.pop();
  return pieces.map((piece) => {
    const cut = piece.length > MAX_LINE_CHARS ? piece.slice(0, MAX_LINE_CHARS) : piece;
    return cut.endsWith("\r") ? cut.slice(0, -1) : cut;
  });
}

async function diskBytes(name: string, files: number): Promise<Buffer> {
  const present = new Set(await readdir(dir));
  const parts: Buffer[] = [];
  for (let i = files - 1; i >= 0; i--) {
    const file = i === 0 ? name : `${name}.${i}`;
    if (present.has(file)) parts.push(await readFile(path.join(dir, file)));
  }
  return Buffer.concat(parts);
}

type Op =
  | { kind: "write"; text: string; split: number }
  | { kind: "lines"; n: number }
  | { kind: "follow" }
  | { kind: "unfollow" }
  | { kind: "tail"; n: number };

const piece = fc.constantFrom("a", "bc", "é", "€", "\n", "\r\n", "line\n", "🙂");
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      text: fc.oneof(
        fc.array(piece, { maxLength: 30 }).map((xs) => xs.join("")),
        // Enough lines at once to overflow the ring between two reads.
        fc.integer({ min: 150, max: 500 }).map((n) => "x\n".repeat(n)),
      ),
      split: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("lines" as const), n: fc.integer({ min: 0, max: 250 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("follow" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unfollow" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("tail" as const), n: fc.integer({ min: 1, max: 40 }) }),
  },
);

describe("RotatingLog against a naive model", () => {
  it("property: ring, followers and disk match the model for any writes, reads and rotations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 25 }),
        fc.integer({ min: 40, max: 4000 }),
        fc.integer({ min: 1, max: 3 }),
        async (ops, maxBytes, files) => {
          const name = `model-${Math.random().toString(36).slice(2)}.log`;
          const log = new RotatingLog(path.join(dir, name), { max_bytes: maxBytes, files });
          const written: Buffer[] = [];
          const followers: { seen: string[]; from: number; to?: number; stop: () => void }[] = [];
          const all = () => modelLines(Buffer.concat(written));
          try {
            for (const o of ops) {
              if (o.kind === "write") {
                // Cut the bytes anywhere, also inside a UTF-8 character.
                const bytes = Buffer.from(o.text, "utf8");
                const at = bytes.length === 0 ? 0 : o.split % (bytes.length + 1);
                for (const part of [bytes.subarray(0, at), bytes.subarray(at)]) {
                  log.write(part);
                  written.push(part);
                }
              } else if (o.kind === "lines") {
                const ring = all().slice(-200);
                expect(log.lastLines(o.n)).toEqual(ring.slice(ring.length - Math.min(o.n, ring.length)));
              } else if (o.kind === "follow") {
                const f = { seen: [] as string[], from: all().length, stop: (): void => undefined };
                f.stop = log.onLine((line) => f.seen.push(line));
                followers.push(f);
              } else if (o.kind === "unfollow") {
                const f = followers.find((x) => x.to === undefined);
                if (f !== undefined) {
                  f.stop();
                  f.to = all().length;
                }
              } else {
                const tail = await log.tail(o.n);
                const disk = (await diskBytes(name, files))
                  .toString("utf8")
                  .split("\n")
                  .map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
                if (disk.at(-1) === "") disk.pop();
                expect(tail).toEqual(disk.slice(-o.n));
              }
            }
            const lines = all();
            expect(log.lastLines()).toEqual(lines.slice(-200));
            for (const f of followers) expect(f.seen).toEqual(lines.slice(f.from, f.to ?? lines.length));
            await log.flush();
            const out = Buffer.concat(written);
            const disk = await diskBytes(name, files);
            expect(out.subarray(out.length - disk.length).equals(disk)).toBe(true);
            // Whatever rotation dropped, the newest file ends with the last byte written.
            if (out.length > 0) expect(disk.length).toBeGreaterThan(0);
          } finally {
            await log.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a follower that subscribes late gets only the lines after it, not the deferred backlog", () => {
    const log = new RotatingLog(path.join(dir, "late.log"), { max_bytes: 1 << 20, files: 2 });
    log.write("before-1\nbefore-2\npart");
    const seen: string[] = [];
    log.onLine((line) => seen.push(line));
    log.write("ial\nafter\n");
    expect(seen).toEqual(["partial", "after"]);
    expect(log.lastLines()).toEqual(["before-1", "before-2", "partial", "after"]);
    return log.close();
  });

  it("keeps memory bounded when nobody reads: megabytes of lines, then the ring still has the last 200", async () => {
    const log = new RotatingLog(path.join(dir, "big.log"), { max_bytes: 1 << 20, files: 2 });
    const line = (i: number) => `${"w".repeat(90)}-${String(i).padStart(6, "0")}`;
    for (let i = 0; i < 30_000; i++) log.write(`${line(i)}\n`);
    // One line longer than the unsplit bound, without a newline yet, then its end.
    log.write("L".repeat(1_500_000));
    log.write("\ntrailing\n");
    const ring = log.lastLines();
    expect(ring).toHaveLength(200);
    expect(ring.slice(0, 198)).toEqual(Array.from({ length: 198 }, (_, k) => line(30_000 - 198 + k)));
    expect(ring.slice(-2)).toEqual(["L".repeat(MAX_LINE_CHARS), "trailing"]);
    await log.close();
  });

  it("coalesces output that comes in many turns of the event loop into a few disk writes", async () => {
    // A spy on the real FileHandle's write: the disk is real, only the calls are counted.
    const probe = await open(path.join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => unknown };
    await probe.close();
    const original = proto.write;
    let writes = 0;
    proto.write = function (this: unknown, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
    try {
      const log = new RotatingLog(path.join(dir, "many.log"), { max_bytes: 1 << 20, files: 2 });
      for (let i = 0; i < 100; i++) {
        log.write(`request ${i}\n`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await log.flush();
      expect(await readFile(path.join(dir, "many.log"), "utf8")).toBe(
        Array.from({ length: 100 }, (_, i) => `request ${i}\n`).join(""),
      );
      // One write per line before; now one per WRITE_WINDOW_MS (a loaded machine may need a few windows).
      expect(writes).toBeLessThan(20);
      await log.close();
    } finally {
      proto.write = original;
    }
  });

  it("writes what waits for the window synchronously when the process exits, rotating as it goes", async () => {
    const logs = path.resolve(
      path.dirname(fileURLToPath(import.meta.url)),
      "../../dist/daemon/process/logs.js",
    );
    const file = path.join(dir, "exit.log");
    const lines = Array.from({ length: 10 }, (_, i) => `line-${String(i).padStart(4, "0")}\n`);
    // 10 lines of 10 bytes into files of 64: file.1 takes 6 whole lines, file the other 4.
    const script = `import { RotatingLog } from ${JSON.stringify(logs)};
      const log = new RotatingLog(${JSON.stringify(file)}, { max_bytes: 64, files: 2 });
      for (const line of ${JSON.stringify(lines)}) log.write(line);
      process.exit(0);`;
    execFileSync(process.execPath, ["--input-type=module", "-e", script]);
    expect(await readFile(`${file}.1`, "utf8")).toBe(lines.slice(0, 6).join(""));
    expect(await readFile(file, "utf8")).toBe(lines.slice(6).join(""));
  });
});
