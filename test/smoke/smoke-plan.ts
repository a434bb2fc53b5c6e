/**
 * What the smoke runs, from its environment: MODE=stub (default) or MODE=real, and for real mode
 * LLAMA_SERVER_BIN, LLAMA_MODEL_PATH, LLAMA_SERVER_ARGS, LLAMA_SERVER_PORT. Problems a user must fix
 * before anything starts come back as `{ ok: false, message }` (the smoke exits 2 with the message).
 */
import { statSync } from "node:fs";
import path from "node:path";
import { isRmxError } from "../../base/errors.js";
import { resolveBinary } from "../../daemon/process/binary.js";
import { ShellWordsError, splitShellWords } from "./shell-words.js";

export type SmokeMode = "stub" | "real";

export const RESTART_BUDGET = { max_restarts: 3, window_seconds: 600 } as const;

export interface SmokePlan {
  mode: SmokeMode;
  runtimeId: string;
  /** The runtime entry of the generated rmx.yaml, written as a user would write it. */
  runtime: Record<string, unknown>;
  /** What the launch-args step expects on the backend's command line. */
  expect: {
    modelPath?: string;
    /** The user's args, last on the command line. */
    extraArgs: string[];
    port?: number;
  };
  /** Longest one model load may take (the runtime's health.start_timeout too). */
  startTimeoutMs: number;
  /** Longest one chat may take. */
  chatTimeoutMs: number;
  /** Resolved backend binary (real mode), for the report. */
  binary?: string;
}

export type PlanResult = { ok: true; plan: SmokePlan } | { ok: false; message: string };

const STUB_START_TIMEOUT_S = 30;
const REAL_START_TIMEOUT_S = 300;

function fail(message: string): PlanResult {
  return { ok: false, message };
}

function parseSeconds(raw: string | undefined, fallback: number): number | string {
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value <= 0)
    return `SMOKE_START_TIMEOUT=${raw}: expected a whole number of seconds`;
  return value;
}

/** The budget and a short backoff: the smoke restarts the backend several times and should not wait. */
function supervision(startTimeoutS: number, stopGrace: string): Record<string, unknown> {
  return {
    auto_start: true,
    health: { start_timeout: `${startTimeoutS}s` },
    restart_budget: { ...RESTART_BUDGET, retry_at_reset: false },
    backoff: { initial: "100ms", max: "1s", jitter: 0 },
    stop: { grace: stopGrace },
  };
}

export async function resolvePlan(env: NodeJS.ProcessEnv, cwd: string): Promise<PlanResult> {
  const mode = (env.MODE ?? "stub").trim() || "stub";
  if (mode !== "stub" && mode !== "real") return fail(`MODE=${mode}: expected stub or real`);
  const timeout = parseSeconds(
    env.SMOKE_START_TIMEOUT,
    mode === "stub" ? STUB_START_TIMEOUT_S : REAL_START_TIMEOUT_S,
  );
  if (typeof timeout === "string") return fail(timeout);
  const startTimeoutMs = timeout * 1000;

  if (mode === "stub") {
    const extraArgs = ["--alias", "smoke-model"];
    return {
      ok: true,
      plan: {
        mode,
        runtimeId: "smoke-stub",
        runtime: {
          id: "smoke-stub",
          adapter: "llama-stub",
          args: extraArgs,
          ...supervision(timeout, "5s"),
        },
        expect: { extraArgs },
        startTimeoutMs,
        chatTimeoutMs: 30_000,
      },
    };
  }

  const modelRaw = env.LLAMA_MODEL_PATH;
  if (modelRaw === undefined || modelRaw.trim() === "") {
    return fail(
      "MODE=real needs LLAMA_MODEL_PATH: the path of a GGUF model file for llama-server " +
        "(e.g. LLAMA_MODEL_PATH=~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf MODE=real npx just runtime-smoke)",
    );
  }
  const modelPath = path.resolve(cwd, modelRaw.replace(/^~(?=$|\/)/, env.HOME ?? "~"));
  let isFile = false;
  try {
    isFile = statSync(modelPath).isFile();
  } catch {
    return fail(`LLAMA_MODEL_PATH=${modelRaw}: no such file (${modelPath})`);
  }
  if (!isFile) return fail(`LLAMA_MODEL_PATH=${modelRaw}: not a file (${modelPath})`);

  let extraArgs: string[];
  try {
    extraArgs = splitShellWords(env.LLAMA_SERVER_ARGS ?? "");
  } catch (error) {
    if (error instanceof ShellWordsError) return fail(`LLAMA_SERVER_ARGS: ${error.message}`);
    throw error;
  }

  let port: number | undefined;
  const portRaw = env.LLAMA_SERVER_PORT?.trim();
  if (portRaw !== undefined && portRaw !== "") {
    port = Number(portRaw);
    if (!/^\d+$/.test(portRaw) || port < 1 || port > 65535) {
      return fail(`LLAMA_SERVER_PORT=${portRaw}: expected a port number from 1 to 65535`);
    }
  }

  // The binary as a user's config names it: LLAMA_SERVER_BIN (made absolute, since the config loader would
  // resolve a relative path against the config's temp directory), else llama-server looked up on PATH.
  const binRaw = env.LLAMA_SERVER_BIN?.trim();
  const binary =
    binRaw === undefined || binRaw === ""
      ? undefined
      : binRaw.includes("/")
        ? path.resolve(cwd, binRaw)
        : binRaw;
  let resolved: string;
  try {
    resolved = await resolveBinary(binary ?? "llama-server", env, {
      hint: "set LLAMA_SERVER_BIN to llama-server's path, or put llama-server on PATH",
    });
  } catch (error) {
    if (isRmxError(error)) return fail(`MODE=real: ${error.message}`);
    throw error;
  }

  return {
    ok: true,
    plan: {
      mode,
      runtimeId: "smoke-llama",
      runtime: {
        id: "smoke-llama",
        adapter: "llama.cpp",
        ...(binary === undefined ? {} : { binary }),
        model: modelPath,
        args: extraArgs,
        ...(port === undefined ? {} : { port }),
        ...supervision(timeout, "10s"),
      },
      expect: { modelPath, extraArgs, ...(port === undefined ? {} : { port }) },
      startTimeoutMs,
      chatTimeoutMs: Math.max(60_000, startTimeoutMs),
      binary: resolved,
    },
  };
}
