import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { commandAdapter } from "../../adapters/command/adapter.js";
import { llamaCppAdapter } from "../../adapters/llama-cpp/adapter.js";
import { llamaStubAdapter } from "../../adapters/llama-stub/adapter.js";
import { remoteAdapter } from "../../adapters/remote/adapter.js";
import type { ProbeOutcome } from "../../adapters/types.js";
import { isRmxError } from "../../base/errors.js";
import { launchContext, runtimeSpec } from "./spec-fixture.js";
import { freePort, killAllStubs, post, spawnServer, spawnStub, stubEntry, waitFor } from "./stub-harness.js";

const adapter = llamaCppAdapter;
const spec = runtimeSpec();

/** The environment a running process was started with (Linux only). */
function environOf(pid: number): Map<string, string> | undefined {
  if (process.platform !== "linux") return undefined;
  const raw = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
  return new Map(
    raw
      .split("\0")
      .filter((entry) => entry.includes("="))
      .map(
        (entry) =>
          [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)] as [string, string],
      ),
  );
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

afterEach(killAllStubs);

describe("probe classification against the real stub", () => {
  it("ok: a ready stub", async () => {
    const stub = await spawnStub([]).ready();
    const outcome = await adapter.probeHealth(stub.endpoint, spec, 2000);
    expect(outcome).toMatchObject({ kind: "ok", status: 200 });
    expect(outcome.ms).toBeGreaterThanOrEqual(0);
    expect(await adapter.probeInference(stub.endpoint, spec, 2000)).toMatchObject({
      kind: "ok",
      status: 200,
    });
  });

  it("loading: 503 Loading model on health and inference alike", async () => {
    const stub = await spawnStub(["--stub-load-ms", "1500"]).started();
    const expected = { kind: "loading", status: 503, message: "Loading model" };
    expect(await adapter.probeHealth(stub.endpoint, spec, 2000)).toMatchObject(expected);
    expect(await adapter.probeInference(stub.endpoint, spec, 2000)).toMatchObject(expected);
  });

  it("refused: nothing listens on the port", async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const outcome = await adapter.probeHealth(endpoint, spec, 2000);
    expect(outcome.kind).toBe("refused");
    expect((outcome as { message: string }).message).toContain("ECONNREFUSED");
    const err = await rejection(adapter.scrapeMetrics(endpoint, 2000));
    expect(isRmxError(err, "BACKEND_FAILED")).toBe(true);
  });

  it("timeout: a hung stub accepts and never answers", async () => {
    const stub = await spawnStub(["--metrics", "--stub-hang-after-ms", "0"]).started();
    const outcome = await adapter.probeHealth(stub.endpoint, spec, 300);
    expect(outcome).toMatchObject({ kind: "timeout" });
    expect((outcome as { message: string }).message).toContain("within 300 ms");
    expect((await adapter.probeInference(stub.endpoint, spec, 300)).kind).toBe("timeout");
    const err = await rejection(adapter.scrapeMetrics(stub.endpoint, 300));
    expect(isRmxError(err, "TIMEOUT")).toBe(true);
  });

  it("http_error: health 500, an unknown health path 404, and inference 500 while health is 200", async () => {
    const failing = await spawnStub(["--stub-fail-health"]).started();
    const outcome = await waitFor(async () => {
      const o = await adapter.probeHealth(failing.endpoint, spec, 2000);
      return o.kind === "http_error" ? o : undefined;
    });
    expect(outcome).toMatchObject({ kind: "http_error", status: 500 });
    expect((outcome as { message: string }).message).toContain("answered HTTP 500");

    const sick = await spawnStub(["--stub-fail-inference"]).ready();
    const wrongPath = runtimeSpec({ health: { ...spec.health, path: "/healthz" } });
    expect(await adapter.probeHealth(sick.endpoint, wrongPath, 2000)).toMatchObject({
      kind: "http_error",
      status: 404,
    });
    expect(await adapter.probeHealth(sick.endpoint, spec, 2000)).toMatchObject({ kind: "ok" });
    expect(await adapter.probeInference(sick.endpoint, spec, 2000)).toMatchObject({
      kind: "http_error",
      status: 500,
    });
  });

  it("scrapes metrics and slots, and reads 501 as not served", async () => {
    const full = await spawnStub(["--metrics", "--slots", "-np", "3"]).ready();
    await adapter.probeInference(full.endpoint, spec, 2000);
    const metrics = await adapter.scrapeMetrics(full.endpoint, 2000);
    expect(metrics?.prompt_tokens_total).toBe(2); // "Say ok"
    expect(metrics?.tokens_predicted_total).toBe(1);
    expect(metrics?.requests_processing).toBe(0);
    expect(await adapter.scrapeSlots(full.endpoint, 2000)).toEqual([
      { id: 0, n_ctx: 1365, is_processing: false },
      { id: 1, n_ctx: 1365, is_processing: false },
      { id: 2, n_ctx: 1365, is_processing: false },
    ]);

    const bare = await spawnStub([]).ready();
    expect(await adapter.scrapeMetrics(bare.endpoint, 2000)).toBeUndefined();
    expect(await adapter.scrapeSlots(bare.endpoint, 2000)).toBeUndefined();
  });
});

