/**
 * Where rmxd's ONNX server is, and whether the optional onnxruntime-node resolves from there. The server's
 * `import("onnxruntime-node")` resolves like any bare specifier from its own file: node_modules folders from
 * dist/adapters/onnxruntime/server/ upwards, i.e. rmxd's install directory's node_modules (NODE_PATH plays
 * no part in ESM resolution). The check asks the same question the same way before a process is spawned.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RmxError } from "../../base/errors.js";

/** Absolute path of `dist/adapters/onnxruntime/server/main.js` (from the sources: the repository's build). */
export function onnxServerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (here.endsWith(".ts"))
    return path.resolve(dir, "..", "..", "dist", "adapters", "onnxruntime", "server", "main.js");
  return path.join(dir, "server", "main.js");
}

/** The directory whose node_modules the server's import finds packages in: rmxd's package root. */
export function installRoot(entry: string): string {
  return path.resolve(path.dirname(entry), "..", "..", "..", "..");
}

/** Throws BINARY_NOT_FOUND naming the runtime, where it looked and the command that adds the package. */
export function assertOnnxRuntimeInstalled(runtime: string, entry: string = onnxServerEntry()): void {
  try {
    createRequire(entry).resolve("onnxruntime-node");
  } catch {
    const root = installRoot(entry);
    throw new RmxError(
      "BINARY_NOT_FOUND",
      `runtime "${runtime}": adapter onnxruntime needs the optional package onnxruntime-node, which does not resolve from ${path.dirname(entry)}; add it with \`npm install --prefix ${root} onnxruntime-node\` (rmxd's install directory), or set binary: tritonserver to run Triton instead`,
      {
        runtime,
        package: "onnxruntime-node",
        searched_from: path.dirname(entry),
        fix: `npm install --prefix ${root} onnxruntime-node`,
      },
    );
  }
}
