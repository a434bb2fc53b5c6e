/**
 * The gateway's routes beyond chat, on a real rmxd with a whisper.cpp cell (the whisper stub) and an
 * onnxruntime cell (rmxd's ONNX server): the 404 of an unknown path lists every route it serves;
 * transcriptions and KServe infer requests are in `in_flight` while they are answered (held open by a body
 * that has not finished arriving); and each infer request is recorded exactly once with the HTTP status it
 * was answered with, whether it came through the gateway (`observe`) or the socket (`record`): the
 * Prometheus `rmx_requests_total{code}` and the cell's `requests` both move by one.
 */
import fs from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_HEADER, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import { matmulModel } from "../onnx/onnx-writer.js";
import { modelFile } from "../onnx/server-harness.js";
import { call } from "../policy-e2e/support.js";
import { stopAll, tempDir, until } from "../support/daemon-harness.js";
import { WHISPER_STUB } from "../whisper/whisper-server-harness.js";
import { type Gateway, raw, startGateway } from "./support.js";

let dir: string;
let g: Gateway;
const X = { name: "X", shape: [2, 2], datatype: "FP32", data: [1, 1, 2, 0] };
const CELL = "matmul@cpu/none";

beforeAll(async () => {
  dir = await tempDir("rmx-http-routes-");
  const whisper = path.join(dir, "ggml-tiny.bin");
  await fs.writeFile(whisper, writeWhisperHeader(TINY_HEADER));
  const onnx = await modelFile("matmul.onnx", matmulModel());
  g = await startGateway({
    config: `
runtimes:
  - id: asr
    adapter: whisper.cpp
    binary: ${WHISPER_STUB}
    model: ${whisper}
    threads: 1
    auto_start: true
  - { id: vision, adapter: onnxruntime, model: ${onnx}, auto_start: true }
`,
    dir,
    ready: ["asr", "vision"],
  });
}, 90_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

const postJson = (route: string, body: unknown) =>
  raw(g.listen, {
    method: "POST",
    path: route,
    headers: { authorization: `Bearer ${g.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

async function inFlight(): Promise<number> {
  const status = await call<{ node: { http: { gateway?: { in_flight: number } } } }>(g.d, "runtime.status");
  return status.node.http.gateway?.in_flight ?? -1;
}

async function metrics(): Promise<string> {
  const res = await fetch(`http://${g.listen}/metrics`, { headers: { authorization: `Bearer ${g.token}` } });
  expect(res.status).toBe(200);
  return res.text();
}

/** The sum of `family`'s samples whose labels include every `labels` pair. */
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

async function cellRequests(): Promise<{ total: number; errors: number }> {
  const { cells } = await call<{ cells: MatrixCell[] }>(g.d, "matrix.get");
  const r = cells.find((c) => c.key === CELL)?.requests;
  return { total: r?.total ?? 0, errors: r?.errors ?? 0 };
}

/** A POST whose body never finishes arriving: the request stays in flight until `close()`. */
function heldOpen(route: string, headers: Record<string, string>, start: string) {
  const colon = g.listen.lastIndexOf(":");
  const req = http.request({
    host: g.listen.slice(0, colon),
    port: Number(g.listen.slice(colon + 1)),
    method: "POST",
    path: route,
    headers: { authorization: `Bearer ${g.token}`, "content-length": "100000", ...headers },
    agent: false,
  });
  req.on("error", () => {}); // closed on purpose
  req.write(start);
  return { close: () => req.destroy() };
}

describe("the gateway's other routes", () => {
  it("an unknown path's 404 lists every route, transcriptions and KServe infer included", async () => {
    const answer = await raw(g.listen, {
      path: "/v9/nothing",
      headers: { authorization: `Bearer ${g.token}` },
    });
    expect(answer.status).toBe(404);
    const message = (JSON.parse(answer.body) as { error: { message: string } }).error.message;
    expect(message).toBe(
      "no route GET /v9/nothing: the gateway serves POST /v1/chat/completions, POST /v1/completions, " +
        "POST /v1/embeddings, POST /v1/audio/transcriptions, POST /v2/models/{name}/infer, GET /v1/models, GET /health",
    );
  });

  it.each([
    [
      "transcriptions",
      "/v1/audio/transcriptions",
      { "content-type": "multipart/form-data; boundary=b" },
      "--b\r\n",
    ],
    ["infer", `/v2/models/matmul/infer`, { "content-type": "application/json" }, '{"inputs": ['],
  ])(
    "a %s request is in in_flight while it is answered, and leaves it after",
    async (_name, route, headers, start) => {
      expect(await inFlight()).toBe(0);
      const held = heldOpen(route, headers, start);
      await until(
        async () => ((await inFlight()) === 1 ? true : undefined),
        10_000,
        "in_flight to count the request",
      );
      held.close();
      await until(
        async () => ((await inFlight()) === 0 ? true : undefined),
        10_000,
        "in_flight to drop back to 0",
      );
    },
  );

  it("counts each infer once with the status it answered: gateway 200, 400 and 404, socket 200", async () => {
    const before = await metrics();
    const cellBefore = await cellRequests();
    const count = (text: string, labels: Record<string, string>) =>
      sample(text, "rmx_requests_total", labels);

    expect((await postJson("/v2/models/matmul/infer", { inputs: [X] })).status).toBe(200);
    let text = await metrics();
    expect(count(text, { cell: CELL, code: "200" }) - count(before, { cell: CELL, code: "200" })).toBe(1);
    expect(await cellRequests()).toEqual({ total: cellBefore.total + 1, errors: cellBefore.errors });

    // The backend's 400 (a tensor of the wrong size) reached the cell: counted there as an error.
    const bad = await postJson("/v2/models/matmul/infer", { inputs: [{ ...X, data: [1, 2, 3] }] });
    expect(bad.status).toBe(400);
    text = await metrics();
    expect(count(text, { cell: CELL, code: "400" }) - count(before, { cell: CELL, code: "400" })).toBe(1);
    expect(await cellRequests()).toEqual({ total: cellBefore.total + 2, errors: cellBefore.errors + 1 });

    // No cell serves "resnet": counted under its name and no cell, never under one.
    expect((await postJson("/v2/models/resnet/infer", { inputs: [X] })).status).toBe(404);
    text = await metrics();
    expect(
      count(text, { model: "resnet", code: "404" }) - count(before, { model: "resnet", code: "404" }),
    ).toBe(1);

    // The socket path records through `record`; the gateway path never also did.
    await call(g.d, "infer.respond", { model: "matmul", inputs: [X] });
    text = await metrics();
    expect(count(text, { cell: CELL, code: "200" }) - count(before, { cell: CELL, code: "200" })).toBe(2);
    expect(await cellRequests()).toEqual({ total: cellBefore.total + 3, errors: cellBefore.errors + 1 });
    expect(count(text, { cell: CELL }) - count(before, { cell: CELL })).toBe(3);
  });

  it("lists the infer series under its route in runtime.status", async () => {
    const status = await call<{
      node: {
        http: { gateway?: { requests: { model: string; cell: string; route: string; total: number }[] } };
      };
    }>(g.d, "runtime.status");
    const series = (status.node.http.gateway?.requests ?? []).filter(
      (r) => r.route === "/v2/models/{name}/infer",
    );
    expect(series.find((r) => r.cell === CELL)?.total).toBe(3);
  });
});