describe("a fake backend for answers the stub never gives", () => {
  let server: http.Server;
  let endpoint: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/reset") {
        req.socket.destroy();
        return;
      }
      if (req.url === "/slots") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify([{ id: 0, is_processing: true }, { nonsense: 1 }, { id: 1, n_ctx: 64 }]));
        return;
      }
      if (req.url === "/metrics") {
        res.writeHead(500);
        res.end("boom");
        return;
      }
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>welcome</html>");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("error: 200 without completion content, and a reset connection", async () => {
    const outcome = await adapter.probeInference(endpoint, spec, 2000);
    expect(outcome).toMatchObject({ kind: "error", status: 200 });
    expect((outcome as { message: string }).message).toContain("not JSON");
    const reset = await adapter.probeHealth(
      endpoint,
      runtimeSpec({ health: { ...spec.health, path: "/reset" } }),
      2000,
    );
    expect(reset.kind).toBe("error");
  });

  it("keeps well-formed slots, and throws BACKEND_FAILED on a 500 from /metrics", async () => {
    expect(await adapter.scrapeSlots(endpoint, 2000)).toEqual([
      { id: 0, is_processing: true },
      { id: 1, n_ctx: 64, is_processing: false },
    ]);
    const err = await rejection(adapter.scrapeMetrics(endpoint, 2000));
    expect(isRmxError(err, "BACKEND_FAILED")).toBe(true);
    expect((err as Error).message).toContain("HTTP 500");
  });
});

