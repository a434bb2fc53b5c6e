/**
 * Params schemas for every method in ipc/protocol.ts. Strict: an unknown key is an error that names
 * it, so a typo (`--reset-buget`) never passes silently. Absent params are validated as `{}`.
 */
import { z } from "zod";
import type { Methods } from "./protocol.js";

export const MAX_TOPICS = 32;
const MAX_ID_CHARS = 256;
const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

const runtimeId = z.string().min(1).max(MAX_ID_CHARS);
const timeoutMs = z.number().int().min(1).max(MAX_TIMEOUT_MS);
const noParams = z.strictObject({});

const startStop = z.strictObject({
  id: runtimeId,
  wait: z.boolean().default(false),
  timeout_ms: timeoutMs.optional(),
});

export const paramSchemas: Record<keyof Methods, z.ZodType> = {
  "daemon.hello": noParams,
  "runtime.status": noParams,
  "runtime.restore": z.strictObject({
    id: runtimeId,
    restart: z.boolean().default(true),
    reset_budget: z.boolean().default(false),
    wait: z.boolean().default(false),
    timeout_ms: timeoutMs.optional(),
  }),
  "runtime.start": startStop,
  "runtime.stop": startStop,
  "runtime.logs": z.strictObject({
    id: runtimeId,
    lines: z.number().int().min(0).max(10_000).default(100),
    follow: z.boolean().default(false),
  }),
  "events.subscribe": z.strictObject({
    topics: z.array(z.string().min(1).max(MAX_ID_CHARS)).min(1).max(MAX_TOPICS),
  }),
  "events.unsubscribe": z.strictObject({ subscription: z.string().min(1).max(MAX_ID_CHARS) }),
  "config.reload": noParams,
  "matrix.get": noParams,
  "dashboard.login": noParams,
};

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
