/**
 * The budget's write-ahead record (spawn-journal.ts): written and read back as it was, malformed files
 * ignored with a reason, and the merge with state.json's budget — property-tested — keeps every attempt
 * either record holds after the latest reset either holds, once, in order.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BudgetLog } from "../../daemon/supervise/budget.js";
import {
  journalFile,
  mergeBudgets,
  readJournal,
  writeJournal,
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
    const file = journalFile(dir, "rt");
    writeJournal(file, {
      budget: { attempts: [NOW - 5, NOW], resets: [NOW - 10], pending: 2 },
      desired: "running",
    });
    const loaded = readJournal(file, NOW);
    expect(loaded).toEqual({
      record: { budget: { attempts: [NOW - 5, NOW], resets: [NOW - 10] }, desired: "running" },
      problems: [],
    });
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it("a missing file is no record; a malformed one is ignored, saying where and why", async () => {
    expect(readJournal(journalFile(dir, "absent"), NOW)).toEqual({ problems: [] });
    const file = journalFile(dir, "bad");
    await fs.writeFile(file, JSON.stringify({ budget: { attempts: [] }, desired: "maybe" }));
    const loaded = readJournal(file, NOW);
    expect(loaded.record).toBeUndefined();
    expect(loaded.problems.join()).toContain(file);
    expect(loaded.problems.join()).toContain('"maybe"');
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
