#!/usr/bin/env node
/**
 * A stand-in for llama.cpp's `llama-server` that answers like it (routes, shapes, metrics, logs, exit
 * codes) without weights, plus `--stub-*` faults. It is the daemon's embedded default runtime and the
 * test double for everything, so it loads nothing heavier than node:http.
 */
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import { isRmxError } from "../../base/errors.js";
import { InferenceEngine } from "./engine.js";
import {
  installSignalHandlers,
  scheduleCrash,
  scheduleHang,
  spawnGrandchild,
  startChatter,
} from "./faults.js";
import { parseStubOptions, type StubOptions } from "./options.js";
import { createStubServer, type StubState } from "./server.js";

// A supervisor that closes our pipes must not turn a log line into a crash.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

function fatal(lines: string[], code = 1): never {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(code);
}

let options: StubOptions;
try {
  options = parseStubOptions(process.argv.slice(2), process.env);
} catch (err) {
  fatal([isRmxError(err) ? err.message : String(err)]);
}
const opts = options;
const log = opts.logDisable ? () => {} : (line: string) => void process.stderr.write(`${line}\n`);

/** Size of a readable model file, or exit 1 with llama-server's lines. */
function checkModel(modelPath: string): number {
  try {
    const stat = fs.statSync(modelPath);
    if (!stat.isFile()) throw new Error("not a regular file");
    fs.accessSync(modelPath, fs.constants.R_OK);
    return stat.size;
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === "ENOENT" ? "No such file or directory" : String(err);
    return fatal([
      `gguf_init_from_file: failed to open GGUF file '${modelPath}' (${reason})`,
      `llama_model_load: error loading model: llama_model_loader: failed to load model from ${modelPath}`,
      "llama_model_load_from_file_impl: failed to load model",
      `common_init_from_params: failed to load model '${modelPath}'`,
      `srv    load_model: failed to load model, '${modelPath}'`,
      "main: exiting due to model loading error",
    ]);
  }
}

const state: StubState = { ready: false, hung: false, successfulInferences: 0 };
const engine = new InferenceEngine({
  slots: opts.parallel,
  ctxSize: opts.ctxSize,
  tokensPerSecond: opts.tokensPerSecond,
  log,
});

installSignalHandlers(opts, log);
scheduleCrash(opts, log);
scheduleHang(opts, state, log);
startChatter(opts.chattyBytesPerSec);
if (opts.grandchild) spawnGrandchild();

log(`build: 0 (llama-stub) with node ${process.version} for ${process.platform}-${process.arch}`);
log(`system info: n_threads = ${opts.threads ?? "auto"}, n_threads_batch = ${opts.threads ?? "auto"}`);

let modelSize = 0;
const server = createStubServer(opts, engine, state, () => modelSize);

function listen(): Promise<number> {
  return new Promise((resolve) => {
    server.once("error", () =>
      fatal([`main: couldn't bind HTTP server socket, hostname: ${opts.host}, port: ${opts.port}`]),
    );
    server.listen({ host: opts.host, port: opts.port }, () =>
      resolve((server.address() as AddressInfo).port),
    );
  });
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

// Older builds listen while loading (503 "Loading model"); newer ones bind only once loaded.
let port = opts.port;
if (!opts.bindAfterLoad) {
  port = await listen();
  log(
    `main: HTTP server is listening, hostname: ${opts.host}, port: ${port}, http threads: ${opts.parallel + 1}`,
  );
}
log("main: loading model");
if (opts.model !== undefined) {
  log(`srv    load_model: loading model '${opts.model}'`);
  modelSize = checkModel(opts.model);
}
if (opts.loadMs > 0) await new Promise((resolve) => setTimeout(resolve, opts.loadMs));
if (opts.bindAfterLoad) {
  port = await listen();
  log(
    `main: HTTP server is listening, hostname: ${opts.host}, port: ${port}, http threads: ${opts.parallel + 1}`,
  );
}
state.ready = true;
log("main: model loaded");
log(`main: server is listening on http://${urlHost(opts.host)}:${port} - starting the main loop`);
log("srv  update_slots: all slots are idle");