describe("launch plans run for real", () => {
  it("llama-stub: the plan starts a stub that is healthy, serves inference, metrics and chat", async () => {
    const ctx = launchContext({ port: await freePort(), stubEntry: stubEntry() });
    const stubSpec = runtimeSpec({
      adapter: "llama-stub",
      slots: 2,
      args: ["--slots"],
      env: { RMX_MARK: "x" },
    });
    const plan = llamaStubAdapter.plan(stubSpec, ctx);
    const proc = spawnServer(plan.command, plan.args, plan.env);
    const ready = await waitFor(async () => {
      const o = await llamaStubAdapter.probeHealth(`http://127.0.0.1:${ctx.port}`, stubSpec, 1000);
      return o.kind === "ok" ? o : undefined;
    });
    expect(ready.status).toBe(200);
    const endpoint = proc.endpoint;
    expect((await llamaStubAdapter.probeInference(endpoint, stubSpec, 2000)).kind).toBe("ok");
    expect((await llamaStubAdapter.scrapeMetrics(endpoint, 2000))?.tokens_predicted_total).toBe(1);
    expect(await llamaStubAdapter.scrapeSlots(endpoint, 2000)).toHaveLength(2);
    const chat = await post(llamaStubAdapter.chatUrl(endpoint), {
      messages: [{ role: "user", content: "hi" }],
    });
    expect(chat.status).toBe(200);

    const env = environOf(proc.pid);
    if (env !== undefined) {
      expect(env.get("CUDA_VISIBLE_DEVICES")).toBe("");
      expect(env.get("RMX_MARK")).toBe("x");
    }
  });

  it("command: placeholders and PORT reach a real server that the health path finds", async () => {
    const port = await freePort();
    const cmdSpec = runtimeSpec({
      adapter: "command",
      binary: process.execPath,
      args: [stubEntry(), "--host", "{host}", "--port", "{port}"],
    });
    const plan = commandAdapter.plan(cmdSpec, launchContext({ port }));
    expect(plan.args.slice(-4)).toEqual(["--host", "127.0.0.1", "--port", String(port)]);
    const proc = spawnServer(plan.command, plan.args, plan.env);
    await waitFor(async () => (await commandAdapter.probeHealth(proc.endpoint, cmdSpec, 1000)).kind === "ok");
    expect(await commandAdapter.scrapeMetrics(proc.endpoint, 2000)).toBeUndefined(); // 501 without --metrics
    expect(await commandAdapter.scrapeSlots(proc.endpoint, 2000)).toBeUndefined();
    expect(environOf(proc.pid)?.get("PORT") ?? String(port)).toBe(String(port));
  });
});

describe("remote adapter against OpenAI-compatible servers", () => {
  const KEY_ENV = "RMX_TEST_PROBE_KEY";
  let server: http.Server;
  let url: string;
  const seen: { path: string; auth?: string; body: string }[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        seen.push({
          path: req.url ?? "",
          body,
          ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
        });
        if (req.headers.authorization !== "Bearer sk-probe") {
          res.writeHead(401, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              error: { message: "Incorrect API key provided", type: "invalid_request_error" },
            }),
          );
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          req.url === "/v1/models"
            ? JSON.stringify({ object: "list", data: [{ id: "gpt-x" }] })
            : JSON.stringify({ choices: [{ message: { role: "assistant", content: "ok" } }] }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    delete process.env[KEY_ENV];
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("probes /v1/models and a one-token chat with the key from the named variable", async () => {
    const remote = runtimeSpec({ adapter: "remote", url, api_key_env: KEY_ENV, model: "gpt-x" });
    delete process.env[KEY_ENV];
    const denied: ProbeOutcome = await remoteAdapter.probeHealth(url, remote, 2000);
    expect(denied).toMatchObject({ kind: "auth", status: 401 });
    expect(seen.at(-1)).toEqual({ path: "/v1/models", body: "" });

    process.env[KEY_ENV] = "sk-probe";
    expect(await remoteAdapter.probeHealth(`${url}/v1`, remote, 2000)).toMatchObject({
      kind: "ok",
      status: 200,
    });
    expect(seen.at(-1)).toMatchObject({ path: "/v1/models", auth: "Bearer sk-probe" });
    expect(await remoteAdapter.probeInference(url, remote, 2000)).toMatchObject({ kind: "ok" });
    const chat = seen.at(-1);
    expect(chat?.path).toBe("/v1/chat/completions");
    expect(JSON.parse(chat?.body ?? "{}")).toEqual({
      messages: [{ role: "user", content: "Say ok" }],
      max_tokens: 1,
      model: "gpt-x",
    });
    expect(await remoteAdapter.scrapeMetrics(url, 2000)).toBeUndefined();
  });

  it("watches the stub as a remote endpoint too", async () => {
    const stub = await spawnStub([]).ready();
    const remote = runtimeSpec({ adapter: "remote", url: stub.endpoint });
    expect(await remoteAdapter.probeHealth(stub.endpoint, remote, 2000)).toMatchObject({ kind: "ok" });
    expect(await remoteAdapter.probeInference(stub.endpoint, remote, 2000)).toMatchObject({ kind: "ok" });
  });
});
