import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { stubEntryPath } from "../../adapters/llama-stub/stub-path.js";
import { writeTinyGguf } from "../support/gguf-writer.js";

/**
 * What the contract runs against: the stub always, a real llama-server when `LLAMA_SERVER_BIN` and
 * `LLAMA_MODEL_PATH` are set. The stub gets a tiny GGUF shaped like the recorded model (llama, 64-dim,
 * n_ctx_train 512).
 */
export interface Target {
  name: "stub" | "real";
  command: string;
  prefix: string[];
  model: () => Promise<string>;
}

export const REAL_SKIP_REASON =
  "real llama-server half skipped: set LLAMA_SERVER_BIN=/path/to/llama-server and LLAMA_MODEL_PATH=/path/to/model.gguf to run it";

let tinyModel: Promise<string> | undefined;
export function tinyModelPath(): Promise<string> {
  tinyModel ??= (async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "rmx-contract-"));
    const file = path.join(dir, "tiny-llama.gguf");
    await writeTinyGguf(file, { context_length: 512, embedding_length: 64 });
    return file;
  })();
  return tinyModel;
}

export function targets(): { stub: Target; real: Target | undefined } {
  const bin = process.env.LLAMA_SERVER_BIN;
  const model = process.env.LLAMA_MODEL_PATH;
  return {
    stub: { name: "stub", command: process.execPath, prefix: [stubEntryPath()], model: tinyModelPath },
    real: bin && model ? { name: "real", command: bin, prefix: [], model: async () => model } : undefined,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Instance {
  endpoint: string;
  port: number;
  child: ChildProcess;
  stderr: () => string;
  /** Resolves once stderr holds `text` (at once if it does already); rejects if the process exits first. */
  stderrHas: (text: string) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop: () => Promise<void>;
}

/** Spawns and waits for `/health` 200 (polling, as a supervisor does); the model flags come first. */
export async function startInstance(
  target: Target,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Instance> {
  const port = await freePort();
  const model = await target.model();
  const child = spawn(
    target.command,
    [...target.prefix, "-m", model, "--host", "127.0.0.1", "--port", String(port), ...args],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const stderrHas = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!err.includes(text)) return;
        child.stderr?.off("data", check);
        resolve();
      };
      child.stderr?.on("data", check);
      void exited.then(() =>
        reject(new Error(`${target.name} exited before logging ${JSON.stringify(text)}`)),
      );
      check();
    });
  let gone = false;
  void exited.then(() => (gone = true));
  const endpoint = `http://127.0.0.1:${port}`;
  for (;;) {
    if (gone) throw new Error(`${target.name} exited before serving: ${err.slice(-2000)}`);
    const status = await new Promise<number>((resolve) => {
      const req = http.get(`${endpoint}/health`, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", () => resolve(0));
    });
    if (status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    endpoint,
    port,
    child,
    stderr: () => err,
    stderrHas,
    exited,
    stop: async () => {
      if (!gone) child.kill("SIGKILL");
      await exited;
    },
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request as the recorder sent it: `Connection: close`, no agent, the body raw when it is a string. */
export function send(
  endpoint: string,
  method: string,
  pathname: string,
  headers: Record<string, string> = {},
  body?: unknown,
  onFirstData?: () => void,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const req = http.request(
      `${endpoint}${pathname}`,
      { method, headers: { Connection: "close", ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => {
          if (chunks.length === 0) onFirstData?.();
          chunks.push(c);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (payload !== undefined) req.end(payload);
    else req.end();
  });
}
