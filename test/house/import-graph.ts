/**
 * The static import graph of the product's source (base/, config/, daemon/, adapters/, ipc/): every relative
 * `import … from`, `export … from`, `import type`, side-effect import and dynamic `import("…")`, with
 * `.js` specifiers resolved to the `.ts` files tsc compiles them from. Read by TypeScript's own
 * pre-processor, so multi-line imports, comments and strings are handled as the compiler handles them.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

export const ROOTS = ["base", "config", "daemon", "adapters", "ipc"] as const;

/** Files relative to `repo`, with forward slashes: `daemon/daemon.ts`. */
export type Graph = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

function resolveSpecifier(fromFile: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), specifier);
  const candidates = [
    base.replace(/\.js$/, ".ts"),
    base.replace(/\.mjs$/, ".mts"),
    base,
    `${base}.ts`,
    path.join(base, "index.ts"),
  ];
  return candidates.find((c) => c.endsWith(".ts") && existsSync(c) && statSync(c).isFile());
}

/** Relative specifiers a file imports, as TypeScript sees them (imports, re-exports, dynamic imports). */
export function specifiersOf(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((f) => f.fileName).filter((s) => s.startsWith("./") || s.startsWith("../"));
}

export function importGraph(repo: string): Graph {
  const graph: Graph = new Map();
  const rel = (file: string) => path.relative(repo, file).split(path.sep).join("/");
  for (const root of ROOTS) {
    for (const file of sourceFiles(path.join(repo, root))) {
      const edges = new Set<string>();
      for (const specifier of specifiersOf(readFileSync(file, "utf8"))) {
        const target = resolveSpecifier(file, specifier);
        if (target === undefined) continue;
        const to = rel(target);
        if (ROOTS.some((r) => to.startsWith(`${r}/`))) edges.add(to);
      }
      graph.set(rel(file), edges);
    }
  }
  return graph;
}

/**
 * Every strongly connected component with more than one file (or a file importing itself), each as one
 * cycle through it, in import order: `a.ts -> b.ts -> a.ts`.
 */
export function findCycles(graph: Graph): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, indices.get(w) as number));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) visit(v);
  return components.map((c) => cycleThrough(graph, new Set(c)));
}

/** The shortest path from the component's first file (by name) back to itself, inside the component. */
function cycleThrough(graph: Graph, members: Set<string>): string[] {
  const start = [...members].sort()[0] as string;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() as string;
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const cycle = [start];
        for (let at: string | undefined = v; at !== undefined && at !== start; at = previous.get(at))
          cycle.splice(1, 0, at);
        return [...cycle, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

export function edges(graph: Graph): [string, string][] {
  return [...graph].flatMap(([from, to]) => [...to].map((t): [string, string] => [from, t]));
}

/**
 * Specifiers a file loads when it is loaded: static imports and re-exports, bare ones (`zod`) included,
 * without `import type` / `export type` (erased by tsc) and without dynamic `import()` (loaded on demand).
 * Under verbatimModuleSyntax `import { type A } from "x"` still loads "x", so it counts.
 */
export function loadedSpecifiersOf(source: string): string[] {
  const file = ts.createSourceFile("x.ts", source, ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const statement of file.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      if (statement.importClause?.isTypeOnly) continue;
      out.push(statement.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(statement) &&
      statement.moduleSpecifier !== undefined &&
      ts.isStringLiteral(statement.moduleSpecifier)
    ) {
      if (statement.isTypeOnly) continue;
      out.push(statement.moduleSpecifier.text);
    }
  }
  return out;
}

/**
 * Every file (repo-relative) and bare package `entry` loads at start-up, transitively: what a process that
 * imports it pays for.
 */
export function loadedClosure(repo: string, entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (rel: string) => {
    if (files.has(rel)) return;
    files.add(rel);
    const abs = path.join(repo, rel);
    for (const specifier of loadedSpecifiersOf(readFileSync(abs, "utf8"))) {
      if (!specifier.startsWith(".")) {
        if (!specifier.startsWith("node:")) packages.add(specifier);
        continue;
      }
      const target = resolveSpecifier(abs, specifier);
      if (target !== undefined) visit(path.relative(repo, target).split(path.sep).join("/"));
    }
  };
  visit(entry);
  return { files, packages };
}
