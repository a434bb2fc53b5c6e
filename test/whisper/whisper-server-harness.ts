/**
 * Starts a whisper-server for the contract suite: the stub always; the real one when WHISPER_SERVER_BIN and
 * WHISPER_MODEL_PATH are set. Readiness is polled on GET /health (the real server's "listening" line is
 * block-buffered and arrives late).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { httpRequest } from "../../adapters/shared/http.js";
import { TINY_HEADER, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";

export const REPO = path.resolve(import.meta.dirname, "../..");
export const WHISPER_STUB = path.join(REPO, "dist/adapters/whisper-cpp/stub/main.js");

export interface Target {
  name: string;
  command: string;
  prefix: string[];
  model: (dir: string) => Promise<string>;
}

export const stubTarget: Target = {
  name: "stub",
  command: process.execPath,
  prefix: [WHISPER_STUB],
  model: async (dir) => {
    const file = path.join(dir, "ggml-tiny-header.bin");
    await writeFile(file, writeWhisperHeader(TINY_HEADER));
    return file;
  },
};

const realBin = process.env.WHISPER_SERVER_BIN;
const realModel = process.env.WHISPER_MODEL_PATH;
export const realTarget: Target | undefined =
  realBin && realModel
    ? { name: "real whisper-server", command: realBin, prefix: [], model: async () => realModel }
    : undefined;
export const REAL_SKIP_REASON =
  "real whisper-server: set WHISPER_SERVER_BIN and WHISPER_MODEL_PATH (e.g. whisper.cpp's models/for-tests-ggml-tiny.bin) to run the contract against it";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

export interface Running {
  proc: ChildProcess;
  base: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

export function run(
  target: Target,
  args: string[],
  env: Record<string, string> = {},
): Running & { port?: number } {
  const proc = spawn(target.command, [...target.prefix, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
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

/** Spawns the server on a free port and polls /health until 200 (or the process exits). */
export async function startServer(
  target: Target,
  model: string,
  env: Record<string, string> = {},
): Promise<Running & { outcomes: string[] }> {
  const port = await freePort();
  const r = run(target, ["-m", model, "--host", "127.0.0.1", "--port", String(port)], env);
  const base = `http://127.0.0.1:${port}`;
  const outcomes: string[] = [];
  let gone = false;
  void r.exited.then(() => {
    gone = true;
  });
  for (;;) {
    if (gone) throw new Error(`whisper server exited before ready: ${r.stderr()}`);
    const res = await httpRequest(`${base}/health`, { timeoutMs: 2000 });
    const label = res.kind === "response" ? String(res.status) : res.kind;
    if (outcomes.at(-1) !== label) outcomes.push(label);
    if (res.kind === "response" && res.status === 200) return { ...r, base, outcomes };
    // A poll, as the recorder's (every few ms): readiness has no event to wait on.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
