import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startDaemon, stopAll } from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";

afterEach(stopAll);

describe("config reload and the model catalog", () => {
  it("a reload that adds a model dir rebuilds the catalog and announces models.changed", async () => {
    const daemon = await startDaemon({ config: "runtimes: []\n" });
    const dir = path.join(daemon.dir, "models");
    await fs.mkdir(dir);
    await writeTinyGguf(path.join(dir, "tiny-reloaded.gguf"), { architecture: "llama", name: "tiny" });
    const client = await daemon.client();
    const before = (await client.call("models.list")) as { models: { id: string }[] };
    expect(before.models.map((m) => m.id)).not.toContain("tiny-reloaded");

    let resolveChanged: () => void = () => {};
    const changed = new Promise<void>((resolve) => {
      resolveChanged = resolve;
    });
    await client.subscribe(["models.changed"], (e) => {
      if ((e.payload as { added: string[] }).added.includes("tiny-reloaded")) resolveChanged();
    });
    await fs.writeFile(daemon.configPath!, `runtimes: []\nmodel_dirs: ["${dir}"]\n`);
    const diff = await client.call("config.reload");
    expect(diff.unchanged).toEqual([]);
    await changed;
    const after = (await client.call("models.list")) as { models: { id: string }[] };
    expect(
      after.models.map((m) => m.id),
      JSON.stringify(after.models.map((m) => m.id)),
    ).toContain("tiny-reloaded");
  });
});
