import { constants as osConstants } from "node:os";
import { RmxError } from "../../base/errors.js";
import { LLAMA_FLAG_ARITY } from "./llama-flags.js";
import { LLAMA_HELP_TEXT } from "./llama-help.js";

export interface StubOptions {
  model?: string;
  host: string;
  port: number;
  /** Total context, split evenly over the slots like llama-server does. */
  ctxSize: number;
  parallel: number;
  threads?: string;
  gpuLayers?: string;
  metrics: boolean;
  slots: boolean;
  alias?: string;
  logDisable: boolean;
  /** `--api-key` / `LLAMA_API_KEY`: every route but the public ones wants `Authorization: Bearer K`. */
  apiKey?: string;
  /** `--embedding(s)`: completions answer 501. */
  embeddings: boolean;
  /** `--pooling`; unset is the model's default, which is `none` for a llama model. */
  pooling?: string;
  /** `--help`, `--version`, `--completion-bash`: print and exit 0 instead of serving. */
  action?: "help" | "version" | "completion-bash";
  /** Stub only: exit 0 on SIGTERM/SIGINT instead of b4748's SIGABRT. */
  exitCleanOnTerm: boolean;
  // Faults and behaviour of the stub itself (`--stub-*`, or `RMX_STUB_*`).
  loadMs: number;
  bindAfterLoad: boolean;
  crashAfterMs?: number;
  exitCode: number;
  exitSignal?: NodeJS.Signals;
  failInference: boolean;
  failInferenceAfter?: number;
  hangAfterMs?: number;
  ignoreSigterm: boolean;
  chattyBytesPerSec: number | "max";
  grandchild: boolean;
  tokensPerSecond: number;
  failHealth: boolean;
}

export const DEFAULT_CTX_SIZE = 4096;

const STUB_DEFAULTS = {
  loadMs: 0,
  bindAfterLoad: false,
  exitCode: 1,
  failInference: false,
  ignoreSigterm: false,
  chattyBytesPerSec: 0,
  grandchild: false,
  tokensPerSecond: 200,
  failHealth: false,
} as const;

type ValueKind = "string" | "int" | "bool";

interface LlamaFlag {
  key:
    | "model"
    | "host"
    | "port"
    | "ctxSize"
    | "parallel"
    | "threads"
    | "gpuLayers"
    | "alias"
    | "apiKey"
    | "pooling";
  kind: ValueKind;
}

const LLAMA_VALUE_FLAGS: Record<string, LlamaFlag> = {
  "-m": { key: "model", kind: "string" },
  "--model": { key: "model", kind: "string" },
  "--host": { key: "host", kind: "string" },
  "--port": { key: "port", kind: "int" },
  "-c": { key: "ctxSize", kind: "int" },
  "--ctx-size": { key: "ctxSize", kind: "int" },
  "-np": { key: "parallel", kind: "int" },
  "--parallel": { key: "parallel", kind: "int" },
  "-t": { key: "threads", kind: "string" },
  "--threads": { key: "threads", kind: "string" },
  "-ngl": { key: "gpuLayers", kind: "string" },
  "--gpu-layers": { key: "gpuLayers", kind: "string" },
  "--n-gpu-layers": { key: "gpuLayers", kind: "string" },
  "-a": { key: "alias", kind: "string" },
  "--alias": { key: "alias", kind: "string" },
  "--api-key": { key: "apiKey", kind: "string" },
  "--pooling": { key: "pooling", kind: "string" },
};

/** The `LLAMA_ARG_*` / `LLAMA_API_KEY` variables b4748 reads for the flags the stub models (the flag wins). */
const LLAMA_ENV: Record<string, string> = {
  LLAMA_ARG_MODEL: "--model",
  LLAMA_ARG_HOST: "--host",
  LLAMA_ARG_PORT: "--port",
  LLAMA_ARG_CTX_SIZE: "--ctx-size",
  LLAMA_ARG_N_PARALLEL: "--parallel",
  LLAMA_ARG_THREADS: "--threads",
  LLAMA_ARG_N_GPU_LAYERS: "--n-gpu-layers",
  LLAMA_ARG_ALIAS: "--alias",
  LLAMA_API_KEY: "--api-key",
  LLAMA_ARG_POOLING: "--pooling",
};

const LLAMA_ENV_SWITCHES: Record<string, string> = {
  LLAMA_ARG_ENDPOINT_METRICS: "--metrics",
  LLAMA_ARG_ENDPOINT_SLOTS: "--slots",
  LLAMA_ARG_EMBEDDINGS: "--embeddings",
};

type SwitchKey = "metrics" | "slots" | "logDisable" | "embeddings" | "exitCleanOnTerm";

const LLAMA_SWITCHES: Record<string, { key: SwitchKey; value: boolean }> = {
  "--metrics": { key: "metrics", value: true },
  "--embedding": { key: "embeddings", value: true },
  "--embeddings": { key: "embeddings", value: true },
  "--slots": { key: "slots", value: true },
  "--no-slots": { key: "slots", value: false },
  "--log-disable": { key: "logDisable", value: true },
};

