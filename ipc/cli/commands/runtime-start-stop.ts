/** `rmx runtime start|stop --id RT [--wait] [--timeout 60s]`. */
import type { StartStopParams } from "../../protocol/methods.js";
import { booleanValue, stringValue, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { CALL_SLACK_MS, describeOutcome, waitTimeoutMs } from "../wait-outcome.js";

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const action = args.command[1] === "stop" ? "stop" : "start";
  const spec = args.spec;
  const id = stringValue(args, "id") as string;
  const wait = booleanValue(args, "wait");
  const timeoutMs = waitTimeoutMs(args, spec ? usageLine(spec) : "");
  const params: StartStopParams = { id, ...(wait ? { wait: true, timeout_ms: timeoutMs } : {}) };
  const client = await ctx.connect();
  try {
    const result = await client.call(
      action === "stop" ? "runtime.stop" : "runtime.start",
      params,
      wait ? { timeoutMs: timeoutMs + CALL_SLACK_MS } : {},
    );
    if (ctx.json) ctx.out(JSON.stringify(result, null, 2));
    else {
      ctx.out(`${action === "stop" ? "Stop" : "Start"} requested for ${id} (state ${result.state})`);
      const budget = result.restart_budget;
      if (result.restart_spent && budget !== undefined) ctx.out(spentLine(id, budget.remaining));
    }
    if (!wait) return ExitCode.OK;
    const settled = describeOutcome(id, result, timeoutMs);
    if (!ctx.json) (settled.toStderr ? ctx.err : ctx.out)(settled.line);
    return settled.exitCode;
  } finally {
    await client.close();
  }
}

/** A start of a failed or exhausted runtime is a restart: "starting gamma spends 1 of its 2 remaining restarts". */
function spentLine(id: string, remainingAfter: number): string {
  const before = remainingAfter + 1;
  return `starting ${id} spends 1 of its ${before} remaining restart${before === 1 ? "" : "s"}`;
}
