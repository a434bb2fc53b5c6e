#!/usr/bin/env node
/**
 * A stand-in for llama.cpp's `llama-server` that answers like it (routes, shapes, metrics, logs, exit
 * codes) without weights, plus `--stub-*` faults. It is the daemon's embedded default runtime and the
 * test double for everything, so it loads nothing heavier than node:http.
 */
import type { AddressInfo } from "node:net";
import { isRmxError } from "../../base/errors.js";
import { InferenceEngine } from "./engine.js";
import {
  abortLikeLlamaServer,
  installSignalHandlers,
  scheduleCrash,
  scheduleHang,
  spawnGrandchild,
  startChatter,
} from "./faults.js";
import { LLAMA_FLAG_ARITY } from "./llama-flags.js";
import { LLAMA_HELP_TEXT } from "./llama-help.js";
import { loadModel, type ModelInfo } from "./model-load.js";
import { parseStubOptions, type StubOptions } from "./options.js";
import { createStubServer } from "./server.js";
import { STUB_BUILD_NUMBER, type StubState } from "./state.js";

/** The shortest load phase, so that `/health` answers 503 for a moment as on b4748 (5 of 5 recorded runs). */
const MIN_LOAD_MS = 20;

function completionBash(): string {
  const flags = Object.keys(LLAMA_FLAG_ARITY).join(" ");
  return `_llama_completions() {\n    local cur="\${COMP_WORDS[COMP_CWORD]}"\n    COMPREPLY=( $(compgen -W "${flags}" -- "$cur") )\n}\ncomplete -F _llama_completions llama-server\n`;
}

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
if (opts.action === "help") {
  process.stdout.write(LLAMA_HELP_TEXT);
  process.exit(0);
}
if (opts.action === "version") {
  fatal(
    [
      `version: ${STUB_BUILD_NUMBER} (llama-stub)`,
      `built with node ${process.version} for ${process.platform}-${process.arch}`,
    ],
    0,
  );
}
if (opts.action === "completion-bash") {
  process.stdout.write(completionBash());
  process.exit(0);
}
const log = opts.logDisable ? () => {} : (line: string) => void process.stderr.write(`${line}\n`);

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

log(
  `build: ${STUB_BUILD_NUMBER} (llama-stub) with node ${process.version} for ${process.platform}-${process.arch}`,
);
log(`system info: n_threads = ${opts.threads ?? "auto"}, n_threads_batch = ${opts.threads ?? "auto"}`);

let modelInfo: ModelInfo | undefined;
const server = createStubServer(opts, engine, state, () => modelInfo);

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

// b4748 listens while loading (503 "Loading model"); newer builds bind only once loaded.
let port = opts.port;
if (!opts.bindAfterLoad) {
  port = await listen();
  log(
    `main: HTTP server is listening, hostname: ${opts.host}, port: ${port}, http threads: ${opts.parallel + 1}`,
  );
}
log("main: loading model");
const loadStarted = Date.now();
if (opts.model !== undefined) {
  log(`srv    load_model: loading model '${opts.model}'`);
  const load = loadModel(opts.model);
  if (!load.ok) {
    // b4748 returns from main with the HTTP thread joinable: std::terminate, SIGABRT.
    for (const line of load.lines) log(line);
    abortLikeLlamaServer();
    await new Promise(() => {});
  } else modelInfo = load.info;
}
// Even a tiny model takes a few ms to load: long enough for a poller to see the 503 phase.
const loadMs = Math.max(opts.loadMs, MIN_LOAD_MS) - (Date.now() - loadStarted);
if (loadMs > 0) await new Promise((resolve) => setTimeout(resolve, loadMs));
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
