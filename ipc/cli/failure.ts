/** Turns any failure into the lines `rmx` prints on stderr and the exit code it ends with. */
import { exitCodeFor } from "../../base/errors.js";
import { UsageError } from "./args.js";
import { ExitCode } from "./exit-codes.js";

export interface Failure {
  exitCode: number;
  lines: string[];
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

export function notRunningLines(socketPath: string): string[] {
  return [
    `rmx: rmxd is not running (nothing answers on ${socketPath}).`,
    "Start it with `rmxd`, or `systemctl --user start rmxd` when it is installed as a service.",
  ];
}

const SOCKET_ABSENT = new Set(["ENOENT", "ECONNREFUSED"]);

export function describeFailure(error: unknown, socketPath: string): Failure {
  if (error instanceof UsageError) {
    return { exitCode: ExitCode.USAGE, lines: [`rmx: ${error.message}`, error.usage] };
  }
  const code = stableCodeOf(error);
  // A raw connect failure, in case it reaches here without the client's translation.
  const { code: errno, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  const connectFailed = syscall === "connect" && typeof errno === "string" && SOCKET_ABSENT.has(errno);
  if (code === "DAEMON_NOT_RUNNING" || connectFailed) {
    return { exitCode: ExitCode.NOT_RUNNING, lines: notRunningLines(socketPath) };
  }
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined) {
    return { exitCode: exitCodeFor(code), lines: [`rmx: ${message} [${code}]`] };
  }
  return { exitCode: ExitCode.ERROR, lines: [`rmx: ${message}`] };
}
