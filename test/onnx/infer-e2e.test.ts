/**
 * An onnxruntime runtime under a real rmxd (its own ONNX server on the real onnxruntime-node): ready on
 * /v2/health/ready, `infer.respond` routed through the matrix to the `infer` cell with the arithmetic answer,
 * the gateway's `POST /v2/models/{name}/infer` forwarded the same way, the backend's 400 passed through,
 * the model's facts and estimate on the matrix, inferences counted, and chat never routed to the cell.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import { type Gateway, startGateway } from "../http/support.js";
import { call } from "../policy-e2e/support.js";
import { stopAll, until } from "../support/daemon-harness.js";
import { matmulModel } from "./onnx-writer.js";
import { modelFile } from "./server-harness.js";

let g: Gateway;

beforeAll(async () => {
  const model = await modelFile("matmul.onnx", matmulModel());
  g = await startGateway({
    config: `
telemetry: { sample_interval: 250ms }
runtimes:
  - id: vision
    adapter: onnxruntime
    model: ${model}
    auto_start: true
    health: { interval: 250ms, inference: { enabled: true, interval: 250ms } }
`,
    ready: ["vision"],
  });
}, 60_000);
afterAll(stopAll);

const X = { name: "X", shape: [2, 2], datatype: "FP32" as const, data: [1, 1, 2, 0] };

async function postInfer(name: string, body: unknown, token = g.token) {
  const res = await fetch(`http://${g.listen}/v2/models/${name}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("onnxruntime through rmxd", () => {
  it("becomes ready and its inference probe (GET /v2/models/matmul/ready) succeeds", async () => {
    const rt = await until(
      async () => {
        const r = (await g.d.status()).runtimes.find((x) => x.id === "vision");
        return r?.inference !== undefined && r.inference.requests > 0 ? r : undefined;
      },
      20_000,
      "a successful inference probe",
    );
    expect(rt.state).toBe("ready");
    expect(rt.inference?.errors).toBe(0);
  });

  it("infer.respond reaches the runtime through the matrix and answers X · W", async () => {
    const r = await call<{
      outputs: unknown[];
      model_name: string;
      runtime: string;
      cell: string;
      model: string;
    }>(g.d, "infer.respond", { model: "matmul", inputs: [X] });
    expect(r).toMatchObject({
      model_name: "matmul",
      runtime: "vision",
      model: "matmul",
      cell: "matmul@cpu/none",
    });
    // [[1,1],[2,0]] · [[1,2],[3,4]]
    expect(r.outputs).toEqual([{ name: "Y", shape: [2, 2], datatype: "FP32", data: [4, 6, 2, 4] }]);
  });

  it("the gateway forwards POST /v2/models/{name}/infer through the matrix, KServe-shaped", async () => {
    const ok = await postInfer("matmul", { id: "r1", inputs: [X], outputs: [{ name: "Y" }] });
    expect(ok).toEqual({
      status: 200,
      json: {
        model_name: "matmul",
        model_version: "1",
        id: "r1",
        outputs: [{ name: "Y", shape: [2, 2], datatype: "FP32", data: [4, 6, 2, 4] }],
      },
    });
    const badShape = await postInfer("matmul", { inputs: [{ ...X, shape: [2, 3] }] });
    expect(badShape.status).toBe(400);
    expect(badShape.json.error).toMatch(/inputs\[0\] \(X\)\.shape is \[2,3\], the model takes \[-1,2\]/);
    const badType = await postInfer("matmul", { inputs: [{ ...X, datatype: "FLOAT" }] });
    expect(badType.status).toBe(400);
    expect(badType.json.error).toMatch(/^inputs\[0\]\.datatype: Invalid option: expected one of "BOOL"/);
    const unknown = await postInfer("resnet", { inputs: [X] });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatch(/resnet/);
    expect((await postInfer("matmul", { inputs: [X] }, "wrong")).status).toBe(401);
  });

  it("passes the backend's 400 through infer.respond as BACKEND_FAILED with its words", async () => {
    await expect(
      call(g.d, "infer.respond", { model: "matmul", inputs: [{ ...X, data: [1, 2, 3] }] }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(
        /HTTP 400: inputs\[0\] \(X\)\.data has 3 elements, shape \[2,2\] needs 4/,
      ),
    });
  });

  it("shows the model's ONNX estimate on the matrix and counts inferences per second on the cell", async () => {
    const fit = (await call<{ cells: MatrixCell[] }>(g.d, "matrix.get")).cells.find(
      (x) => x.key === "matmul@cpu/none",
    )?.fit;
    expect(fit).toMatchObject({ fits: true, need_bytes: 16 + 8 + 128 * 1024 * 1024 });
    const cell = await until(
      async () => {
        await call(g.d, "infer.respond", { model: "matmul", inputs: [X] });
        const cells = (await call<{ cells: MatrixCell[] }>(g.d, "matrix.get")).cells;
        const c = cells.find((x) => x.key === "matmul@cpu/none");
        return c?.throughput.inferences_per_second !== undefined && c.throughput.inferences_per_second > 0
          ? c
          : undefined;
      },
      20_000,
      "the cell's inference throughput",
    );
    expect(cell.throughput.inferences_per_second).toBeGreaterThan(0);
  });

  it("never routes chat to the infer cell", async () => {
    await expect(
      call(g.d, "chat.respond", { messages: [{ role: "user", content: "hi" }] }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/needs chat/),
    });
    await expect(
      call(g.d, "chat.respond", { model: "matmul", messages: [{ role: "user", content: "hi" }] }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/needs chat/),
    });
  });
});
