/** Turns any failure into the lines `rmx` prints on stderr and the exit code it ends with. */
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exitCodeFor } from "../../base/errors.js";
import { isUsageError } from "./args.js";
import { ExitCode } from "./exit-codes.js";

export interface Failure {
  exitCode: number;
  lines: string[];
  /** The same failure for `--json`: one object on stderr, `{"error":{code, message, data?}}`. */
  json: { error: { code: string; message: string; data?: Record<string, unknown> } };
}

/** The stable code of a daemon answer (RpcCallError), a local RmxError, or undefined. */
export function stableCodeOf(error: unknown): string | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const candidate = error as { stableCode?: unknown; data?: { code?: unknown }; code?: unknown };
  if (typeof candidate.stableCode === "string") return candidate.stableCode;
  if (typeof candidate.data?.code === "string") return candidate.data.code;
  if (typeof candidate.code === "string" && /^[A-Z][A-Z_]+$/.test(candidate.code)) return candidate.code;
  return undefined;
}

/** Data a daemon error carries (`error.data`), e.g. `restart_budget` on BUDGET_EXHAUSTED. */
export function errorData(error: unknown): Record<string, unknown> | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const data = (error as { data?: unknown }).data;
  return data !== null && typeof data === "object" ? (data as Record<string, unknown>) : undefined;
}

/**
 * How to start the daemon, in words that work where the user is: `rmxd` when it is on PATH (a global
 * install or `npm link`), else the daemon entry that sits beside this CLI in the same package, by its path.
 */
export function startCommand(env: NodeJS.ProcessEnv, daemonEntry: string): string {
  const dirs = (env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  const names = process.platform === "win32" ? ["rmxd.cmd", "rmxd.exe", "rmxd"] : ["rmxd"];
  for (const dir of dirs) {
    for (const name of names) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return "rmxd";
      } catch {
        // not here
      }
    }
  }
  // Run from sources (tests), there is no built entry beside this file: the bin name is all we can say.
  if (!existsSync(daemonEntry)) return "rmxd";
  return `node ${daemonEntry.includes(" ") ? JSON.stringify(daemonEntry) : daemonEntry}`;
}

/**
 * rmxd's entry in the dist/ at `distUrl` (a directory URL): the bundle, dist/bin/rmxd.cjs, else the tsc
 * output's dist/daemon/main.js (a checkout built with tsc alone).
 */
export function daemonEntryOf(distUrl: URL): string {
  const bundle = fileURLToPath(new URL("bin/rmxd.cjs", distUrl));
  return existsSync(bundle) ? bundle : fileURLToPath(new URL("daemon/main.js", distUrl));
}

/** rmxd's entry in the package this CLI belongs to; computed when a failure needs it, not at start. */
export function daemonEntry(): string {
  return daemonEntryOf(new URL("../../", import.meta.url));
}

export function notRunningLines(socketPath: string, env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    `rmx: rmxd is not running (nothing answers on ${socketPath}).`,
    `Start it with \`${startCommand(env, daemonEntry())}\`, or \`systemctl --user start rmxd\` when it is installed as a service.`,
  ];
}

const SOCKET_ABSENT = new Set(["ENOENT", "ECONNREFUSED"]);

function failure(exitCode: number, lines: string[], code: string, message: string, data?: unknown): Failure {
  const error: Failure["json"]["error"] = { code, message };
  if (data !== null && typeof data === "object") error.data = data as Record<string, unknown>;
  return { exitCode, lines, json: { error } };
}

export function describeFailure(
  error: unknown,
  socketPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Failure {
  if (isUsageError(error)) {
    return failure(ExitCode.USAGE, [`rmx: ${error.message}`, error.usage], "USAGE", error.message, {
      usage: error.usage,
    });
  }
  const code = stableCodeOf(error);
  // A raw connect failure, in case it reaches here without the client's translation.
  const { code: errno, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  const connectFailed = syscall === "connect" && typeof errno === "string" && SOCKET_ABSENT.has(errno);
  if (code === "DAEMON_NOT_RUNNING" || connectFailed) {
    const lines = notRunningLines(socketPath, env);
    return failure(ExitCode.NOT_RUNNING, lines, "DAEMON_NOT_RUNNING", lines.join(" ").replace(/^rmx: /, ""), {
      socket: socketPath,
      start: startCommand(env, daemonEntry()),
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined) {
    return failure(exitCodeFor(code), [`rmx: ${message} [${code}]`], code, message, errorData(error));
  }
  return failure(ExitCode.ERROR, [`rmx: ${message}`], "ERROR", message);
}
