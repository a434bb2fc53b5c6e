import { constants as osConstants } from "node:os";
import { RmxError } from "../../base/errors.js";

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
  key: "model" | "host" | "port" | "ctxSize" | "parallel" | "threads" | "gpuLayers" | "alias";
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
};

const LLAMA_SWITCHES: Record<string, { key: "metrics" | "slots" | "logDisable"; value: boolean }> = {
  "--metrics": { key: "metrics", value: true },
  "--slots": { key: "slots", value: true },
  "--no-slots": { key: "slots", value: false },
  "--log-disable": { key: "logDisable", value: true },
};

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

function parseInteger(flag: string, raw: string, min: number): number {
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

/** A following token is a value unless it looks like a flag (negative numbers are values). */
function isValueToken(token: string | undefined): token is string {
  return token !== undefined && (!token.startsWith("-") || /^-\d/.test(token));
}

/**
 * llama-server's command line, leniently: unknown flags are skipped (with their value when the next
 * token is not a flag), so a supervisor may pass flags the stub does not model. Unknown `--stub-*`
 * flags are errors: a typo in a fault flag must not silently test nothing.
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
    ...STUB_DEFAULTS,
  };
  const stubSet = new Set<StubKey>();
  const assignStub = (key: StubKey, value: number | boolean | string) => {
    (options as unknown as Record<string, unknown>)[key] = value;
    stubSet.add(key);
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (!token.startsWith("-")) continue;
    const eq = token.indexOf("=");
    const flag = eq >= 0 ? token.slice(0, eq) : token;
    const inline = eq >= 0 ? token.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined) throw usage(`error: ${flag} needs a value`);
      i++;
      return next;
    };

    const valueFlag = LLAMA_VALUE_FLAGS[flag];
    if (valueFlag !== undefined) {
      const raw = takeValue();
      if (valueFlag.kind === "string") {
        (options as unknown as Record<string, unknown>)[valueFlag.key] = raw;
      } else if (valueFlag.key === "port") {
        const port = parseInteger(flag, raw, 0);
        if (port > 65535) throw usage(`error: invalid argument: ${flag} ${raw} (must be at most 65535)`);
        options.port = port;
      } else if (valueFlag.key === "ctxSize") {
        // 0 means "the model's training context" in llama-server.
        const size = parseInteger(flag, raw, 0);
        options.ctxSize = size === 0 ? DEFAULT_CTX_SIZE : size;
      } else {
        // -np -1 means "auto" in newer builds.
        options.parallel = Math.max(1, parseInteger(flag, raw, -1));
      }
      continue;
    }
    const toggle = LLAMA_SWITCHES[flag];
    if (toggle !== undefined) {
      options[toggle.key] = inline === undefined ? toggle.value : parseBool(flag, inline) === toggle.value;
      continue;
    }
    if (flag.startsWith("--stub-")) {
      const spec = STUB_FLAGS[flag.slice("--stub-".length)];
      if (spec === undefined) throw usage(`error: unknown stub flag ${flag}`);
      const raw = spec.kind === "bool" ? (inline ?? "true") : takeValue();
      assignStub(spec.key, parseStubValue(flag, spec.kind, raw));
      continue;
    }
    if (inline === undefined && isValueToken(argv[i + 1])) i++;
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
