/**
 * The house rules of the source tree, read from its static import graph: no import cycles, the shared
 * layers (adapters/, ipc/) do not reach into daemon/, and only the entry points know daemon/daemon.ts.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { edges, findCycles, type Graph, importGraph, specifiersOf } from "./import-graph.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Edges from adapters/ or ipc/ into daemon/ that exist today and are to be removed (by moving the shared
 * types out of daemon/). The list may only shrink: an edge not listed fails, and so does a listed edge
 * that no longer exists (remove it from here when you remove it from the code).
 */
const ALLOWED_INTO_DAEMON: readonly (readonly [string, string])[] = [
  ["adapters/command.ts", "daemon/types.ts"],
  ["adapters/llama-cpp.ts", "daemon/types.ts"],
  ["adapters/registry.ts", "daemon/types.ts"],
  ["adapters/types.ts", "daemon/types.ts"],
  ["ipc/cli/commands/chat.ts", "daemon/policy/wire.ts"],
  ["ipc/cli/commands/config.ts", "daemon/config/json-schema.ts"],
  ["ipc/cli/commands/config.ts", "daemon/config/load.ts"],
  ["ipc/cli/commands/hardware.ts", "daemon/matrix/service.ts"],
  ["ipc/cli/commands/hardware.ts", "daemon/models/estimate.ts"],
  ["ipc/cli/commands/lease.ts", "daemon/policy/wire.ts"],
  ["ipc/cli/commands/matrix.ts", "daemon/types.ts"],
  ["ipc/cli/commands/models.ts", "daemon/matrix/models-view.ts"],
  ["ipc/cli/commands/models.ts", "daemon/models/estimate.ts"],
  ["ipc/cli/commands/models.ts", "daemon/models/gguf.ts"],
  ["ipc/cli/commands/models.ts", "daemon/types.ts"],
  ["ipc/cli/commands/pin.ts", "daemon/policy/wire.ts"],
  ["ipc/cli/commands/resolve.ts", "daemon/policy/wire.ts"],
  ["ipc/cli/commands/runtime-reload.ts", "daemon/policy/wire.ts"],
  ["ipc/cli/commands/runtime-restore.ts", "daemon/supervise/budget.ts"],
  ["ipc/cli/commands/runtime-restore.ts", "daemon/types.ts"],
  ["ipc/cli/format.ts", "daemon/types.ts"],
  ["ipc/cli/status-text.ts", "daemon/status/summary.ts"],
  ["ipc/cli/status-text.ts", "daemon/supervise/budget.ts"],
  ["ipc/cli/status-text.ts", "daemon/types.ts"],
  ["ipc/protocol.ts", "daemon/types.ts"],
  ["ipc/server.ts", "daemon/events.ts"],
];

/** Files that may import daemon/daemon.ts: itself (trivially) and the executable that runs it. */
const KNOWS_THE_DAEMON: ReadonlySet<string> = new Set(["daemon/daemon.ts", "daemon/main.ts"]);

const key = ([from, to]: readonly [string, string]) => `${from} -> ${to}`;

describe("the import graph of base/, daemon/, adapters/, ipc/", () => {
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

  it("lets adapters/ and ipc/ import nothing from daemon/ beyond today's allow-list, which only shrinks", () => {
    const intoDaemon = edges(graph)
      .filter(([from, to]) => /^(adapters|ipc)\//.test(from) && to.startsWith("daemon/"))
      .map(key);
    const allowed = ALLOWED_INTO_DAEMON.map(key);
    const unlisted = intoDaemon.filter((e) => !allowed.includes(e));
    expect(unlisted, `new imports into daemon/ from adapters/ or ipc/:\n${unlisted.join("\n")}`).toEqual([]);
    const gone = allowed.filter((e) => !intoDaemon.includes(e));
    expect(
      gone,
      `allow-listed edges that no longer exist; remove them from the list:\n${gone.join("\n")}`,
    ).toEqual([]);
  });

  it("has no daemon/ file other than daemon.ts and main.ts importing daemon/daemon.ts", () => {
    const importers = edges(graph)
      .filter(([from, to]) => to === "daemon/daemon.ts" && !KNOWS_THE_DAEMON.has(from))
      .map(key);
    expect(importers).toEqual([]);
  });
});
