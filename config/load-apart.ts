/**
 * Loads the configuration in a short-lived child process (config/load-main.ts) and returns what it
 * resolved. Parsing YAML and validating against the config schema load code (yaml, the schema, the
 * resolver: 0.2 MB of the daemon bundle's source) and leave objects that a long-lived V8 heap keeps for
 * good: with 50 probed runtimes rmxd's live heap was 0.9 MiB smaller with the load done apart
 * (bench/lean-results.md, twelfth stop). The child answers in about as long as `node -e 0` takes.
 *
 * Errors keep their codes and data (CONFIG_INVALID with its issues, CONFIG_NOT_FOUND, PATH_UNTRUSTED):
 * the child sends RmxError's JSON and it is rebuilt here. A loader that cannot start, dies, hangs or
 * answers nonsense is INTERNAL, naming the loader's file and what happened.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCodes, RmxError } from "../base/errors.js";
import type { DaemonConfig } from "../base/spec.js";
import type { LoaderAnswer, LoaderRequest } from "./loader-wire.js";
import type { ConfigLocation } from "./locate.js";

export interface LoadApartOptions {
  home?: string;
  /** The loader's entry; by default the bundle's dist/bin/rmx-config.cjs, else tsc's dist/config/load-main.js. */
  entry?: string;
  /** Longest wait for an answer before the loader is killed. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const TIMEOUT_MS = 30_000;
/** A resolved config is tens of KB; an answer this large is not one. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
const STDERR_KEEP = 8 * 1024;

let defaultEntry: string | undefined;

/** The loader next to this module in dist/ (from the TypeScript sources, vitest: the repository's dist/). */
export function configLoaderEntry(): string {
  if (defaultEntry !== undefined) return defaultEntry;
  const here = fileURLToPath(import.meta.url);
  const dist = here.endsWith(".ts")
    ? path.resolve(path.dirname(here), "..", "dist")
    : path.resolve(path.dirname(here), "..");
  const bundle = path.join(dist, "bin", "rmx-config.cjs");
  defaultEntry = existsSync(bundle) ? bundle : path.join(dist, "config", "load-main.js");
  return defaultEntry;
}

/**
 * The loader's environment: the daemon's, less what only slows a process that does no TLS and needs no
 * preloads (NODE_EXTRA_CA_CERTS alone doubles Node's start on some machines; NODE_OPTIONS could carry
 * an --inspect port the daemon already holds).
 */
function loaderEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _ca, NODE_OPTIONS: _options, ...rest } = env;
  return rest;
}

export function loadConfigApart(loc: ConfigLocation, opts: LoadApartOptions = {}): Promise<DaemonConfig> {
  const entry = opts.entry ?? configLoaderEntry();
  const request: LoaderRequest = { location: loc, home: opts.home ?? os.homedir() };
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  const failed = (what: string, cause?: unknown) =>
    new RmxError("INTERNAL", `config loader ${entry} ${what}`, { loader: entry }, { cause });

  return new Promise<DaemonConfig>((resolve, reject) => {
    const child = spawn(process.execPath, [entry], {
      stdio: ["pipe", "pipe", "pipe"],
      env: loaderEnv(opts.env ?? process.env),
      windowsHide: true,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = "";
    let problem: RmxError | undefined;
    const stop = (p: RmxError) => {
      problem ??= p;
      child.kill("SIGKILL");
    };
    const timer = setTimeout(() => stop(failed(`did not answer within ${timeoutMs} ms`)), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_ANSWER_BYTES) stop(failed(`answered more than ${MAX_ANSWER_BYTES} bytes`));
      else out.push(chunk);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      err = (err + chunk).slice(-STDERR_KEEP);
    });
    // A loader that exits before reading its request: its exit says why, not the broken pipe.
    child.stdin.on("error", () => undefined);
    child.stdin.end(JSON.stringify(request));
    child.on("error", (cause) => {
      clearTimeout(timer);
      reject(failed(`could not start (${(cause as NodeJS.ErrnoException).code ?? cause.message})`, cause));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (problem !== undefined) return reject(problem);
      const text = Buffer.concat(out).toString("utf8");
      const answer = parseAnswer(text);
      if (answer === undefined) {
        const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
        const last = lastLine(err);
        return reject(failed(`${how} without an answer${last === "" ? "" : `: ${last}`}`));
      }
      if (answer.ok) return resolve(answer.config);
      const { code: errorCode, message, data } = answer.error;
      reject(new RmxError(errorCode in ErrorCodes ? errorCode : "INTERNAL", message, data));
    });
  });
}

function parseAnswer(text: string): LoaderAnswer | undefined {
  try {
    const value = JSON.parse(text) as LoaderAnswer | null;
    if (value === null || typeof value !== "object") return undefined;
    if (value.ok === true && typeof value.config === "object" && value.config !== null) return value;
    if (
      value.ok === false &&
      typeof value.error?.code === "string" &&
      typeof value.error.message === "string"
    )
      return value;
    return undefined;
  } catch {
    return undefined;
  }
}

/** The line that says what went wrong: Node's uncaught-error report ends with its version, not the error. */
function lastLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^Node\.js v\d/.test(l));
  return lines.findLast((l) => /\b\w*Error\b/.test(l)) ?? lines.at(-1) ?? "";
}
