/**
 * The message of INVALID_PARAMS: every failing field of a params schema, named by its path, in words.
 * Loaded by the daemon only (it needs zod).
 */
import type { z } from "zod";

export interface ParamsIssue {
  /** `params.id`, `params.topics[2]`, or `params` for the object itself. */
  path: string;
  code: string;
  message: string;
}

function pathText(segments: readonly PropertyKey[]): string {
  let text = "params";
  for (const segment of segments) {
    text += typeof segment === "number" ? `[${segment}]` : `.${String(segment)}`;
  }
  return text;
}

function valueAt(input: unknown, segments: readonly PropertyKey[]): unknown {
  let value = input;
  for (const segment of segments) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && !Number.isFinite(value)) return "non-finite number";
  return typeof value;
}

function describe(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case "invalid_type": {
      const value = valueAt(input, issue.path);
      return value === undefined
        ? `expected ${issue.expected}, but it is missing`
        : `expected ${issue.expected}, received ${kindOf(value)}`;
    }
    case "unrecognized_keys":
      return `unknown ${issue.keys.length === 1 ? "key" : "keys"} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    case "too_small":
      if (issue.origin === "array") return `must have at least ${issue.minimum} item(s)`;
      if (issue.origin === "string") {
        return Number(issue.minimum) === 1
          ? "must not be empty"
          : `must be at least ${issue.minimum} characters`;
      }
      return `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}`;
    case "too_big":
      if (issue.origin === "array") return `must have at most ${issue.maximum} item(s)`;
      if (issue.origin === "string") return `must be at most ${issue.maximum} characters`;
      return `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}`;
    default:
      return issue.message;
  }
}

/** One message naming every failing field (the first three), and the issues for `data.issues`. */
export function describeParamsError(
  error: z.ZodError,
  input: unknown,
): { message: string; issues: ParamsIssue[] } {
  const issues = error.issues.map((issue) => ({
    path: pathText(issue.path),
    code: issue.code,
    message: describe(issue, input),
  }));
  const shown = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`);
  if (issues.length > 3) shown.push(`and ${issues.length - 3} more`);
  return { message: shown.join("; "), issues };
}
