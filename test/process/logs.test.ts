import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { spawnChild } from "../../daemon/process/child.js";
import { MAX_LINE_CHARS, RotatingLog } from "../../daemon/process/logs.js";
import { scripts, tempDir } from "./fixtures.js";

let dir: string;
let cleanup: () => Promise<void>;
const logs: RotatingLog[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  await Promise.all(logs.splice(0).map((log) => log.close()));
  await cleanup();
});

function makeLog(name: string, max_bytes: number, files: number): RotatingLog {
  const log = new RotatingLog(path.join(dir, name), { max_bytes, files });
  logs.push(log);
  return log;
}

/** Sizes of every file of this log on disk. */
async function logFileSizes(name: string): Promise<number[]> {
  const entries = (await readdir(dir)).filter((f) => f === name || f.startsWith(`${name}.`));
  // A file can be renamed between the listing and the stat while the log rotates: count it as empty.
  return Promise.all(
    entries.map(async (f) => (await stat(path.join(dir, f)).catch(() => ({ size: 0 }))).size),
  );
}

/** Bytes on disk, oldest file first. */
async function diskContent(name: string, files: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = files - 1; i >= 0; i--) {
    parts.push(await readFile(path.join(dir, i === 0 ? name : `${name}.${i}`)).catch(() => Buffer.alloc(0)));
  }
  return Buffer.concat(parts);
}

const numbered = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `line-${String(from + i).padStart(3, "0")}`);

describe("RotatingLog lines", () => {
  it("joins partial lines across chunks, including a UTF-8 character split between chunks", async () => {
    const log = makeLog("p.log", 1 << 20, 2);
    const seen: string[] = [];
    log.onLine((line) => seen.push(line));
    const euro = Buffer.from("€", "utf8");
    log.write("abc");
    log.write("def\nghi");
    log.write(Buffer.concat([Buffer.from("\n"), euro.subarray(0, 1)]));
    log.write(Buffer.concat([euro.subarray(1), Buffer.from(" price\r\nunfinished")]));
    expect(seen).toEqual(["abcdef", "ghi", "€ price"]);
    expect(log.lastLines()).toEqual(["abcdef", "ghi", "€ price"]);
    // The disk keeps the bytes exactly; tail includes the partial last line.
    expect(await log.tail(10)).toEqual(["abcdef", "ghi", "€ price", "unfinished"]);
  });

  it("caps a single line in memory at 16 KiB but keeps it whole on disk", async () => {
    const log = makeLog("long.log", 1 << 20, 2);
    const long = "y".repeat(40_000);
    log.write(long.slice(0, 10_000));
    log.write(`${long.slice(10_000)}\nshort\n`);
    expect(log.lastLines().map((l) => l.length)).toEqual([MAX_LINE_CHARS, 5]);
    expect(await log.tail(2)).toEqual([long, "short"]);
  });

  it("keeps only the newest 200 lines in the ring, newest last", () => {
    const log = makeLog("ring.log", 1 << 20, 2);
    const lines = numbered(0, 450);
    log.write(`${lines.join("\n")}\n`);
    expect(log.lastLines()).toEqual(lines.slice(-200));
    expect(log.lastLines(3)).toEqual(lines.slice(-3));
  });

  it("follows live lines until unsubscribed", () => {
    const log = makeLog("follow.log", 1 << 20, 2);
    const seen: string[] = [];
    const stop = log.onLine((line) => seen.push(line));
    log.onLine(() => {
      throw new Error("a broken follower must not break the others");
    });
    log.write("one\ntw");
    log.write("o\n");
    stop();
    log.write("three\n");
    expect(seen).toEqual(["one", "two"]);
    expect(log.lastLines()).toEqual(["one", "two", "three"]);
  });
});

