import type { Document, LineCounter } from "yaml";
import * as z from "zod";
import { RmxError } from "../base/errors.js";
import { type ConfigPath, formatPath, positionOf } from "./positions.js";

/** One problem in a config file, as carried in `RmxError.data.issues` of CONFIG_INVALID. */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** `runtimes[1].restart_budget.window_seconds`; empty for YAML syntax errors. */
  path: string;
  message: string;
}

/** A problem found on the parsed data, before it is placed in the source text. */
export interface PathIssue {
  path: ConfigPath;
  message: string;
}

/** The closest candidate when it is close enough to be a plausible typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(1, Math.floor(Math.max(word.length, best.candidate.length) / 3));
  return best.distance <= allowed ? best.candidate : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i]!;
    const prev = rows[i - 1]!;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row[j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** How a written value is shown after "got". */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}

function valueAt(data: unknown, path: ConfigPath): { found: boolean; value?: unknown } {
  let node = data;
  for (const segment of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, segment)) return { found: false };
    node = (node as Record<string | number, unknown>)[segment];
  }
  return { found: true, value: node };
}

/** Keys an object schema accepts at `path`, for "did you mean" on unknown keys. */
function knownKeysAt(schema: z.ZodType, path: ConfigPath): string[] {
  let current: z.ZodType | undefined = unwrapToObject(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject)
      current = (current.shape as Record<string, z.ZodType>)[String(segment)];
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else if (current instanceof z.ZodRecord) current = current.valueType as z.ZodType;
    else return [];
    if (current === undefined) return [];
    current = unwrapToObject(current);
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrapToObject(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional) current = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
    else if (current instanceof z.ZodUnion) {
      const options = (current.options as z.ZodType[]).map(unwrapToObject);
      return options.find((option) => option instanceof z.ZodObject) ?? current;
    } else return current;
  }
}

/** Enum values an issue accepts, looking inside union branches (`sandbox: bwrp` is a union of enum and mapping). */
function allowedValues(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "invalid_value") return issue.values.filter((v): v is string => typeof v === "string");
  if (issue.code === "invalid_union") return issue.errors.flat().flatMap(allowedValues);
  return [];
}

/**
 * Schema failures as user-facing problems. `data` is what the file holds, so "got" shows the value as written
 * (not a transformed one).
 */
export function issuesFromZod(error: z.ZodError, schema: z.ZodType, data: unknown): PathIssue[] {
  const out: PathIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((s): s is string | number => typeof s !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, path);
      for (const key of issue.keys) {
        const guess = suggest(key, known);
        const hint =
          guess !== undefined
            ? ` (did you mean "${guess}"?)`
            : known.length > 0
              ? `; known keys: ${known.join(", ")}`
              : "";
        out.push({ path: [...path, key], message: `unknown key "${key}"${hint}` });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      // A mapping key itself is wrong (e.g. an env name): show the key, with the key's own expectation.
      const inner = issue.issues[0]?.message ?? issue.message;
      out.push({ path, message: `${inner}, got ${describeValue(issue.input)}` });
      continue;
    }
    const written = valueAt(data, path);
    if (!written.found || written.value === undefined) {
      const key = path[path.length - 1];
      out.push({ path, message: key === undefined ? issue.message : `missing required key "${key}"` });
      continue;
    }
    let message = `${issue.message}, got ${describeValue(written.value)}`;
    if (typeof written.value === "string") {
      const guess = suggest(written.value, allowedValues(issue));
      if (guess !== undefined) message += ` (did you mean "${guess}"?)`;
    }
    out.push({ path, message });
  }
  return out;
}

/** Places each problem in the source and builds the CONFIG_INVALID error (one line per problem, in file order). */
export function configInvalid(file: string, placed: Array<Omit<ConfigIssue, "file">>): RmxError {
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const issue of placed) {
    const key = `${issue.line}:${issue.column}:${issue.path}:${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ file, ...issue });
  }
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  const message = issues
    .map((i) => `${i.file}:${i.line}:${i.column}: ${i.path === "" ? "" : `${i.path}: `}${i.message}`)
    .join("\n");
  return new RmxError("CONFIG_INVALID", message, { source: file, issues });
}

/** Positions for problems found on the data. */
export function placeIssues(
  doc: Document,
  lines: LineCounter,
  issues: readonly PathIssue[],
): Array<Omit<ConfigIssue, "file">> {
  return issues.map((issue) => ({
    ...positionOf(doc, lines, issue.path),
    path: formatPath(issue.path),
    message: issue.message,
  }));
}
