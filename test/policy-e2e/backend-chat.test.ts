/**
 * backendChat against real loopback servers: plain and streamed (SSE) answers, and each failure kind
 * classified for the router's retry decision (5xx/refused/timeout retryable, 4xx and partly streamed not).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { backendChat, isRetryable } from "../../adapters/shared/openai-client.js";

const servers: http.Server[] = [];

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

const body = { messages: [{ role: "user", content: "hi" }] };

describe("backendChat", () => {
  it("reads a plain answer: content, model, usage, timings", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          model: "m",
          choices: [{ finish_reason: "length", message: { role: "assistant", content: "hello" } }],
          usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3, extra: "x" },
          timings: { predicted_n: 2 },
        }),
      );
    });
    const reply = await backendChat({ url, headers: {}, body, timeoutMs: 5000 });
    expect(reply).toMatchObject({
      ok: true,
      content: "hello",
      model: "m",
      finish_reason: "length",
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      timings: { predicted_n: 2 },
    });
  });

  it("streams: pieces arrive in order, split across TCP chunks, and add up to the content", async () => {
    const url = await serve((req, res) => {
      let raw = "";
      req.on("data", (d) => {
        raw += d;
      });
      req.on("end", () => {
        expect(JSON.parse(raw).stream).toBe(true);
        res.writeHead(200, { "content-type": "text/event-stream" });
        const chunk = (c: object) => `data: ${JSON.stringify(c)}\n\n`;
        const text =
          chunk({ choices: [{ delta: { role: "assistant", content: null } }] }) +
          chunk({ choices: [{ delta: { content: "Hel" } }] }) +
          chunk({ choices: [{ delta: { content: "lo " } }] }) +
          chunk({ choices: [{ delta: { content: "world" } }] }) +
          chunk({
            choices: [{ finish_reason: "stop", delta: {} }],
            usage: { completion_tokens: 3 },
            model: "s",
          }) +
          "data: [DONE]\n\n";
        // Split mid-line to exercise the line buffer.
        res.write(text.slice(0, 37));
        setImmediate(() => res.end(text.slice(37)));
      });
    });
    const pieces: string[] = [];
    const reply = await backendChat({
      url,
      headers: {},
      body,
      timeoutMs: 5000,
      onDelta: (p) => pieces.push(p),
    });
    expect(pieces).toEqual(["Hel", "lo ", "world"]);
    expect(reply).toMatchObject({
      ok: true,
      content: "Hello world",
      finish_reason: "stop",
      model: "s",
      usage: { completion_tokens: 3 },
    });
  });

  it("classifies failures for the retry decision", async () => {
    const five = await serve((_req, res) => {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "Loading model" } }));
    });
    const four = await serve((_req, res) => {
      res.writeHead(400);
      res.end("context too long");
    });
    const slow = await serve(() => {});
    const refusedUrl = await serve(() => {});
    await new Promise<void>((resolve) => servers.pop()?.close(() => resolve()));

    const r5 = await backendChat({ url: five, headers: {}, body, timeoutMs: 5000 });
    expect(r5).toMatchObject({ ok: false, kind: "http_error", status: 503 });
    expect(!r5.ok && r5.message).toContain("HTTP 503: Loading model");
    expect(!r5.ok && isRetryable(r5)).toBe(true);

    const r4 = await backendChat({ url: four, headers: {}, body, timeoutMs: 5000, onDelta: () => {} });
    expect(r4).toMatchObject({ ok: false, kind: "http_error", status: 400, streamed: false });
    expect(!r4.ok && r4.message).toContain("HTTP 400: context too long");
    expect(!r4.ok && isRetryable(r4)).toBe(false);

    const rt = await backendChat({ url: slow, headers: {}, body, timeoutMs: 150 });
    expect(rt).toMatchObject({ ok: false, kind: "timeout" });
    expect(!rt.ok && isRetryable(rt)).toBe(true);

    const rr = await backendChat({ url: refusedUrl, headers: {}, body, timeoutMs: 2000, onDelta: () => {} });
    expect(rr).toMatchObject({ ok: false, kind: "refused" });
    expect(!rr.ok && isRetryable(rr)).toBe(true);
  });

  it("does not retry an answer that was partly streamed", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: "par" } }] })}\n\n`);
      setImmediate(() => res.destroy());
    });
    const pieces: string[] = [];
    const reply = await backendChat({
      url,
      headers: {},
      body,
      timeoutMs: 5000,
      onDelta: (p) => pieces.push(p),
    });
    expect(pieces).toEqual(["par"]);
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.streamed).toBe(true);
    expect(!reply.ok && isRetryable(reply)).toBe(false);
  });
});
