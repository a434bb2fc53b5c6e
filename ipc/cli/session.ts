/** Long-running commands (watch, follow, events) end on Ctrl-C (exit 0) or when the daemon goes away (exit 1). */
import type { RmxClient } from "../client.js";
import type { CliContext } from "./context.js";
import { ExitCode } from "./exit-codes.js";

export async function untilInterruptedOrClosed(ctx: CliContext, client: RmxClient): Promise<number> {
  let offClose: (() => void) | undefined;
  const closed = new Promise<"closed">((resolve) => {
    offClose = client.onClose(() => resolve("closed"));
  });
  const how = await Promise.race([ctx.interrupted(), closed]);
  offClose?.();
  if (how === "closed") {
    ctx.err("rmx: rmxd closed the connection");
    return ExitCode.ERROR;
  }
  return ExitCode.OK;
}
