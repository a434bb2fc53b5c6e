/** Log tails are read backwards under a byte cap; long lines are cut with a marker giving the bytes cut. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RotatingLog, TAIL_MAX_BYTES, TAIL_MAX_LINE_BYTES, tailLines } from "../../daemon/process/logs.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-tail-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("log tail limits", () => {
  it("cuts a line over the cap, keeping its start and saying how many bytes were cut", () => {
    const long = "é".repeat(TAIL_MAX_LINE_BYTES); // 2 bytes each: twice the cap
    const [line] = tailLines(Buffer.from(`${long}\nshort\n`), 2, false, 0);
    const kept = TAIL_MAX_LINE_BYTES; // a character boundary
    expect(line).toBe(
      `${"é".repeat(kept / 2)}… [rmx] line cut: ${2 * TAIL_MAX_LINE_BYTES - kept} bytes not shown`,
    );
  });

  it("property: within the caps, tailLines is the last n lines", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom("a", "\n", "é", "\r"), maxLength: 50 }), {
          maxLength: 20,
        }),
        fc.integer({ min: 1, max: 30 }),
        (chunks, n) => {
          const text = chunks.join("");
          const expected = text.split("\n");
          if (expected.at(-1) === "") expected.pop();
          expect(tailLines(Buffer.from(text), n, false, 0)).toEqual(
            expected.slice(-n).map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l)),
          );
        },
      ),
    );
  });

  it("reads at most TAIL_MAX_BYTES of a newline-free file and marks the unread start", async () => {
    const file = path.join(dir, "flat.log");
    await writeFile(file, Buffer.alloc(TAIL_MAX_BYTES * 3, "q"));
    const log = new RotatingLog(file, { max_bytes: TAIL_MAX_BYTES * 10, files: 1 });
    const [line, ...rest] = await log.tail(10_000);
    await log.close();
    expect(rest).toEqual([]);
    expect(line).toBe(
      `[rmx] line cut: at least ${3 * TAIL_MAX_BYTES - TAIL_MAX_LINE_BYTES} earlier bytes not read …${"q".repeat(TAIL_MAX_LINE_BYTES)}`,
    );
  });
});
