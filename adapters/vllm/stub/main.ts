#!/usr/bin/env node
/**
 * A `vllm` stand-in that behaves as vLLM documents (vllm/entrypoints/openai/api_server.py, docs.vllm.ai):
 * `vllm serve MODEL [options]` parsed like its argparse (unknown flag → usage, `error:` line, exit 2); the
 * model directory read (config.json; a bad one exits 1); one worker process per tensor-parallel rank; the
 * port refused while the "engine" loads, then `/health` 200 (vLLM binds its socket first but listens only
 * once the engine is up); SIGTERM → stop listening, stop the workers, exit 0.
 * Stub-only knobs are environment variables so its command line stays vLLM's: VLLM_STUB_LOAD_MS (engine
 * start-up), VLLM_STUB_MS_PER_TOKEN (generation speed), VLLM_STUB_WORKER_STUBBORN (workers ignore SIGTERM),
 * VLLM_STUB_SERVE_AS (serve under these comma-separated names whatever --served-model-name says: the server
 * another user left on the port, as rmxd sees it).
 */
import { type ChildProcess, fork } from "node:child_process";
import path from "node:path";
import { readHfModel } from "../hf/model.js";
import { parseServeArgs, USAGE } from "./options.js";
import { StubServer } from "./server.js";

const WORKER = path.join(import.meta.dirname, "worker.js");

function log(line: string): void {
  process.stderr.write(`INFO ${new Date().toISOString()} [stub] ${line}\n`);
}

/** One worker per rank; resolves once each said it is up, as vLLM waits for its workers' handshake. */
async function startWorkers(count: number): Promise<ChildProcess[]> {
  const workers = Array.from({ length: count }, (_, rank) =>
    fork(WORKER, [], {
      env: { ...process.env, VLLM_STUB_RANK: String(rank) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  await Promise.all(
    workers.map(
      (w) =>
        new Promise((resolve, reject) => {
          w.once("message", resolve);
          w.once("exit", (code) => reject(new Error(`worker ${w.pid} exited with ${code} during start-up`)));
        }),
    ),
  );
  return workers;
}

async function main(): Promise<void> {
  const parsed = parseServeArgs(process.argv.slice(2));
  if (parsed.kind === "help") {
    process.stdout.write(`${USAGE}\nStart the vLLM OpenAI Compatible API server.\n`);
    process.exit(0);
  }
  if (parsed.kind === "error") {
    process.stderr.write(`${USAGE}vllm serve: error: ${parsed.message}\n`);
    process.exit(2);
  }
  const { options } = parsed;
  const serveAs = process.env.VLLM_STUB_SERVE_AS;
  if (serveAs !== undefined && serveAs !== "") options.servedModelNames = serveAs.split(",");
  log(`vLLM API server version 0.0.0-stub`);
  log(
    `args: model=${options.model} served_model_name=${options.servedModelNames.join(",")} tensor_parallel_size=${options.tensorParallelSize}`,
  );
  try {
    const info = await readHfModel(options.model);
    if (options.maxModelLen !== undefined && options.maxModelLen > info.max_position_embeddings) {
      process.stderr.write(
        `ValueError: User-specified max_model_len (${options.maxModelLen}) is greater than the derived max_model_len (max_position_embeddings=${info.max_position_embeddings} in model's config.json).\n`,
      );
      process.exit(1);
    }
  } catch (error) {
    process.stderr.write(`OSError: ${(error as Error).message}\n`);
    process.exit(1);
  }
  let workers: ChildProcess[] = [];
  let server: import("node:http").Server | undefined;
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    log("Shutting down FastAPI HTTP server.");
    server?.close();
    server?.closeAllConnections();
    for (const w of workers) w.kill("SIGTERM");
    const alive = workers.filter((w) => w.exitCode === null && w.signalCode === null);
    if (alive.length === 0) process.exit(0);
    let left = alive.length;
    for (const w of alive) w.once("exit", () => --left === 0 && process.exit(0));
  };
  // vLLM interrupts the engine's initialisation on SIGTERM too (run_server's _interrupt_init).
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  workers = await startWorkers(options.tensorParallelSize);
  const loadMs = Number(process.env.VLLM_STUB_LOAD_MS ?? 0);
  if (loadMs > 0) await new Promise((resolve) => setTimeout(resolve, loadMs));
  if (stopping) return;
  const msPerToken = Number(process.env.VLLM_STUB_MS_PER_TOKEN ?? 0);
  server = await new StubServer({ ...options, msPerToken }).listen();
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  log(`Starting vLLM API server 0 on http://${options.host}:${port}`);
  log("Application startup complete.");
}

void main();
