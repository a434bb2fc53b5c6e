/** Heavy probes coalesce: concurrent identical nvidia-smi queries and inventories share one process. */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Coalescer } from "../../daemon/hardware/coalesce.js";
import { collectInventory } from "../../daemon/hardware/inventory.js";
import { queryNvidiaInventory, queryNvidiaSample } from "../../daemon/hardware/nvidia.js";
import { INVENTORY_CSV, SAMPLE_CSV } from "./fake-nvidia.js";

let dir: string;
let bin: string;
const runs = async () =>
  (await readFile(path.join(dir, "calls.log"), "utf8").catch(() => "")).split("\n").filter(Boolean).length;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-coalesce-"));
  bin = path.join(dir, "nvidia-smi");
  // Slow enough (200 ms) that the concurrent callers below overlap for certain.
  await writeFile(
    bin,
    `#!/bin/sh\necho "$@" >> '${path.join(dir, "calls.log")}'\nsleep 0.2\ncase "$*" in\n  *utilization.gpu*) printf '%s\\n' '${SAMPLE_CSV.split("\n").join("' '")}' ;;\n  *) printf '%s\\n' '${INVENTORY_CSV.split("\n").join("' '")}' ;;\nesac\n`,
  );
  await chmod(bin, 0o755);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("probe coalescing", () => {
  it("shares one in-flight call per key and runs afresh once it settled", async () => {
    const c = new Coalescer<number>();
    let started = 0;
    const start = () => new Promise<number>((resolve) => setTimeout(() => resolve(++started), 10));
    const first = await Promise.all([c.run("k", start), c.run("k", start), c.run("k", start)]);
    expect(first).toEqual([1, 1, 1]);
    expect(c.joined).toBe(2);
    expect(await c.run("k", start)).toBe(2);
    expect(c.size).toBe(0);
  });

  it("50 concurrent nvidia-smi queries of each kind start one process per kind", async () => {
    const before = await runs();
    const [inv, samples] = await Promise.all([
      Promise.all(Array.from({ length: 50 }, () => queryNvidiaInventory(bin))),
      Promise.all(Array.from({ length: 50 }, () => queryNvidiaSample(bin))),
    ]);
    expect(inv.every((rows) => rows.length === 2)).toBe(true);
    expect(samples.every((rows) => rows.length === 2)).toBe(true);
    expect((await runs()) - before).toBe(2);
  });

  it("concurrent inventories share one collection", async () => {
    const before = await runs();
    const all = await Promise.all(Array.from({ length: 20 }, () => collectInventory({ nvidiaSmi: bin })));
    expect(new Set(all).size).toBe(1);
    expect((await runs()) - before).toBe(1);
  });
});
