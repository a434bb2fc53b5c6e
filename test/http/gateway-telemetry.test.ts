/**
 * The gateway's one record per request, seen from outside on a real rmxd: after requests with known
 * outcomes (200 plain and streamed, 400, 404, 401, and a stream the client aborts: 499), GET /metrics on
 * the gateway's listener counts them per code with a time-to-first-token histogram, `matrix.get` carries
 * the cell's request telemetry, and `rmx matrix` shows it as a compact line (and `--json` as fields).
 */
import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../policy-e2e/support.js";
import { stopAll, tempDir, until } from "../support/daemon-harness.js";
import { type Gateway, raw, startGateway } from "./support.js";

const CONFIG = `
runtimes:
  - { id: alpha, adapter: llama-stub, args: ["--alias", "alpha", "--stub-tokens-per-second", "2000"], auto_start: true }
  - { id: slow, adapter: llama-stub, args: ["--alias", "slow", "--stub-tokens-per-second", "40"], auto_start: true }
`;

let dir: string;
let g: Gateway;

beforeAll(async () => {
  dir = await tempDir("rmx-http-telemetry-");
  g = await startGateway({ config: CONFIG, dir, ready: ["alpha", "slow"] });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

async function metrics(): Promise<string> {
  const res = await fetch(`${g.baseURL.replace(/\/v1$/, "")}/metrics`, {
    headers: { authorization: `Bearer ${g.token}` },
  });
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of the one sample of `family` whose labels include every `labels` pair; 0 when none. */
function sample(text: string, family: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${family}{`)) continue;
    const close = line.lastIndexOf("}");
    const body = line.slice(family.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`)))
      total += Number(line.slice(close + 2));
  }
  return total;
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  raw(g.listen, {
    method: "POST",
    path,
    headers: { authorization: `Bearer ${g.token}`, "content-type": "application/json", ...headers },
    body,
  });

describe("the gateway's request record", () => {
  it("counts each answered status code, duration and time to first token in /metrics", async () => {
    const ai = g.openai();
    await ai.chat.completions.create({
      model: "alpha",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 4,
    });
    const stream = await ai.chat.completions.create({
      model: "alpha",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 4,
      stream: true,
    });
    for await (const _ of stream) {
      // drained
    }
    expect((await post("/v1/chat/completions", "{not json")).status).toBe(400);
    expect(
      (
        await post(
          "/v1/chat/completions",
          JSON.stringify({ model: "nope", messages: [{ role: "user", content: "x" }] }),
        )
      ).status,
    ).toBe(404);
    const unauth = await raw(g.listen, {
      method: "POST",
      path: "/v1/chat/completions",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(unauth.status).toBe(401);

    // A stream the client abandons after its first token (2000 tokens at 40/s would take 50 s).
    const abort = new AbortController();
    const long = await ai.chat.completions.create(
      {
        model: "slow",
        messages: [{ role: "user", content: "a long story" }],
        max_tokens: 2000,
        stream: true,
      },
      { signal: abort.signal },
    );
    try {
      for await (const chunk of long) {
        if (chunk.choices[0]?.delta?.content) {
          abort.abort();
          break;
        }
      }
    } catch (error) {
      expect(String(error)).toMatch(/abort/i);
    }

    const text = await until(
      async () => {
        const t = await metrics();
        return sample(t, "rmx_requests_total", { model: "slow", code: "499" }) >= 1 ? t : undefined;
      },
      10_000,
      "the aborted stream to be counted as 499",
    );
    const alpha = { model: "alpha", cell: "alpha@cpu/none" };
    expect(sample(text, "rmx_requests_total", { ...alpha, code: "200" })).toBe(2);
    expect(sample(text, "rmx_requests_total", { code: "400" })).toBe(1);
    expect(sample(text, "rmx_requests_total", { code: "404" })).toBe(1);
    expect(sample(text, "rmx_requests_total", { code: "401" })).toBe(1);
    expect(sample(text, "rmx_request_duration_seconds_count", alpha)).toBe(2);
    // Plain (== its duration) and streamed (the first chunk) alike; the aborted one has none.
    expect(sample(text, "rmx_time_to_first_token_seconds_count", alpha)).toBe(2);
    expect(sample(text, "rmx_time_to_first_token_seconds_count", { model: "slow" })).toBe(0);
    expect(sample(text, "rmx_request_duration_seconds_count", { model: "slow" })).toBe(1);

    const status = await call<{
      node: {
        http: { gateway?: { requests: { model: string; route: string; errors_by_class?: object }[] } };
      };
    }>(g.d, "runtime.status");
    const slow = status.node.http.gateway?.requests.find((r) => r.model === "slow");
    expect(slow?.errors_by_class).toEqual({ aborted: 1 });
  });

  it("shows the cell's requests in matrix.get, rmx matrix and rmx matrix --json", async () => {
    const matrix = await call<{
      cells: { key: string; runtimes: string[]; requests?: Record<string, unknown> }[];
    }>(g.d, "matrix.get");
    const cell = matrix.cells.find((c) => c.key === "alpha@cpu/none");
    expect(cell?.requests).toMatchObject({ total: 2, errors: 0, error_rate: 0 });
    expect(cell?.requests?.p95_ms).toBeGreaterThan(0);
    expect(cell?.requests?.ttft_p50_ms).toBeGreaterThan(0);
    expect(cell?.requests?.slow).toBeUndefined();
    // A cell nothing was routed to carries no requests field.
    const idle = matrix.cells.filter((c) => c.runtimes.length === 0);
    expect(idle.length).toBeGreaterThan(0);
    expect(idle.every((c) => c.requests === undefined)).toBe(true);

    const text = await g.d.cli(["matrix"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/alpha@cpu\/none\s+req 2 err 0% p95 \S+ms ttft \S+ms/);
    expect(text.stdout).toMatch(/slow@cpu\/none\s+req 1 err 100%/);
    const json = await g.d.cli(["matrix", "--json"]);
    const parsed = JSON.parse(json.stdout) as { cells: { key: string; requests?: { total: number } }[] };
    expect(parsed.cells.find((c) => c.key === "alpha@cpu/none")?.requests?.total).toBe(2);
    const list = await g.d.cli(["matrix", "--list"]);
    expect(list.stdout).toMatch(/alpha on cpu in sandbox none: .*2 requests routed, 0 errors/);
  });
});