const ACTIONS: Record<string, NonNullable<StubOptions["action"]>> = {
  "-h": "help",
  "--help": "help",
  "--usage": "help",
  "--version": "version",
  "--completion-bash": "completion-bash",
};

/** Stub-only switches that are not faults (not in b4748's table: real rejects them). */
const STUB_SWITCHES: Record<string, { key: SwitchKey; value: boolean }> = {
  "--exit-clean-on-term": { key: "exitCleanOnTerm", value: true },
};

/** The help block of one flag, as llama-server prints it under `usage:` after a bad value. */
function flagUsage(flag: string): string {
  const lines = LLAMA_HELP_TEXT.split("\n");
  const start = lines.findIndex((line) =>
    line
      .split(/\s{2,}/)[0]!
      .split(/,\s*/)
      .some((part) => part.split(" ")[0] === flag),
  );
  if (start < 0) return "";
  let end = start + 1;
  while (end < lines.length && lines[end]!.startsWith(" ")) end++;
  return lines.slice(start, end).join("\n");
}

type StubKey =
  | "loadMs"
  | "bindAfterLoad"
  | "crashAfterMs"
  | "exitCode"
  | "exitSignal"
  | "failInference"
  | "failInferenceAfter"
  | "hangAfterMs"
  | "ignoreSigterm"
  | "chattyBytesPerSec"
  | "grandchild"
  | "tokensPerSecond"
  | "failHealth";

type StubValueKind = "ms" | "count" | "bool" | "signal" | "exit-code" | "rate" | "positive";

/** `--stub-<name>` ↔ `RMX_STUB_<NAME>`. */
const STUB_FLAGS: Record<string, { key: StubKey; kind: StubValueKind }> = {
  "load-ms": { key: "loadMs", kind: "ms" },
  "bind-after-load": { key: "bindAfterLoad", kind: "bool" },
  "crash-after-ms": { key: "crashAfterMs", kind: "ms" },
  "exit-code": { key: "exitCode", kind: "exit-code" },
  "exit-signal": { key: "exitSignal", kind: "signal" },
  "fail-inference": { key: "failInference", kind: "bool" },
  "fail-inference-after": { key: "failInferenceAfter", kind: "count" },
  "hang-after-ms": { key: "hangAfterMs", kind: "ms" },
  "ignore-sigterm": { key: "ignoreSigterm", kind: "bool" },
  "chatty-bytes-per-sec": { key: "chattyBytesPerSec", kind: "rate" },
  grandchild: { key: "grandchild", kind: "bool" },
  "tokens-per-second": { key: "tokensPerSecond", kind: "positive" },
  "fail-health": { key: "failHealth", kind: "bool" },
};

function usage(message: string): RmxError {
  return new RmxError("CONFIG_INVALID", message);
}

/** A value std::stoi refuses, in b4748's words: the error line, then that flag's usage. */
function stoiError(flag: string): RmxError {
  return usage(`error while handling argument "${flag}": stoi\n\nusage:\n${flagUsage(flag)}\n`);
}

function parseInteger(flag: string, raw: string, min: number): number {
  if (!/^\s*[+-]?\d/.test(raw)) {
    if (!flag.startsWith("--stub-") && !flag.startsWith("RMX_STUB_")) throw stoiError(flag);
    throw usage(`error: invalid argument: ${flag} ${raw} (expected an integer)`);
  }
  if (!/^[+-]?\d+$/.test(raw.trim()))
    throw usage(`error: invalid argument: ${flag} ${raw} (expected an integer)`);
  const value = Number(raw);
  if (value < min) throw usage(`error: invalid argument: ${flag} ${raw} (must be at least ${min})`);
  return value;
}