describe("RotatingLog rotation", () => {
  it("rotates file → file.1 → file.2 at line boundaries and tails across the rotated files", async () => {
    // 9 bytes a line, 100 bytes a file: 11 whole lines per file.
    const log = makeLog("r.log", 100, 3);
    const lines = numbered(0, 30);
    for (const line of lines) log.write(`${line}\n`);
    await log.flush();
    expect(await readFile(path.join(dir, "r.log.2"), "utf8")).toBe(`${lines.slice(0, 11).join("\n")}\n`);
    expect(await readFile(path.join(dir, "r.log.1"), "utf8")).toBe(`${lines.slice(11, 22).join("\n")}\n`);
    expect(await readFile(path.join(dir, "r.log"), "utf8")).toBe(`${lines.slice(22).join("\n")}\n`);
    expect(await log.tail(20)).toEqual(lines.slice(10));

    // More output pushes the oldest file out: only the newest lines survive, and tail never invents any.
    const more = numbered(30, 60);
    log.write(`${more.join("\n")}\n`);
    const all = [...lines, ...more];
    const kept = await log.tail(1000);
    expect(kept).toEqual(all.slice(all.length - kept.length));
    expect(kept.length).toBeGreaterThanOrEqual(22);
    const sizes = await logFileSizes("r.log");
    expect(sizes.length).toBe(3);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100);
  });

  it("with files: 1 truncates instead of keeping history", async () => {
    const log = makeLog("one.log", 50, 1);
    log.write(`${numbered(0, 20).join("\n")}\n`);
    await log.flush();
    expect(await logFileSizes("one.log")).toEqual([expect.any(Number)]);
    expect((await logFileSizes("one.log"))[0]).toBeLessThanOrEqual(50);
    expect((await log.tail(3)).at(-1)).toBe("line-019");
  });

  it("continues an existing file after a restart and still honours the bound", async () => {
    const first = makeLog("again.log", 64, 2);
    first.write("from the first daemon\n");
    await first.close();
    const second = makeLog("again.log", 64, 2);
    second.write("from the second daemon\n");
    expect(await second.tail(2)).toEqual(["from the first daemon", "from the second daemon"]);
    second.write(`${"z".repeat(200)}\n`);
    await second.flush();
    for (const size of await logFileSizes("again.log")) expect(size).toBeLessThanOrEqual(64);
  });

  it("property: any writes, any chunking → every file ≤ max_bytes, disk is a suffix of the output, tail matches it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom("a", "b", "\n", "é"), maxLength: 60 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 30 }),
        async (chunks, maxBytes, files, n) => {
          const name = `prop-${Math.random().toString(36).slice(2)}.log`;
          const log = new RotatingLog(path.join(dir, name), { max_bytes: maxBytes, files });
          for (const chunk of chunks) log.write(chunk);
          const tail = await log.tail(n);
          await log.close();
          const written = Buffer.from(chunks.join(""), "utf8");
          const sizes = await logFileSizes(name);
          expect(sizes.length).toBeLessThanOrEqual(files);
          for (const size of sizes) expect(size).toBeLessThanOrEqual(maxBytes);
          const diskBytes = await diskContent(name, files);
          expect(written.subarray(written.length - diskBytes.length).equals(diskBytes)).toBe(true);
          const expected = diskBytes.toString("utf8").split("\n");
          if (expected.at(-1) === "") expected.pop();
          expect(tail).toEqual(expected.slice(-n));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("RotatingLog under a flooding child", () => {
  it("asks a fast writer to pause, and drops (with a marker) only what a writer that never pauses pushes past the cap", async () => {
    const log = makeLog("burst.log", 256 * 1024, 2);
    const line = `${"b".repeat(1023)}\n`;
    const answers: boolean[] = [];
    for (let i = 0; i < 12 * 1024; i++) answers.push(log.write(line));
    expect(answers[0]).toBe(true);
    expect(answers.includes(false)).toBe(true);
    expect(log.droppedBytes).toBeGreaterThan(0);
    await log.flush();
    const tail = await log.tail(2000);
    expect(tail.some((l) => /^\[rmx\] dropped \d+ bytes of output/.test(l))).toBe(true);
    for (const size of await logFileSizes("burst.log")) expect(size).toBeLessThanOrEqual(256 * 1024);
    // The ring saw every line regardless.
    expect(log.lastLines()).toHaveLength(200);
  });

  it("never lets the directory grow beyond max_bytes × files, and the ring ends with the last line", async () => {
    const maxBytes = 64 * 1024;
    const files = 3;
    const bound = maxBytes * files;
    const log = makeLog("flood.log", maxBytes, files);
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const total = (await logFileSizes("flood.log")).reduce((a, b) => a + b, 0);
        peak = Math.max(peak, total);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const floodBytes = 8 * 1024 * 1024;
    const child = await spawnChild({
      command: process.execPath,
      args: ["-e", scripts.flood, String(floodBytes)],
      env: {},
      log,
    });
    const exit = await child.exited;
    await log.flush();
    sampling = false;
    await sampler;
    expect(exit.code).toBe(0);
    const total = (await logFileSizes("flood.log")).reduce((a, b) => a + b, 0);
    peak = Math.max(peak, total);
    expect(
      peak <= bound,
      `log directory peaked at ${peak} bytes, bound is ${bound} (${maxBytes} × ${files}) after ${floodBytes} bytes of output`,
    ).toBe(true);
    expect(log.lastLines().at(-1)).toBe("done");
    // The child's pipe was paused while the disk caught up, so nothing was dropped.
    expect(log.droppedBytes).toBe(0);
    expect((await log.tail(1))[0]).toBe("done");
    const tail = await log.tail(50);
    expect(tail).toHaveLength(50);
    for (const line of tail) expect(line).toMatch(/^(line \d+ x{80}|done|\[rmx\] dropped \d+ bytes .*)$/);
  });
});
