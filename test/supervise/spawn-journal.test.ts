/**
 * The budget's write-ahead record (spawn-journal.ts): written and read back as it was, malformed files
 * ignored with a reason, a torn write (the daemon killed inside it) falling back to the other slot's
 * record — property-tested, at every cut — and the merge with state.json's budget — property-tested —
 * keeps every attempt either record holds after the latest reset either holds, once, in order.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BudgetLog } from "../../daemon/supervise/budget.js";
import {
  encodeRecord,
  type JournalRecord,
  journalFiles,
  legacyJournalFile,
  mergeBudgets,
  SpawnJournal,
} from "../../daemon/supervise/spawn-journal.js";

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "rmx-journal-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const NOW = 1_800_000_000_000;
const times = fc
  .uniqueArray(fc.integer({ min: NOW - 600_000, max: NOW }), { maxLength: 30 })
  .map((a) => a.sort((x, y) => x - y));
const budget = fc.record({ attempts: times, resets: times.map((r) => r.slice(-3)) });

describe("the spawn journal", () => {
  it("reads back what it wrote (the reserved restores left out), mode 0600", async () => {
    const journal = new SpawnJournal(dir, "rt");
    journal.write(
      { budget: { attempts: [NOW - 5, NOW], resets: [NOW - 10], pending: 2 }, desired: "running" },
      NOW,
    );
    const loaded = new SpawnJournal(dir, "rt").read(NOW);
    expect(loaded).toEqual({
      record: { budget: { attempts: [NOW - 5, NOW], resets: [NOW - 10] }, desired: "running" },
      problems: [],
    });
    expect((await fs.stat(journal.files[0])).mode & 0o777).toBe(0o600);
  });

  it("reads the single-file record of the version before (an upgrade keeps its spawns) and removes it once a slot holds the record", async () => {
    const legacy = legacyJournalFile(dir, "old");
    await fs.mkdir(path.dirname(legacy), { recursive: true });
    const before = { budget: { attempts: [NOW - 7, NOW - 3], resets: [] }, desired: "running" };
    await fs.writeFile(legacy, JSON.stringify(before));
    const journal = new SpawnJournal(dir, "old");
    expect(journal.read(NOW)).toEqual({ record: before, problems: [] });
    journal.write({ budget: { attempts: [NOW - 7, NOW - 3, NOW], resets: [] }, desired: "running" }, NOW);
    await expect(fs.stat(legacy)).rejects.toMatchObject({ code: "ENOENT" });
    expect(new SpawnJournal(dir, "old").read(NOW).record?.budget.attempts).toEqual([NOW - 7, NOW - 3, NOW]);
    // A slot's record is newer than a legacy one left beside it.
    await fs.writeFile(
      legacy,
      JSON.stringify({ budget: { attempts: [NOW - 1], resets: [] }, desired: "stopped" }),
    );
    expect(new SpawnJournal(dir, "old").read(NOW).record?.desired).toBe("running");
    // A legacy file that is not JSON is named and ignored.
    await fs.writeFile(legacyJournalFile(dir, "oldbad"), "{");
    const bad = new SpawnJournal(dir, "oldbad").read(NOW);
    expect(bad.record).toBeUndefined();
    expect(bad.problems.join()).toContain(legacyJournalFile(dir, "oldbad"));
  });

  it("a missing file is no record; a malformed one is ignored, saying where and why", async () => {
    expect(new SpawnJournal(dir, "absent").read(NOW)).toEqual({ problems: [] });
    const [file] = journalFiles(dir, "bad");
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(
      file,
      encodeRecord(1, { budget: { attempts: [], resets: [] }, desired: "maybe" as never }),
    );
    const loaded = new SpawnJournal(dir, "bad").read(NOW);
    expect(loaded.record).toBeUndefined();
    expect(loaded.problems.join()).toContain(file);
    expect(loaded.problems.join()).toContain('"maybe"');
    await fs.writeFile(file, JSON.stringify({ seq: 1, budget: { attempts: [] }, desired: "running" }));
    const unsigned = new SpawnJournal(dir, "bad").read(NOW);
    expect(unsigned.record).toBeUndefined();
    expect(unsigned.problems.join()).toContain(`${file} is torn or corrupt`);
  });

  it("writes the two slots in turn and reads the newest, also after a clock step back and a shorter record", () => {
    const journal = new SpawnJournal(dir, "turns");
    const record = (n: number): JournalRecord => ({
      budget: { attempts: Array.from({ length: n }, (_, i) => NOW - 100 + i), resets: [] },
      desired: n % 2 === 0 ? "running" : "stopped",
    });
    // Longest first: every later, shorter line ends before what the slot held.
    const clock = [NOW, NOW + 10, NOW - 50_000, NOW - 50_000, NOW + 20];
    for (const [i, now] of clock.entries()) {
      journal.write(record(clock.length - i), now);
      const fresh = new SpawnJournal(dir, "turns").read(NOW + 100);
      expect(fresh, `write ${i}`).toEqual({ record: record(clock.length - i), problems: [] });
    }
    journal.remove();
    expect(new SpawnJournal(dir, "turns").read(NOW)).toEqual({ problems: [] });
    journal.write(record(2), NOW); // after a removal: a new record, read back alone
    expect(new SpawnJournal(dir, "turns").read(NOW).record).toEqual(record(2));
  });

  it("property: a write torn at any byte, or with any byte changed, leaves the record before it as the one read", async () => {
    const before: JournalRecord = {
      budget: { attempts: [NOW - 7, NOW - 3], resets: [NOW - 9] },
      desired: "running",
    };
    const next: JournalRecord = {
      budget: { attempts: [NOW - 7, NOW - 3, NOW], resets: [NOW - 9] },
      desired: "stopped",
    };
    const journal = new SpawnJournal(dir, "torn");
    journal.write({ budget: { attempts: [NOW - 8], resets: [] }, desired: "running" }, NOW - 2); // slot a
    journal.write(before, NOW - 1); // slot b: the newest complete record
    const [slotA] = journal.files;
    const older = await fs.readFile(slotA);
    const line = Buffer.from(encodeRecord(NOW, next), "utf8"); // what the next write puts into slot a
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 0, max: line.length - 1 }).map((cut) => ({ cut, flip: undefined })),
          fc
            .tuple(fc.integer({ min: 0, max: line.length - 1 }), fc.integer({ min: 1, max: 255 }))
            .map(([at, xor]) => ({ cut: line.length, flip: { at, xor } })),
        ),
        async ({ cut, flip }) => {
          // The slot as a write killed part-way leaves it: the new bytes up to the cut over what was there.
          const torn = Buffer.from(older.length > line.length ? older : Buffer.alloc(line.length, 0x20));
          older.copy(torn);
          line.copy(torn, 0, 0, cut);
          if (flip !== undefined) torn[flip.at] = (torn[flip.at] as number) ^ flip.xor;
          await fs.writeFile(slotA, torn);
          const loaded = new SpawnJournal(dir, "torn").read(NOW);
          expect(loaded.record).toEqual(before);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("property: the merge holds every attempt after the latest reset of either record, once, ascending", () => {
    fc.assert(
      fc.property(budget, budget, (a: BudgetLog, b: BudgetLog) => {
        const merged = mergeBudgets(a, b);
        const lastReset = Math.max(-Infinity, ...a.resets, ...b.resets);
        const expected = [...new Set([...a.attempts, ...b.attempts])]
          .filter((t) => t >= lastReset)
          .sort((x, y) => x - y);
        expect(merged.attempts).toEqual(expected);
        expect(merged.resets.at(-1) ?? -Infinity).toBe(lastReset);
        expect(mergeBudgets(merged, merged).attempts).toEqual(merged.attempts);
        expect(mergeBudgets(b, a).attempts).toEqual(merged.attempts);
      }),
    );
  });
});