function parseBool(flag: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["", "1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw usage(`error: invalid argument: ${flag} ${raw} (expected true or false)`);
}

function parseStubValue(flag: string, kind: StubValueKind, raw: string): number | boolean | string {
  switch (kind) {
    case "bool":
      return parseBool(flag, raw);
    case "ms":
    case "count":
      return parseInteger(flag, raw, 0);
    case "exit-code": {
      const code = parseInteger(flag, raw, 0);
      if (code > 255) throw usage(`error: invalid argument: ${flag} ${raw} (must be at most 255)`);
      return code;
    }
    case "positive": {
      const value = Number(raw);
      if (!Number.isFinite(value) || value <= 0) {
        throw usage(`error: invalid argument: ${flag} ${raw} (expected a positive number)`);
      }
      return value;
    }
    case "rate":
      return raw.trim().toLowerCase() === "max" ? "max" : parseInteger(flag, raw, 0);
    case "signal": {
      const name = raw.trim().toUpperCase();
      const signal = name.startsWith("SIG") ? name : `SIG${name}`;
      if (!(signal in osConstants.signals))
        throw usage(`error: invalid argument: ${flag} ${raw} (unknown signal)`);
      return signal;
    }
  }
}

function applyLlamaValue(options: StubOptions, flag: string, valueFlag: LlamaFlag, raw: string): void {
  if (valueFlag.kind === "string") {
    (options as unknown as Record<string, unknown>)[valueFlag.key] = raw;
  } else if (valueFlag.key === "port") {
    const port = parseInteger(flag, raw, 0);
    if (port > 65535) throw usage(`error: invalid argument: ${flag} ${raw} (must be at most 65535)`);
    options.port = port;
  } else if (valueFlag.key === "ctxSize") {
    // 0 means "the model's training context" in llama-server; main.ts resolves it once the GGUF is read.
    options.ctxSize = parseInteger(flag, raw, 0);
    if (options.ctxSize === 0) options.ctxSize = DEFAULT_CTX_SIZE;
  } else {
    // -np -1 means "auto" in newer builds.
    options.parallel = Math.max(1, parseInteger(flag, raw, -1));
  }
}

/**
 * llama-server b4748's command line: every flag it knows is accepted with its arity (value-taking flags
 * consume their value even when it starts with `-`), and anything else, a positional argument included,
 * is refused with its `error: invalid argument: X`. Only the flags the stub models have an effect. The
 * stub's own `--stub-*` faults (also `RMX_STUB_*`) and `--exit-clean-on-term` come on top; an unknown
 * `--stub-*` flag is an error so that a typo in a fault flag does not silently test nothing.
 */
export function parseStubOptions(argv: readonly string[], env: NodeJS.ProcessEnv): StubOptions {
  const options: StubOptions = {
    host: "127.0.0.1",
    port: 8080,
    ctxSize: DEFAULT_CTX_SIZE,
    parallel: 1,
    metrics: false,
    slots: false,
    logDisable: false,
    embeddings: false,
    exitCleanOnTerm: false,
    ...STUB_DEFAULTS,
  };
  const stubSet = new Set<StubKey>();
  const llamaSet = new Set<string>();
  const assignStub = (key: StubKey, value: number | boolean | string) => {
    (options as unknown as Record<string, unknown>)[key] = value;
    stubSet.add(key);
  };

  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] as string;
    // b4748 reads `--n_gpu_layers` as `--n-gpu-layers` (and has no `--flag=value` form).
    const token = raw.startsWith("--") && !raw.startsWith("--stub-") ? raw.replaceAll("_", "-") : raw;
    if (token.startsWith("--stub-")) {
      const eq = token.indexOf("=");
      const flag = eq >= 0 ? token.slice(0, eq) : token;
      const inline = eq >= 0 ? token.slice(eq + 1) : undefined;
      const spec = STUB_FLAGS[flag.slice("--stub-".length)];
      if (spec === undefined) throw usage(`error: unknown stub flag ${flag}`);
      let raw = inline ?? "true";
      if (spec.kind !== "bool" && inline === undefined) {
        const next = argv[i + 1];
        if (next === undefined) throw usage(`error: ${flag} needs a value`);
        raw = next;
        i++;
      }
      assignStub(spec.key, parseStubValue(flag, spec.kind, raw));
      continue;
    }
    const stubSwitch = STUB_SWITCHES[token];
    if (stubSwitch !== undefined) {
      options[stubSwitch.key] = stubSwitch.value;
      continue;
    }
    const arity = LLAMA_FLAG_ARITY[token];
    if (arity === undefined) throw usage(`error: invalid argument: ${token}`);
    if (i + arity >= argv.length) throw usage(`error: ${token} needs a value`);
    const values = argv.slice(i + 1, i + 1 + arity) as string[];
    i += arity;
    const action = ACTIONS[token];
    if (action !== undefined) {
      options.action ??= action;
      continue;
    }
    const valueFlag = LLAMA_VALUE_FLAGS[token];
    if (valueFlag !== undefined) {
      applyLlamaValue(options, token, valueFlag, values[0] as string);
      llamaSet.add(valueFlag.key);
      continue;
    }
    const toggle = LLAMA_SWITCHES[token];
    if (toggle !== undefined) {
      options[toggle.key] = toggle.value;
      llamaSet.add(toggle.key);
    }
  }

  for (const [name, flag] of Object.entries(LLAMA_ENV)) {
    const raw = env[name];
    const valueFlag = LLAMA_VALUE_FLAGS[flag] as LlamaFlag;
    if (raw === undefined || raw === "" || llamaSet.has(valueFlag.key)) continue;
    applyLlamaValue(options, name, valueFlag, raw);
  }
  for (const [name, flag] of Object.entries(LLAMA_ENV_SWITCHES)) {
    const raw = env[name];
    const toggle = LLAMA_SWITCHES[flag] as { key: SwitchKey; value: boolean };
    if (raw === undefined || raw === "" || llamaSet.has(toggle.key)) continue;
    options[toggle.key] = parseBool(name, raw);
  }
  for (const [name, spec] of Object.entries(STUB_FLAGS)) {
    if (stubSet.has(spec.key)) continue; // the command line wins over the environment
    const envName = `RMX_STUB_${name.toUpperCase().replaceAll("-", "_")}`;
    const raw = env[envName];
    if (raw === undefined || raw === "") continue;
    assignStub(spec.key, parseStubValue(envName, spec.kind, raw));
  }
  return options;
}
