/**
 * The end of a runtime's process, for the supervisor: stopping it (the kill), and reading its exit — what the
 * backend said last and whether the way it died was the expected answer to our own stop signal.
 */
import type { Logger } from "pino";
import type { RuntimeSpec } from "../../base/spec.js";
import { type ChildHandle, type ExitInfo, stopProcessGroup } from "../process/child.js";
import type { RotatingLog } from "../process/logs.js";
import { type BackendErrors, backendErrorLines, ERROR_SEARCH_LINES } from "./backend-errors.js";
import { resumeGroup, stopOptions } from "./launch.js";

/** Stops the process group with the spec's signal and grace; SIGKILL after it (logged). */
export async function killChild(child: ChildHandle, spec: RuntimeSpec, logger: Logger): Promise<void> {
  // A stopped (SIGSTOP) process cannot act on the stop signal; let it, so it gets its grace.
  resumeGroup(child.pgid);
  const result = await stopProcessGroup(child, stopOptions(spec));
  if (result.escalated) {
    logger.warn({ grace_ms: spec.stop.grace_ms }, "process ignored the stop signal; killed with SIGKILL");
  }
}

/**
 * How the end reads in the log. After our own stop signal any death is the stop (llama-server b4748 dies of
 * SIGABRT after SIGTERM: "terminate called without an active exception"), so it is named as expected.
 */
export function describeEnd(exit: ExitInfo, stopSignal: string | undefined): string {
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
  if (stopSignal === undefined) return `ended (${how})`;
  if (exit.signal === null && exit.code === 0) return `stopped (exit code 0 after ${stopSignal})`;
  if (exit.signal === stopSignal) return `stopped (${stopSignal})`;
  return `stopped (${exit.signal ?? `exit code ${exit.code}`} after ${stopSignal}, expected)`;
}

/** The backend's error lines of the run that just ended, from the log's tail. */
export function exitErrors(log: RotatingLog): BackendErrors {
  return backendErrorLines(log.lastLines(ERROR_SEARCH_LINES));
}
