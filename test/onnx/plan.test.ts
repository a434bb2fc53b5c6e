/**
 * The onnxruntime launch plans: rmxd's own server (execution provider from the hardware), Triton when a
 * binary is given (repository from the model file's layout, gRPC off, metrics off unless a port is given),
 * the Triton metrics as figures, and `rmx models inspect FILE.onnx`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { kserveModelName, onnxRuntimeAdapter } from "../../adapters/onnxruntime/adapter.js";
import { parseTritonMetrics } from "../../adapters/onnxruntime/metrics.js";
import { onnxServerEntry } from "../../adapters/onnxruntime/server-entry.js";
import { tritonLayout, tritonMetricsPort } from "../../adapters/onnxruntime/triton.js";
import { startDaemon, stopAll } from "../support/daemon-harness.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";
import { matmulModel } from "./onnx-writer.js";
import { modelFile } from "./server-harness.js";

afterAll(stopAll);

const ctx = {
  port: 8123,
  host: "127.0.0.1",
  modelPath: "/m/add.onnx",
  hardware: { id: "cpu", kind: "cpu" as const },
  stubEntry: "",
};
const spec = { ...defaultRuntimeSpec("vision"), adapter: "onnxruntime" as const, model: "/m/add.onnx" };

const TRITON_METRICS = `# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="resnet",version="1"} 12
nv_inference_request_success{model="bert",version="1"} 3
nv_inference_request_failure{model="resnet",version="1"} 2
nv_inference_request_duration_us{model="resnet",version="1"} 1500000
nv_inference_pending_request_count{model="resnet",version="1"} 4
`;

describe("onnxruntime plan", () => {
  it("runs rmxd's server under this node on cpu, with the model, address and KServe name", () => {
    const plan = onnxRuntimeAdapter.plan({ ...spec, args: ["--max-body-bytes", "1048576"] }, ctx);
    expect(plan.command).toBe(process.execPath);
    expect(plan.args).toEqual([
      onnxServerEntry(),
      "--model",
      "/m/add.onnx",
      "--host",
      "127.0.0.1",
      "--port",
      "8123",
      "--model-name",
      "add",
      "--provider",
      "cpu",
      "--max-body-bytes",
      "1048576",
    ]);
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe("");
  });

  it("asks for CUDA on gpu:N: device 0 once CUDA_VISIBLE_DEVICES narrows to N, else N", () => {
    const nvidia = onnxRuntimeAdapter.plan(spec, {
      ...ctx,
      hardware: { id: "gpu:1", kind: "gpu", index: 1, vendor: "nvidia" },
    });
    expect(nvidia.args.slice(-4)).toEqual(["--provider", "cuda", "--device-id", "0"]);
    expect(nvidia.env.CUDA_VISIBLE_DEVICES).toBe("1");
    const other = onnxRuntimeAdapter.plan(spec, { ...ctx, hardware: { id: "gpu:2", kind: "gpu", index: 2 } });
    expect(other.args.slice(-4)).toEqual(["--provider", "cuda", "--device-id", "2"]);
    const { modelPath: _drop, ...noModel } = ctx;
    expect(() => onnxRuntimeAdapter.plan(spec, noModel)).toThrow(
      /runtime "vision": adapter onnxruntime needs a model/,
    );
  });

  it("launches Triton when a binary is given: repository from REPO/NAME/VERSION/model.onnx, gRPC and metrics off", () => {
    const triton = {
      ...spec,
      binary: "/opt/tritonserver/bin/tritonserver",
      model: "/models/resnet/1/model.onnx",
    };
    const plan = onnxRuntimeAdapter.plan(triton, { ...ctx, modelPath: triton.model });
    expect(plan.command).toBe("/opt/tritonserver/bin/tritonserver");
    expect(plan.args).toEqual([
      "--model-repository=/models",
      "--http-port=8123",
      "--http-address=127.0.0.1",
      "--allow-grpc=false",
      "--allow-metrics=false",
    ]);
    expect(kserveModelName(triton)).toBe("resnet");
    expect(tritonLayout("/models/resnet/model.onnx")).toEqual({ repository: "/models", name: "resnet" });
    const withMetrics = onnxRuntimeAdapter.plan(
      { ...triton, args: ["--metrics-port", "9102", "--grpc-port=9101"] },
      { ...ctx, modelPath: triton.model },
    );
    expect(withMetrics.args).toEqual([
      "--model-repository=/models",
      "--http-port=8123",
      "--http-address=127.0.0.1",
      "--metrics-port",
      "9102",
      "--grpc-port=9101",
    ]);
    expect(tritonMetricsPort(["--metrics-port=9102"])).toBe(9102);
    expect(tritonMetricsPort([])).toBeUndefined();
  });

  it("reads Triton's metrics as counters (models summed) and scrapes its metrics port", async () => {
    expect(parseTritonMetrics(TRITON_METRICS)).toEqual({
      inference_requests_total: 15,
      inference_failures_total: 2,
      inference_busy_seconds_total: 1.5,
      requests_processing: 4,
    });
    const server = http.createServer((_req, res) => res.end(TRITON_METRICS));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const triton = { ...spec, binary: "tritonserver", args: ["--metrics-port", String(port)] };
      // The HTTP endpoint is elsewhere: the metrics come from the port the args gave Triton.
      const m = await onnxRuntimeAdapter.scrapeMetrics("http://127.0.0.1:1", 2000, triton);
      expect(m?.inference_requests_total).toBe(15);
      expect(
        await onnxRuntimeAdapter.scrapeMetrics("http://127.0.0.1:1", 2000, { ...triton, args: [] }),
      ).toBeUndefined();
    } finally {
      server.close();
    }
  });

  it("rmx models inspect FILE.onnx prints the graph facts, the estimate and the fit", async () => {
    const file = await modelFile("matmul.onnx", matmulModel());
    const d = await startDaemon({});
    const text = await d.cli(["models", "inspect", file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/ONNX IR v8, opset ai\.onnx 13, by rmx-test 1, 1 nodes, 1 initializers/);
    expect(text.stdout).toMatch(/inputs: X: float\[batch, 2\]/);
    expect(text.stdout).toMatch(/needs weights 16 B \(1 initializers\) \+ onnxruntime 128\.0 MiB/);
    expect(text.stdout).toMatch(/cpu: fits/);
    const json = await d.cli(["models", "inspect", file, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      format: "onnx",
      info: { weight_bytes: 16 },
      fit: { cpu: { fits: true } },
    });
    const broken = await modelFile("broken.onnx", matmulModel().subarray(0, 25));
    const bad = await d.cli(["models", "inspect", broken]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/broken\.onnx: malformed ONNX protobuf at byte \d+/);
  });
});
