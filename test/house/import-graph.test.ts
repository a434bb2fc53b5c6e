/**
 * The house rules of the source tree, read from its static import graph: no import cycles, the shared
 * layers (adapters/, config/, ipc/) do not reach into daemon/, base/ imports nothing above it, and only the entry points know daemon/daemon.ts.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  edges,
  findCycles,
  type Graph,
  importGraph,
  loadedClosure,
  loadedSpecifiersOf,
  specifiersOf,
} from "./import-graph.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Files that may import daemon/daemon.ts: itself (trivially) and the executable that runs it. */
const KNOWS_THE_DAEMON: ReadonlySet<string> = new Set(["daemon/daemon.ts", "daemon/main.ts"]);

const key = ([from, to]: readonly [string, string]) => `${from} -> ${to}`;

describe("the import graph of base/, config/, daemon/, adapters/, ipc/", () => {
  const graph = importGraph(REPO);

  it("is read from every kind of relative import", () => {
    const source = [
      `import { a } from "./a.js";`,
      `import type {\n  B,\n  C,\n} from "../b.js";`,
      `export { d } from "./d.js";`,
      `export type * from "./e.js";`,
      `import "./side-effect.js";`,
      `const f = () => import("./lazy.js");`,
      `// import { x } from "./commented.js";`,
      `const s = 'import { y } from "./in-a-string.js"';`,
      `import pino from "pino";`,
    ].join("\n");
    expect(specifiersOf(source)).toEqual([
      "./a.js",
      "../b.js",
      "./d.js",
      "./e.js",
      "./side-effect.js",
      "./lazy.js",
    ]);
    // The daemon's own files are there, with their edges resolved to .ts files.
    expect(graph.get("daemon/main.ts")).toContain("daemon/daemon.ts");
    expect(graph.size).toBeGreaterThan(100);
  });

  it("finds a cycle and names its files in import order", () => {
    const g: Graph = new Map([
      ["a.ts", new Set(["b.ts"])],
      ["b.ts", new Set(["c.ts"])],
      ["c.ts", new Set(["a.ts", "d.ts"])],
      ["d.ts", new Set()],
      ["e.ts", new Set(["e.ts"])],
    ]);
    expect(findCycles(g)).toEqual(
      expect.arrayContaining([
        ["a.ts", "b.ts", "c.ts", "a.ts"],
        ["e.ts", "e.ts"],
      ]),
    );
    expect(findCycles(g)).toHaveLength(2);
  });

  it("has no cycle (type-only and dynamic imports included)", () => {
    const cycles = findCycles(graph).map((c) => c.join(" -> "));
    expect(cycles, `import cycles:\n${cycles.join("\n")}`).toEqual([]);
  });

  it("lets adapters/, config/ and ipc/ import nothing from daemon/", () => {
    const intoDaemon = edges(graph)
      .filter(([from, to]) => /^(adapters|config|ipc)\//.test(from) && to.startsWith("daemon/"))
      .map(key);
    expect(
      intoDaemon,
      `imports into daemon/ from adapters/, config/ or ipc/:\n${intoDaemon.join("\n")}`,
    ).toEqual([]);
  });

  it("keeps base/ the bottom layer and adapters/ and config/ below the contract", () => {
    const upward = edges(graph)
      .filter(
        ([from, to]) =>
          (from.startsWith("base/") && !to.startsWith("base/")) ||
          (/^(adapters|config)\//.test(from) && to.startsWith("ipc/")) ||
          (from.startsWith("adapters/") && to.startsWith("config/")),
      )
      .map(key);
    expect(upward, `imports against the layering:\n${upward.join("\n")}`).toEqual([]);
  });

  it("has no daemon/ file other than daemon.ts and main.ts importing daemon/daemon.ts", () => {
    const importers = edges(graph)
      .filter(([from, to]) => to === "daemon/daemon.ts" && !KNOWS_THE_DAEMON.has(from))
      .map(key);
    expect(importers).toEqual([]);
  });

  it("tells loaded imports from erased ones", () => {
    const source = [
      `import type { A } from "./a.js";`,
      `import { type B } from "./b.js";`,
      `import { z } from "zod";`,
      `export type * from "./c.js";`,
      `export { d } from "./d.js";`,
      `const e = () => import("./e.js");`,
    ].join("\n");
    expect(loadedSpecifiersOf(source)).toEqual(["./b.js", "zod", "./d.js"]);
  });

  it("keeps zod and daemon/ out of what the typed client and the CLI load at start-up", () => {
    for (const entry of ["ipc/client.ts", "ipc/protocol/index.ts", "ipc/cli/main.ts"]) {
      const { files, packages } = loadedClosure(REPO, entry);
      expect(
        [...packages].filter((p) => p === "zod" || p.startsWith("zod/")),
        entry,
      ).toEqual([]);
      expect(
        [...files].filter((f) => f.startsWith("daemon/")),
        entry,
      ).toEqual([]);
      expect(
        [...files].filter((f) => f.endsWith(".schema.ts") || f === "ipc/protocol/schemas.ts"),
        entry,
      ).toEqual([]);
    }
  });
});
