import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";

export type ConfigPath = ReadonlyArray<string | number>;

export interface SourcePosition {
  line: number;
  column: number;
}

/**
 * Where `path` is written in the document: the key of the last map entry on the path (or the item, in a
 * list). A path that does not exist all the way (a missing key) points at the deepest part that does.
 */
export function positionOf(doc: Document, lines: LineCounter, path: ConfigPath): SourcePosition {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

/** `runtimes[1].restart_budget.window_seconds`; keys that are not identifiers are quoted: `env["A.B"]`. */
export function formatPath(path: ConfigPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === "" ? "(top level)" : out;
}
