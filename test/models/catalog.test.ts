import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ModelCatalogOptions } from "../../daemon/models/catalog.js";
import { ModelCatalog } from "../../daemon/models/catalog.js";
import type { ModelCatalogChange } from "../../ipc/protocol/models.js";
import { writeTinyGguf } from "../support/gguf-writer.js";

let root: string;
let models: string;
let catalog: ModelCatalog | undefined;
let changes: ModelCatalogChange[];

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "rmx-catalog-"));
  models = path.join(root, "models");
  await mkdir(models);
  changes = [];
});

afterEach(async () => {
  catalog?.stop();
  catalog = undefined;
  await rm(root, { recursive: true, force: true });
});

function makeCatalog(opts: Partial<ModelCatalogOptions> = {}): ModelCatalog {
  catalog = new ModelCatalog({
    models: [],
    dirs: [models],
    onChange: (change) => changes.push(change),
    debounceMs: 100,
    ...opts,
  });
  return catalog;
}

/** Polls a condition until it holds or the deadline passes. */
async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const seen = (kind: keyof ModelCatalogChange, id: string) => () => changes.some((c) => c[kind].includes(id));

describe("ModelCatalog", () => {
  it("lists config models and .gguf files in dirs, with header facts or the reason a file is unusable", async () => {
    await writeTinyGguf(path.join(models, "alpha.gguf"), { context_length: 1024, name: "Alpha" });
    await writeFile(path.join(models, "broken.gguf"), "definitely not gguf");
    await writeFile(path.join(models, "notes.txt"), "ignored");
    await writeTinyGguf(path.join(models, "big-00001-of-00002.gguf"), {});
    await writeTinyGguf(path.join(models, "big-00002-of-00002.gguf"), {});
    const configured = path.join(root, "elsewhere.gguf");
    await writeTinyGguf(configured, { architecture: "qwen2" });
    const cat = makeCatalog({
      models: [
        { id: "pinned", path: configured },
        { id: "ghost", path: path.join(root, "ghost.gguf") },
      ],
      dirs: [models, path.join(root, "no-such-dir")],
    });
    await cat.start();

    expect(
      cat
        .list()
        .map((e) => e.id)
        .sort(),
    ).toEqual(["alpha", "big-00001-of-00002", "broken", "ghost", "pinned"]);
    expect(cat.get("alpha")).toMatchObject({
      source: "dir",
      path: path.join(models, "alpha.gguf"),
      gguf: { name: "Alpha", context_length: 1024 },
    });
    expect(cat.get("alpha")?.size_bytes).toBeGreaterThan(0);
    expect(cat.get("alpha")?.mtime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(cat.get("broken")?.error).toContain("not a GGUF file");
    expect(cat.get("pinned")).toMatchObject({ source: "config", gguf: { architecture: "qwen2" } });
    expect(cat.get("ghost")?.error).toContain("does not exist");
    expect(cat.get(configured)?.id).toBe("pinned");
    expect(cat.get(path.join(models, "alpha.gguf"))?.id).toBe("alpha");
    expect(cat.get("nothing")).toBeUndefined();
    expect(cat.notes.some((n) => n.includes("no-such-dir") && n.includes("does not exist"))).toBe(true);
    expect(changes).toEqual([]);
  });

  it("calls onChange when a .gguf file is added, changed and removed", async () => {
    await writeTinyGguf(path.join(models, "alpha.gguf"), { context_length: 1024 });
    const cat = makeCatalog();
    await cat.start();

    await writeTinyGguf(path.join(models, "beta.gguf"), { context_length: 2048 });
    await waitFor(seen("added", "beta"), 1000, "beta added");
    await waitFor(() => cat.get("beta")?.gguf?.context_length === 2048, 1000, "beta's header");

    // Replace alpha atomically with a different model.
    const staging = path.join(models, "alpha.partial");
    await writeTinyGguf(staging, { context_length: 4096, name: "alpha v2" });
    await rename(staging, path.join(models, "alpha.gguf"));
    await waitFor(seen("changed", "alpha"), 1000, "alpha changed");
    await waitFor(() => cat.get("alpha")?.gguf?.context_length === 4096, 1000, "alpha's new header");

    await rm(path.join(models, "beta.gguf"));
    await waitFor(seen("removed", "beta"), 1000, "beta removed");
    expect(cat.get("beta")).toBeUndefined();
    expect(changes.every((c) => c.added.length + c.removed.length + c.changed.length > 0)).toBe(true);
  });

  it("ignores files that are not models", async () => {
    const cat = makeCatalog();
    await cat.start();
    await writeFile(path.join(models, "readme.md"), "hi");
    await writeTinyGguf(path.join(models, "gamma.gguf"), {});
    await waitFor(seen("added", "gamma"), 1000, "gamma added");
    expect(cat.list().map((e) => e.id)).toEqual(["gamma"]);
  });

  it("watches a model dir that appears after start", async () => {
    const later = path.join(root, "later");
    const cat = makeCatalog({ dirs: [later], missingDirPollMs: 50 });
    await cat.start();
    expect(cat.list()).toEqual([]);
    await mkdir(later);
    await writeTinyGguf(path.join(later, "delta.gguf"), {});
    await waitFor(seen("added", "delta"), 2000, "delta added from the new dir");
    expect(cat.notes.some((n) => n.includes(later))).toBe(true);
  });

  it("a watched dir that is removed drops its models, and is watched again when it comes back", async () => {
    await writeTinyGguf(path.join(models, "epsilon.gguf"), {});
    const cat = makeCatalog({ missingDirPollMs: 50 });
    await cat.start();
    await rm(models, { recursive: true });
    await waitFor(seen("removed", "epsilon"), 1000, "epsilon removed with its dir");
    await mkdir(models);
    await writeTinyGguf(path.join(models, "zeta.gguf"), {});
    await waitFor(seen("added", "zeta"), 2000, "zeta added in the recreated dir");
    expect(cat.list().map((e) => e.id)).toEqual(["zeta"]);
  });

  it("notices a configured model file that appears later", async () => {
    const configured = path.join(root, "pinned.gguf");
    const cat = makeCatalog({ models: [{ id: "pinned", path: configured }], dirs: [] });
    await cat.start();
    expect(cat.get("pinned")?.error).toContain("does not exist");
    await writeTinyGguf(configured, {});
    await waitFor(seen("changed", "pinned"), 1000, "pinned changed");
    await waitFor(() => cat.get("pinned")?.error === undefined, 1000, "pinned readable");
    expect(cat.get("pinned")?.gguf?.architecture).toBe("llama");
  });

  it("config ids win over a dir file with the same id", async () => {
    await writeTinyGguf(path.join(models, "dup.gguf"), {});
    const configured = path.join(root, "dup.gguf");
    await writeTinyGguf(configured, {});
    const cat = makeCatalog({ models: [{ id: "dup", path: configured }] });
    await cat.start();
    expect(cat.list()).toHaveLength(1);
    expect(cat.get("dup")?.source).toBe("config");
    expect(cat.notes.some((n) => n.includes('id "dup" is already'))).toBe(true);
  });
});
