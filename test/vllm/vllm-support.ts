/** Hugging Face model directories for the vLLM tests (config.json, optionally safetensors shards) and stub paths. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { writeSafetensors } from "../../adapters/vllm/hf/safetensors.js";

export const REPO = path.resolve(import.meta.dirname, "../..");
export const VLLM_STUB = path.join(REPO, "dist/adapters/vllm/stub/main.js");

/** A small llama-style decoder (Qwen2.5-0.5B's shape scaled down). */
export const TINY_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  num_hidden_layers: 2,
  hidden_size: 64,
  intermediate_size: 256,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 1000,
  max_position_embeddings: 2048,
  torch_dtype: "bfloat16",
  tie_word_embeddings: true,
};

export async function writeHfDir(
  dir: string,
  config: Record<string, unknown> | string = TINY_CONFIG,
  shards: Array<Array<{ name: string; shape: number[] }>> = [],
): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, "config.json"),
    typeof config === "string" ? config : JSON.stringify(config),
  );
  for (const [i, tensors] of shards.entries()) {
    const name = `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`;
    await writeFile(
      path.join(dir, name),
      writeSafetensors(tensors.map((t) => ({ ...t, dtype: "BF16", itemBytes: 2 }))),
    );
  }
  return dir;
}

export interface StubRun {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the stub as `vllm ARGS` (node on the compiled entry), its output collected. */
export function runStub(args: string[], env: Record<string, string> = {}): StubRun {
  const proc = spawn(process.execPath, [VLLM_STUB, ...args], {
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
  return { proc, stderr: () => err, exited };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}
