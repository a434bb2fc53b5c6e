#!/usr/bin/env node
/**
 * rmxd's ONNX model server: loads one `.onnx` file into an onnxruntime-node session and serves it over the
 * KServe v2 / Triton HTTP protocol (server.ts). onnxruntime-node is optional for rmxd, so it is imported
 * here only, dynamically; exit codes are in options.ts (EXIT) and docs/backends.md.
 */
import { readOnnxModel } from "../onnx-model.js";
import { tensorSpec } from "./kserve.js";
import { EXIT, parseServerArgs, type ServerOptions, USAGE } from "./options.js";
import { createOnnxServer, type Session } from "./server.js";

function die(code: number, message: string): never {
  process.stderr.write(`rmx-onnx-server: ${message}\n`);
  process.exit(code);
}

type Ort = typeof import("onnxruntime-node");

async function loadOrt(): Promise<Ort> {
  try {
    return await import("onnxruntime-node");
  } catch (error) {
    return die(
      EXIT.runtimeMissing,
      `cannot load onnxruntime-node (${(error as Error).message.split("\n")[0]}); it is optional: install it where rmxd is installed (npm install onnxruntime-node)`,
    );
  }
}

async function createSession(ort: Ort, o: ServerOptions): Promise<Session> {
  const providers = o.provider === "cuda" ? [{ name: "cuda", deviceId: o.deviceId }] : ["cpu"];
  if (o.provider === "cuda" && !ort.listSupportedBackends?.().some((b) => b.name === "cuda"))
    die(EXIT.cudaUnavailable, "this onnxruntime-node build has no CUDA execution provider");
  let session: Awaited<ReturnType<Ort["InferenceSession"]["create"]>>;
  try {
    session = await ort.InferenceSession.create(o.model, { executionProviders: providers });
  } catch (error) {
    const message = (error as Error).message;
    if (o.provider === "cuda")
      die(
        EXIT.cudaUnavailable,
        `CUDA execution provider (device ${o.deviceId}) is not available: ${message}; install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 (docs/backends.md)`,
      );
    die(EXIT.model, `onnxruntime cannot load ${o.model}: ${message}`);
  }
  return {
    async run(feeds, outputs) {
      const tensors = Object.fromEntries(
        Object.entries(feeds).map(([name, f]) => [
          name,
          new ort.Tensor(f.type as "float32", f.data as Float32Array, f.dims),
        ]),
      );
      return (await session.run(tensors, outputs)) as never;
    },
  };
}

async function main(): Promise<void> {
  let options: ServerOptions;
  try {
    options = parseServerArgs(process.argv.slice(2));
  } catch (error) {
    die(EXIT.usage, `${(error as Error).message}\n${USAGE}`);
  }
  const ort = await loadOrt();
  let info: Awaited<ReturnType<typeof readOnnxModel>>;
  try {
    info = await readOnnxModel(options.model);
  } catch (error) {
    die(EXIT.model, (error as Error).message);
  }
  const face = createOnnxServer({
    name: options.name,
    inputs: info.inputs.map(tensorSpec),
    outputs: info.outputs.map(tensorSpec),
    maxBodyBytes: options.maxBodyBytes,
  });
  await new Promise<void>((resolve, reject) => {
    face.server.once("error", reject);
    face.server.listen(options.port, options.host, () => resolve());
  }).catch((error: Error) =>
    die(EXIT.usage, `cannot listen on ${options.host}:${options.port}: ${error.message}`),
  );
  const address = face.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  process.stderr.write(
    `rmx-onnx-server: listening on http://${options.host}:${port}, loading ${options.model}\n`,
  );
  face.ready(await createSession(ort, options));
  process.stderr.write(`rmx-onnx-server: model "${options.name}" ready (${options.provider})\n`);
  for (const signal of ["SIGTERM", "SIGINT"] as const)
    process.once(signal, () => {
      face.server.close(() => process.exit(EXIT.ok));
      face.server.closeAllConnections();
    });
}

void main();
