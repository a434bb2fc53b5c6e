/** How `--wait` and `--timeout` read, and what a settled runtime prints and exits with. */

import { parseDuration } from "../../base/units.js";
import { UsageError } from "./args.js";
import type { ParsedCommandArgs } from "./command-spec.js";
import { ExitCode } from "./exit-codes.js";
import { formatSeconds } from "./format.js";

export const DEFAULT_WAIT_MS = 60_000;
/** The call may take as long as the wait plus this, so the daemon's own timeout answer arrives first. */
export const CALL_SLACK_MS = 10_000;

export function waitTimeoutMs(args: ParsedCommandArgs, usage: string): number {
  const raw = args.values.timeout;
  if (typeof raw !== "string") return DEFAULT_WAIT_MS;
  const ms = parseDuration(raw);
  if (ms === undefined || ms <= 0) {
    throw new UsageError(`flag --timeout: expected a duration like 60s, 2m or 500ms, got "${raw}"`, usage);
  }
  return ms;
}

export interface Settled {
  outcome?: "ready" | "stopped" | "failed" | "exhausted" | "timeout";
  detail?: string;
  state: string;
}

/** The line to print, where, and the exit code. */
export function describeOutcome(
  id: string,
  settled: Settled,
  timeoutMs: number,
): { line: string; toStderr: boolean; exitCode: number } {
  const detail = settled.detail === undefined ? "" : `: ${settled.detail}`;
  switch (settled.outcome) {
    case "ready":
      return { line: `${id} is ready`, toStderr: false, exitCode: ExitCode.OK };
    case "stopped":
      return { line: `${id} is stopped`, toStderr: false, exitCode: ExitCode.OK };
    case "failed":
      return {
        line: `${id} failed${detail || ` (state ${settled.state})`}`,
        toStderr: true,
        exitCode: ExitCode.ERROR,
      };
    case "exhausted":
      return {
        line: `${id} failed: restart budget exhausted${settled.detail ? ` (${settled.detail})` : ""}`,
        toStderr: true,
        exitCode: ExitCode.DENIED,
      };
    case "timeout":
      return {
        line: `${id} did not settle within ${formatSeconds(timeoutMs / 1000)} (state ${settled.state})${detail}`,
        toStderr: true,
        exitCode: ExitCode.ERROR,
      };
    default:
      return { line: `${id} is ${settled.state}`, toStderr: false, exitCode: ExitCode.OK };
  }
}
