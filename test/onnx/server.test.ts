/**
 * rmxd's ONNX server with the real onnxruntime-node: KServe v2 routes, real arithmetic from a graph built by
 * the test writer, precise 400s, Triton-named metrics, and its documented exits (CUDA missing 5,
 * onnxruntime-node missing 4, a bad model 3, a bad flag 2).
 */
import { cp } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertOnnxRuntimeInstalled } from "../../adapters/onnxruntime/server-entry.js";
import { httpRequest } from "../../adapters/shared/http.js";
import { tempDir } from "../support/daemon-harness.js";
import { addModel, matmulModel } from "./onnx-writer.js";
import {
  modelFile,
  ONNX_SERVER,
  REPO,
  type RunningServer,
  runServer,
  startOnnxServer,
} from "./server-harness.js";

let add: RunningServer;
let matmul: RunningServer;

beforeAll(async () => {
  [add, matmul] = await Promise.all([
    startOnnxServer(await modelFile("add.onnx", addModel())),
    startOnnxServer(await modelFile("matmul.onnx", matmulModel()), ["--max-body-bytes", "4096"]),
  ]);
}, 60_000);
afterAll(() => {
  add?.proc.kill("SIGTERM");
  matmul?.proc.kill("SIGTERM");
});

async function post(base: string, url: string, body: unknown) {
  const r = await httpRequest(`${base}${url}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json" },
    timeoutMs: 10_000,
  });
  if (r.kind !== "response") throw new Error(r.message);
  return { status: r.status, json: JSON.parse(r.body) as Record<string, unknown> };
}

async function get(base: string, url: string) {
  const r = await httpRequest(`${base}${url}`, { timeoutMs: 10_000 });
  if (r.kind !== "response") throw new Error(r.message);
  return { status: r.status, body: r.body };
}

const A = { name: "A", shape: [2, 2], datatype: "FP32", data: [1, 2, 3, 4] };
const B = {
  name: "B",
  shape: [2, 2],
  datatype: "FP32",
  data: [
    [10, 20],
    [30, 40],
  ],
};

describe("rmxd's ONNX server (KServe v2)", () => {
  it("answers health and metadata with KServe datatypes and -1 for dynamic dimensions", async () => {
    expect((await get(add.base, "/v2/health/live")).status).toBe(200);
    expect((await get(add.base, "/v2/health/ready")).status).toBe(200);
    expect((await get(add.base, "/v2/models/add/ready")).status).toBe(200);
    expect(JSON.parse((await get(matmul.base, "/v2/models/matmul")).body)).toEqual({
      name: "matmul",
      versions: ["1"],
      platform: "onnxruntime_onnx",
      inputs: [{ name: "X", datatype: "FP32", shape: [-1, 2] }],
      outputs: [{ name: "Y", datatype: "FP32", shape: [-1, 2] }],
    });
    const unknown = await get(add.base, "/v2/models/nope");
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error).toMatch(/unknown model "nope".*serves "add"/);
  });

  it("adds two [2,2] tensors and multiplies by an initializer: the arithmetic result", async () => {
    const sum = await post(add.base, "/v2/models/add/infer", { inputs: [A, B] });
    expect(sum.status).toBe(200);
    expect(sum.json).toEqual({
      model_name: "add",
      model_version: "1",
      outputs: [{ name: "C", shape: [2, 2], datatype: "FP32", data: [11, 22, 33, 44] }],
    });
    // [[1,0],[0,1],[2,1]] · [[1,2],[3,4]] with a batch of 3 on the dynamic dimension.
    const product = await post(matmul.base, "/v2/models/matmul/infer", {
      inputs: [{ name: "X", shape: [3, 2], datatype: "FP32", data: [1, 0, 0, 1, 2, 1] }],
      outputs: [{ name: "Y" }],
    });
    expect(product.json.outputs).toEqual([
      { name: "Y", shape: [3, 2], datatype: "FP32", data: [1, 2, 3, 4, 5, 8] },
    ]);
  });

  it("refuses bad JSON, wrong shapes, dtypes, names and sizes with 400 and a precise message", async () => {
    const cases: [unknown, RegExp][] = [
      ["{not json", /^the body is not JSON/],
      [{ inputs: [A] }, /^missing input: B$/],
      [
        { inputs: [A, { ...B, shape: [2, 3] }] },
        /inputs\[1\] \(B\)\.shape is \[2,3\], the model takes \[2,2\]/,
      ],
      [
        { inputs: [A, { ...B, datatype: "INT64" }] },
        /inputs\[1\] \(B\)\.datatype is "INT64", the model takes FP32/,
      ],
      [
        { inputs: [A, { ...B, data: [1, 2, 3] }] },
        /inputs\[1\] \(B\)\.data has 3 elements, shape \[2,2\] needs 4/,
      ],
      [
        { inputs: [A, { ...B, data: [1, 2, "x", 4] }] },
        /inputs\[1\] \(B\)\.data\[2\] is "x", expected a finite number/,
      ],
      [
        { inputs: [A, { ...B, name: "Q" }] },
        /inputs\[1\]\.name "Q" is not an input of the model \(inputs: A, B\)/,
      ],
      [
        { inputs: [A, B], outputs: [{ name: "Z" }] },
        /outputs\[0\]\.name "Z" is not an output of the model \(outputs: C\)/,
      ],
      [{ inputs: [A, A] }, /inputs\[1\] \(A\): the input is given twice/],
    ];
    for (const [body, message] of cases) {
      const r = await post(add.base, "/v2/models/add/infer", body);
      expect({ status: r.status, error: r.json.error }).toEqual({
        status: 400,
        error: expect.stringMatching(message),
      });
    }
    const big = await post(matmul.base, "/v2/models/matmul/infer", {
      inputs: [{ name: "X", shape: [1, 2], datatype: "FP32", data: [1, 2] }],
      pad: "x".repeat(5000),
    });
    expect(big.status).toBe(413);
    expect(big.json.error).toMatch(/over the 4096-byte limit/);
  });

  it("counts requests in Triton's metric names", async () => {
    const before = (await get(add.base, "/metrics")).body;
    const value = (text: string, name: string) =>
      Number(new RegExp(`^${name}\\{model="add",version="1"\\} (\\d+)$`, "m").exec(text)?.[1]);
    await post(add.base, "/v2/models/add/infer", { inputs: [A, B] });
    await post(add.base, "/v2/models/add/infer", { inputs: [A] });
    const after = (await get(add.base, "/metrics")).body;
    expect(value(after, "nv_inference_request_success") - value(before, "nv_inference_request_success")).toBe(
      1,
    );
    expect(value(after, "nv_inference_request_failure") - value(before, "nv_inference_request_failure")).toBe(
      1,
    );
    expect(value(after, "nv_inference_count") - value(before, "nv_inference_count")).toBe(1);
    expect(value(after, "nv_inference_request_duration_us")).toBeGreaterThan(
      value(before, "nv_inference_request_duration_us"),
    );
    expect(after).toMatch(/^# TYPE nv_inference_pending_request_count gauge$/m);
  });

  it("exits 5 with a clear message when the CUDA provider is asked for and missing", async () => {
    const r = runServer([
      "--model",
      await modelFile("add.onnx", addModel()),
      "--port",
      "0",
      "--provider",
      "cuda",
      "--device-id",
      "1",
    ]);
    expect((await r.exited).code).toBe(5);
    expect(r.stderr()).toMatch(
      /CUDA execution provider \(device 1\) is not available: .*ONNXRUNTIME_NODE_INSTALL=cuda12/,
    );
  });

  it("exits 3 on a malformed model, naming the byte; 2 on an unknown flag", async () => {
    const bad = runServer([
      "--model",
      await modelFile("bad.onnx", addModel().subarray(0, 20)),
      "--port",
      "0",
    ]);
    expect((await bad.exited).code).toBe(3);
    expect(bad.stderr()).toMatch(/bad\.onnx: malformed ONNX protobuf at byte \d+/);
    const flag = runServer(["--model", "x.onnx", "--port", "0", "--gpu"]);
    expect((await flag.exited).code).toBe(2);
    expect(flag.stderr()).toMatch(/unknown argument "--gpu"/);
  });

  it("without onnxruntime-node: the adapter's check names the fix, the server exits 4", async () => {
    // dist/ copied where no node_modules is above it: the import resolves as it would in such an install.
    const root = await tempDir("rmx-onnx-noort-");
    await cp(path.join(REPO, "dist"), path.join(root, "dist"), { recursive: true });
    const entry = path.join(root, "dist/adapters/onnxruntime/server/main.js");
    expect(() => assertOnnxRuntimeInstalled("vision", entry)).toThrow(
      expect.objectContaining({
        code: "BINARY_NOT_FOUND",
        message: expect.stringContaining(
          `runtime "vision": adapter onnxruntime needs the optional package onnxruntime-node`,
        ),
      }),
    );
    expect(() => assertOnnxRuntimeInstalled("vision", entry)).toThrow(
      `npm install --prefix ${root} onnxruntime-node`,
    );
    expect(() => assertOnnxRuntimeInstalled("vision", ONNX_SERVER)).not.toThrow();
    const r = runServer(["--model", "x.onnx", "--port", "0"], entry);
    expect((await r.exited).code).toBe(4);
    expect(r.stderr()).toMatch(/cannot load onnxruntime-node .*npm install onnxruntime-node/);
  });
});
