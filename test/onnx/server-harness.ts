/** Spawns rmxd's ONNX server (dist/) on a free port for the tests and waits for `/v2/health/ready`. */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { httpRequest } from "../../adapters/shared/http.js";
import { tempDir } from "../support/daemon-harness.js";
import { freePort } from "../whisper/whisper-server-harness.js";

export const REPO = path.resolve(import.meta.dirname, "../..");
export const ONNX_SERVER = path.join(REPO, "dist/adapters/onnxruntime/server/main.js");

export interface RunningServer {
  proc: ChildProcess;
  base: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

export async function modelFile(name: string, bytes: Buffer): Promise<string> {
  const file = path.join(await tempDir("rmx-onnx-"), name);
  await writeFile(file, bytes);
  return file;
}

export function runServer(args: string[], entry = ONNX_SERVER): RunningServer & { port?: number } {
  const proc = spawn(process.execPath, [entry, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (c: Buffer) => {
    err += c.toString("utf8");
  });
  proc.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { proc, base: "", exited, stderr: () => err };
}

/** Starts the server and polls readiness (a session has no event to wait on from outside). */
export async function startOnnxServer(model: string, extra: string[] = []): Promise<RunningServer> {
  const port = await freePort();
  const r = runServer(["--model", model, "--host", "127.0.0.1", "--port", String(port), ...extra]);
  const base = `http://127.0.0.1:${port}`;
  let gone = false;
  void r.exited.then(() => {
    gone = true;
  });
  for (;;) {
    if (gone) throw new Error(`ONNX server exited before ready: ${r.stderr()}`);
    const res = await httpRequest(`${base}/v2/health/ready`, { timeoutMs: 2000 });
    if (res.kind === "response" && res.status === 200) return { ...r, base };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
