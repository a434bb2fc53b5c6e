import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { isRmxError } from "../../base/errors.js";
import { readJsonWithQuarantine, writeFileAtomic } from "../../daemon/persist/atomic.js";
import { StateStore } from "../../daemon/persist/state-store.js";
import { tempDir } from "./fixtures.js";

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

interface Counter {
  n: number;
  log: number[];
}
const parseCounter = (v: unknown): Counter | undefined => {
  const o = v as Partial<Counter> | null;
  return typeof o === "object" && o !== null && typeof o.n === "number" && Array.isArray(o.log)
    ? (o as Counter)
    : undefined;
};
const readCounter = async (file: string) => JSON.parse(await readFile(file, "utf8")) as Counter;

describe("writeFileAtomic", () => {
  it("writes with mode 0600, replaces the old content and leaves no temp file", async () => {
    const file = path.join(dir, "state.json");
    await writeFileAtomic(file, "first");
    await writeFileAtomic(file, Buffer.from("second"));
    expect(await readFile(file, "utf8")).toBe("second");
    if (process.platform !== "win32") expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("concurrent writers each land whole: the result is exactly one of them", async () => {
    const file = path.join(dir, "race.json");
    const payloads = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ writer: i, pad: "p".repeat(50_000 + i) }),
    );
    await Promise.all(payloads.map((p) => writeFileAtomic(file, p)));
    expect(payloads).toContain(await readFile(file, "utf8"));
    expect(await readdir(dir)).toEqual(["race.json"]);
  });

  it("fails with a typed error naming the path and cleans its temp file up", async () => {
    const target = path.join(dir, "is-a-dir");
    await mkdir(path.join(target, "child"), { recursive: true });
    const error = await writeFileAtomic(target, "x").catch((e: unknown) => e);
    expect(isRmxError(error, "STATE_WRITE_FAILED")).toBe(true);
    expect((error as Error).message).toContain(`cannot write ${target}`);
    expect(await readdir(dir)).toEqual(["is-a-dir"]);

    const missingDir = path.join(dir, "nope", "state.json");
    expect(
      isRmxError(await writeFileAtomic(missingDir, "x").catch((e: unknown) => e), "STATE_WRITE_FAILED"),
    ).toBe(true);
  });
});

describe("readJsonWithQuarantine", () => {
  const clock = new ManualClock(Date.UTC(2025, 10, 24, 0, 12, 0, 123));

  it("returns nothing for a missing file and the value for a valid one", async () => {
    const file = path.join(dir, "s.json");
    expect(await readJsonWithQuarantine(file, parseCounter)).toEqual({});
    await writeFile(file, JSON.stringify({ n: 2, log: [1] }));
    expect(await readJsonWithQuarantine(file, parseCounter)).toEqual({ value: { n: 2, log: [1] } });
  });

  it.each([
    ["a half-written file", '{"n": 3, "log": [1, 2', "not valid JSON"],
    ["an empty file", "", "file is empty"],
    ["valid JSON of the wrong shape", '{"n": "three"}', "content does not have the expected shape"],
  ])("quarantines %s and explains why", async (_name, content, why) => {
    const file = path.join(dir, "s.json");
    await writeFile(file, content);
    const result = await readJsonWithQuarantine(file, parseCounter, { clock });
    const target = `${file}.corrupt-20251124T001200123Z`;
    expect(result.value).toBeUndefined();
    expect(result.quarantinedTo).toBe(target);
    expect(result.warning).toContain(`${file} was unreadable (${why}`);
    expect(result.warning).toContain(`moved to ${target}`);
    expect(await readFile(target, "utf8")).toBe(content);
    expect(await readdir(dir)).toEqual(["s.json.corrupt-20251124T001200123Z"]);
  });

  it("never overwrites an earlier quarantine with the same timestamp", async () => {
    const file = path.join(dir, "s.json");
    await writeFile(file, "{broken 1");
    const first = await readJsonWithQuarantine(file, parseCounter, { clock });
    await writeFile(file, "{broken 2");
    const second = await readJsonWithQuarantine(file, parseCounter, { clock });
    expect(second.quarantinedTo).toBe(`${first.quarantinedTo}-1`);
    expect(await readFile(first.quarantinedTo!, "utf8")).toBe("{broken 1");
    expect(await readFile(second.quarantinedTo!, "utf8")).toBe("{broken 2");
  });
});

describe("StateStore", () => {
  const fresh = (): Counter => ({ n: 0, log: [] });

  it("starts from initial() without a file, persists updates and reloads them", async () => {
    const file = path.join(dir, "state.json");
    const store = new StateStore(file, parseCounter, fresh);
    expect(await store.load()).toEqual({});
    expect(store.get()).toEqual({ n: 0, log: [] });
    await store.update((d) => {
      d.n = 5;
    });
    const again = new StateStore(file, parseCounter, fresh);
    await again.load();
    expect(again.get()).toEqual({ n: 5, log: [] });
  });

  it("serialises concurrent updates: none is lost, writes are coalesced, each promise means 'on disk'", async () => {
    const file = path.join(dir, "state.json");
    const store = new StateStore(file, parseCounter, fresh);
    await store.load();
    const durable: Promise<void>[] = [];
    for (let i = 1; i <= 60; i++) {
      durable.push(
        store
          .update((d) => {
            d.n += 1;
            d.log.push(i);
          })
          .then(async () => {
            // When an update's promise resolves, the file already holds it.
            expect((await readCounter(file)).n).toBeGreaterThanOrEqual(i);
          }),
      );
      // Let some writes start in between, so updates arrive both before and during writes.
      if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(durable);
    await store.flush();
    const onDisk = await readCounter(file);
    expect(onDisk.n).toBe(60);
    expect(onDisk.log).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(store.get()).toEqual(onDisk);
    expect(store.writeCount).toBeLessThan(60);
    expect(store.writeCount).toBeGreaterThanOrEqual(1);
  });

  it("a mutator that throws changes nothing and rejects", async () => {
    const store = new StateStore(path.join(dir, "state.json"), parseCounter, fresh);
    await store.load();
    await store.update((d) => {
      d.n = 1;
    });
    const error = await store
      .update((d) => {
        d.n = 99;
        throw new Error("half-way");
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe("half-way");
    expect(store.get().n).toBe(1);
  });

  it("quarantines a corrupt file on load and starts fresh", async () => {
    const file = path.join(dir, "state.json");
    await writeFile(file, '{"n": 4, "lo');
    const store = new StateStore(file, parseCounter, fresh, { clock: new ManualClock(0) });
    const loaded = await store.load();
    expect(loaded.quarantinedTo).toBe(`${file}.corrupt-19700101T000000000Z`);
    expect(loaded.warning).toContain("not valid JSON");
    expect(store.get()).toEqual({ n: 0, log: [] });
    await store.update((d) => {
      d.n = 1;
    });
    expect(await readCounter(file)).toEqual({ n: 1, log: [] });
  });

  it("a failed write rejects its waiters but does not wedge later writes", async () => {
    const file = path.join(dir, "sub", "state.json");
    const store = new StateStore(file, parseCounter, fresh);
    const error = await store
      .update((d) => {
        d.n = 1;
      })
      .catch((e: unknown) => e);
    expect(isRmxError(error, "STATE_WRITE_FAILED")).toBe(true);
    await mkdir(path.dirname(file));
    await store.update((d) => {
      d.n = 2;
    });
    expect(await readCounter(file)).toEqual({ n: 2, log: [] });
  });
});
