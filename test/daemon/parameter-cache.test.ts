/** ParameterCache: parameter counts of runtime models outside the catalog, read from real GGUF files. */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readGguf } from "../../adapters/shared/gguf/reader.js";
import { ParameterCache } from "../../daemon/models/parameter-cache.js";
import type { ModelEntry } from "../../ipc/protocol/models.js";
import { tempDir } from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";

describe("ParameterCache", () => {
  it("reads headers of files the catalog does not describe, prefers the catalog, and skips the unreadable", async () => {
    const dir = await tempDir();
    const outside = path.join(dir, "outside.gguf");
    await writeTinyGguf(outside, { tensors: [{ name: "token_embd.weight", dims: [8, 32], type: 0 }] });
    const expected = (await readGguf(outside)).parameter_count;
    const catalogued = {
      id: "cat",
      path: path.join(dir, "cat.gguf"),
      gguf: { parameter_count: 7 },
    } as ModelEntry;
    const catalog = new Map<string, ModelEntry>([["cat", catalogued]]);
    const cache = new ParameterCache(() => ({ get: (m: string) => catalog.get(m) }));
    const missing = path.join(dir, "missing.gguf");
    const byPath = defaultRuntimeSpec("a", { model: outside });
    const unreadable = defaultRuntimeSpec("c", { model: missing });
    const runtimes = [
      { spec: byPath },
      { spec: defaultRuntimeSpec("b", { model: "cat" }) },
      { spec: unreadable },
      { spec: defaultRuntimeSpec("d", { adapter: "remote", model: path.join(dir, "remote.gguf") }) },
      { spec: defaultRuntimeSpec("e") },
    ];
    expect(cache.count(byPath)).toBeUndefined();
    await cache.warm(runtimes);
    expect(runtimes.map((r) => cache.count(r.spec))).toEqual([expected, 7, undefined, undefined, undefined]);
    cache.learn(missing, 42);
    expect(cache.count(unreadable)).toBe(42);
  });
});
