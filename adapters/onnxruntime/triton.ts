/**
 * NVIDIA Triton (`tritonserver`) under the onnxruntime adapter: the same KServe v2 HTTP routes as rmxd's own
 * server, so probes and requests are the same. Triton serves a model repository (REPO/NAME/VERSION/model.onnx);
 * a runtime names that model file, and Triton gets its repository. Flags from Triton's documentation:
 * `--http-port`, `--http-address`; gRPC (default port 8001) is turned off (`--allow-grpc=false`) since rmxd
 * speaks HTTP and two Tritons would fight over the port; metrics sit on their own port (default 8002), so
 * they are off unless the runtime's args give `--metrics-port N`, which rmxd then scrapes.
 */
import path from "node:path";
import type { RuntimeSpec } from "../../base/spec.js";

/** The Triton model repository and model name for a model file at REPO/NAME/VERSION/FILE (or a directory REPO/NAME). */
export function tritonLayout(modelPath: string): { repository: string; name: string } {
  const versionDir = path.dirname(modelPath);
  const modelDir = /^\d+$/.test(path.basename(versionDir)) ? path.dirname(versionDir) : versionDir;
  return { repository: path.dirname(modelDir), name: path.basename(modelDir) };
}

function hasFlag(args: readonly string[], flag: string): boolean {
  return args.some((a) => a === flag || a.startsWith(`${flag}=`));
}

export function tritonArgs(spec: RuntimeSpec, modelPath: string, host: string, port: number): string[] {
  const args = [
    `--model-repository=${tritonLayout(modelPath).repository}`,
    `--http-port=${port}`,
    `--http-address=${host}`,
  ];
  if (!hasFlag(spec.args, "--allow-grpc") && !hasFlag(spec.args, "--grpc-port"))
    args.push("--allow-grpc=false");
  if (!hasFlag(spec.args, "--metrics-port") && !hasFlag(spec.args, "--allow-metrics"))
    args.push("--allow-metrics=false");
  return [...args, ...spec.args];
}

/** The metrics port the runtime's args give Triton (`--metrics-port N` or `=N`), if any. */
export function tritonMetricsPort(args: readonly string[]): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const v =
      a === "--metrics-port" ? args[i + 1] : a.startsWith("--metrics-port=") ? a.slice(15) : undefined;
    if (v !== undefined && /^\d+$/.test(v)) return Number(v);
  }
  return undefined;
}
