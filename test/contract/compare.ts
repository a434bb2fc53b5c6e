import { gunzipSync } from "node:zlib";
import { compareShape, compareValues, type Shape, shapeOf } from "./shape.js";
import type { Answer } from "./target.js";

/** The headers clients read; each must be present exactly when recorded, with the recorded value unless volatile. */
const CLIENT_HEADERS = [
  "server",
  "content-type",
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "access-control-allow-methods",
  "access-control-allow-headers",
  "process-start-time-unix",
  "content-encoding",
  "cross-origin-embedder-policy",
  "cross-origin-opener-policy",
  "accept-ranges",
  "keep-alive",
  "cache-control",
  "date",
];

/** Values that are facts of the server, not of the model or the clock. */
const DETERMINISTIC = [
  /^\$\.error\./,
  /^\$\.(object|model|status|stop|index|truncated|total_slots|id)$/,
  /^\$\.data\[\]\.(object|owned_by|index)$/,
  /^\$\.choices\[\]\.(index|finish_reason|logprobs|message\.role)$/,
  /^\$(\[\])?\.?(default_generation_settings\.)?n_ctx$/,
  // /props' defaults only: a /slots entry's `params` are its last request's sampling settings (state, not a
  // fact of the server: the real b4748 answers whatever the previous test asked for).
  /^\$\.default_generation_settings\.params\./,
];

export interface Recorded {
  request: { method: string; path: string; headers?: Record<string, string>; body?: unknown };
  response: {
    status: number;
    headers: Record<string, string>;
    content_type?: string;
    body_kind: string;
    shape?: Shape;
    values?: unknown;
    text?: string;
    sse_events?: { shape?: Shape; values?: unknown; data?: string }[];
  };
}

/** Per-exchange allowances, each with its reason (docs/llama-stub.md lists them). */
export interface Allowance {
  /** Paths whose values are not compared. */
  values?: RegExp[];
  /** Error messages compared up to this prefix only. */
  messagePrefix?: string;
}

function parseSse(text: string): { shape?: Shape; values?: unknown; data?: string }[] {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => {
      const data = block.slice("data: ".length);
      if (data === "[DONE]") return { data };
      const value = JSON.parse(data) as unknown;
      return { shape: shapeOf(value), values: value };
    });
}

/** Consecutive events of one shape count as one run: how many content events there are depends on the text. */
function runs<T extends { shape?: Shape; data?: string }>(events: T[]): T[] {
  return events.filter(
    (e, i) =>
      i === 0 ||
      JSON.stringify(e.shape ?? e.data) !== JSON.stringify(events[i - 1]?.shape ?? events[i - 1]?.data),
  );
}

/** Every difference of a live answer from the recorded exchange. */
export function compareExchange(recorded: Recorded, answer: Answer, allow: Allowance = {}): string[] {
  const r = recorded.response;
  const out: string[] = [];
  if (answer.status !== r.status) out.push(`status: recorded ${r.status}, got ${answer.status}`);
  const recordedHeaders = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
  for (const name of CLIENT_HEADERS) {
    const want = recordedHeaders[name];
    const got = answer.headers[name];
    if (want === undefined && got !== undefined)
      out.push(`header ${name}: not recorded, got ${JSON.stringify(got)}`);
    else if (want !== undefined && got === undefined)
      out.push(`header ${name}: recorded ${JSON.stringify(want)}, missing`);
    else if (want !== undefined && !want.startsWith("<volatile") && want !== got) {
      out.push(`header ${name}: recorded ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
  }
  const skip = allow.values ?? [];
  const deterministic = (p: string) =>
    DETERMINISTIC.some((re) => re.test(p)) && !skip.some((re) => re.test(p));
  const values = (rec: unknown, act: unknown, at = "$") => {
    let diffs = compareValues(rec, act, deterministic, at);
    if (allow.messagePrefix !== undefined) {
      const prefix = allow.messagePrefix;
      const message = (act as { error?: { message?: unknown } } | undefined)?.error?.message;
      diffs = diffs.filter((d) => !(d.startsWith("$.error.message") && String(message).startsWith(prefix)));
    }
    return diffs;
  };
  if (r.body_kind === "json") {
    let body: unknown;
    try {
      body = JSON.parse(answer.body.toString("utf8"));
    } catch {
      return [
        ...out,
        `body: recorded JSON, got ${JSON.stringify(answer.body.toString("utf8").slice(0, 200))}`,
      ];
    }
    if (r.shape !== undefined) out.push(...compareShape(r.shape, shapeOf(body)));
    out.push(...values(r.values, body));
  } else if (r.body_kind === "text") {
    if (answer.body.toString("utf8") !== r.text)
      out.push(
        `text: recorded ${JSON.stringify(r.text)}, got ${JSON.stringify(answer.body.toString("utf8"))}`,
      );
  } else if (r.body_kind === "empty") {
    if (answer.body.length !== 0) out.push(`body: recorded empty, got ${answer.body.length} bytes`);
  } else if (r.body_kind.startsWith("encoded")) {
    try {
      gunzipSync(answer.body);
    } catch {
      out.push("body: recorded gzip, got something gunzip refuses");
    }
  } else if (r.body_kind === "sse") {
    const want = runs(r.sse_events ?? []);
    const got = runs(parseSse(answer.body.toString("utf8")));
    if (want.length !== got.length) {
      out.push(`sse: recorded ${want.length} runs of events, got ${got.length}`);
    }
    want.forEach((w, i) => {
      const g = got[i];
      if (g === undefined) return;
      if (w.data !== undefined || g.data !== undefined) {
        if (w.data !== g.data)
          out.push(`sse run ${i}: recorded ${w.data ?? "an event"}, got ${g.data ?? "an event"}`);
        return;
      }
      out.push(...compareShape(w.shape as Shape, g.shape as Shape, `$sse[${i}]`));
      out.push(...values(w.values, g.values, `$`).map((d) => `sse run ${i}: ${d}`));
    });
  }
  return out;
}
