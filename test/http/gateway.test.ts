/**
 * The OpenAI-compatible gateway on a real rmxd with llama-stub runtimes, driven by the real `openai`
 * client: chat (plain and streamed), completions, embeddings (refused in OpenAI's shape: the stub cannot
 * embed), models; unknown model; auth (none, wrong token) and the Host guard; on-demand start of a stopped
 * runtime; telemetry in runtime.status.
 */
import fs from "node:fs/promises";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../policy-e2e/support.js";
import { stopAll, tempDir } from "../support/daemon-harness.js";
import { type Gateway, raw, startGateway } from "./support.js";

const CONFIG = `
runtimes:
  - { id: alpha, adapter: llama-stub, args: ["--alias", "alpha", "--stub-tokens-per-second", "2000"], auto_start: true }
  - { id: lazy, adapter: llama-stub, args: ["--alias", "lazy", "--stub-tokens-per-second", "2000"], auto_start: false }
`;

let dir: string;
let g: Gateway;

beforeAll(async () => {
  dir = await tempDir("rmx-http-");
  g = await startGateway({ config: CONFIG, dir, ready: ["alpha"] });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

describe("OpenAI routes through the real client", () => {
  it("answers a chat completion and names the serving cell", async () => {
    const { data, response } = await g
      .openai()
      .chat.completions.create({
        model: "alpha",
        messages: [{ role: "user", content: "hello there" }],
        max_tokens: 5,
      })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBe(5);
    expect(response.headers.get("x-rmx-cell")).toBe("alpha@cpu/none");
  });

  it("streams a chat completion chunk by chunk", async () => {
    const stream = await g.openai().chat.completions.create({
      model: "alpha",
      messages: [{ role: "user", content: "count" }],
      max_tokens: 12,
      stream: true,
    });
    let text = "";
    let chunks = 0;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(chunks).toBeGreaterThanOrEqual(12);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe("length");
  });

  it("answers a completion", async () => {
    const c = await g
      .openai()
      .completions.create({ model: "alpha", prompt: "once upon a time", max_tokens: 4 });
    expect(c.object).toBe("text_completion");
    expect(c.choices[0]?.text.length).toBeGreaterThan(0);
    expect(c.usage?.completion_tokens).toBe(4);
  });

  it("refuses embeddings in OpenAI's shape when the cell cannot embed", async () => {
    const e = await g
      .openai()
      .embeddings.create({ model: "alpha", input: "hi" })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(e).toBeInstanceOf(OpenAI.APIError);
    const err = e as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(501);
    expect(err.code).toBe("embeddings_not_supported");
    expect(err.message).toContain("cannot embed");
  });

  it("lists every model the matrix can serve, with its state", async () => {
    const list = await g.openai().models.list();
    const byId = Object.fromEntries(list.data.map((m) => [m.id, m as unknown as { state: string }]));
    expect(Object.keys(byId).sort()).toEqual(["alpha", "lazy"]);
    expect(byId.alpha?.state).toBe("ready");
  });

  it("answers an unknown model with 404 model_not_found", async () => {
    const e = (await g
      .openai()
      .chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] })
      .catch((error: unknown) => error)) as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(404);
    expect(e.code).toBe("model_not_found");
    expect(e.message).toContain("alpha");
  });

  it("answers a malformed body with 400 in OpenAI's shape", async () => {
    const r = await raw(g.listen, {
      method: "POST",
      path: "/v1/chat/completions",
      headers: { host: g.listen, authorization: `Bearer ${g.token}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
    const noMessages = await raw(g.listen, {
      method: "POST",
      path: "/v1/chat/completions",
      headers: { host: g.listen, authorization: `Bearer ${g.token}` },
      body: JSON.stringify({ model: "alpha" }),
    });
    expect(noMessages.status).toBe(400);
    expect(JSON.parse(noMessages.body).error.param).toBe("messages");
  });

  it("caps the body size with 413", async () => {
    const r = await raw(g.listen, {
      method: "POST",
      path: "/v1/chat/completions",
      // Declared beyond the cap: refused before a byte of the body is read (the client is not left writing).
      headers: {
        host: g.listen,
        authorization: `Bearer ${g.token}`,
        "content-length": String(5 * 1024 * 1024),
      },
      body: "x",
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe("body_too_large");
  });
});

describe("auth and the Host guard", () => {
  it("refuses a request without a token, and one with a wrong token (401)", async () => {
    const none = await raw(g.listen, { path: "/v1/models", headers: { host: g.listen } });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).error.type).toBe("authentication_error");
    const wrong = (await g
      .openai({ apiKey: "rmx-wrong" })
      .models.list()
      .catch((error: unknown) => error)) as InstanceType<typeof OpenAI.APIError>;
    expect(wrong.status).toBe(401);
  });

  it("serves GET /health without a token", async () => {
    const r = await raw(g.listen, { path: "/health", headers: { host: g.listen } });
    expect(r.status).toBe(200);
  });

  it("refuses a foreign Host header (DNS rebinding) with 403, even with the token", async () => {
    const r = await raw(g.listen, {
      path: "/v1/models",
      headers: { host: "evil.example", authorization: `Bearer ${g.token}` },
    });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error.code).toBe("host_not_allowed");
    const localhost = await raw(g.listen, {
      path: "/v1/models",
      headers: { host: `localhost:${g.listen.split(":")[1]}`, authorization: `Bearer ${g.token}` },
    });
    expect(localhost.status).toBe(200);
  });

  it("refuses a cross-site Origin without CORS configured", async () => {
    const r = await raw(g.listen, {
      method: "OPTIONS",
      path: "/v1/chat/completions",
      headers: { host: g.listen, origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(r.status).toBe(403);
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("keeps the token across restarts, 0600 in the state dir, and prints it with rmx http token", async () => {
    const stat = await fs.stat(`${g.d.stateDir}/http-token`);
    expect(stat.mode & 0o777).toBe(0o600);
    const r = await g.d.cli(["http", "token", "--url"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([g.token, g.baseURL]);
  });
});

describe("on demand", () => {
  it("starts a stopped runtime for a request and answers once it is ready", async () => {
    expect((await g.d.status()).runtimes.find((r) => r.id === "lazy")?.state).toBe("stopped");
    const c = await g.openai().chat.completions.create({
      model: "lazy",
      messages: [{ role: "user", content: "wake" }],
      max_tokens: 2,
    });
    expect(c.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect((await g.d.status()).runtimes.find((r) => r.id === "lazy")?.state).toBe("ready");
  });
});

describe("telemetry", () => {
  it("shows per model, cell and route totals, errors and latency in runtime.status", async () => {
    const status = await call<{
      node: {
        http: {
          hits: number;
          gateway?: {
            listen?: string;
            requests: {
              model: string;
              cell: string;
              route: string;
              total: number;
              errors: number;
              p50_ms?: number;
              ttft_p50_ms?: number;
            }[];
          };
        };
      };
    }>(g.d, "runtime.status");
    const gw = status.node.http.gateway;
    expect(gw?.listen).toBe(g.listen);
    const chat = gw?.requests.find((r) => r.model === "alpha" && r.route === "/v1/chat/completions");
    expect(chat).toMatchObject({ cell: "alpha@cpu/none" });
    expect(chat?.total).toBeGreaterThanOrEqual(2);
    expect(chat?.p50_ms).toBeGreaterThan(0);
    expect(chat?.ttft_p50_ms).toBeGreaterThan(0);
    const embed = gw?.requests.find((r) => r.route === "/v1/embeddings");
    expect(embed?.errors).toBe(1);
    expect(status.node.http.hits).toBeGreaterThan(0);
  });
});
