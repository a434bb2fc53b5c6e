/** `rmx runtime restore --id RT [--no-restart] [--reset-budget] [--wait] [--timeout 60s]`. */
import { ErrorCodes } from "../../../base/errors.js";
import type { RestoreParams } from "../../protocol/methods.js";
import type { RestartBudgetView, RestoreResult } from "../../protocol/runtime.js";
import { booleanValue, stringValue, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { errorData, stableCodeOf } from "../failure.js";
import { budgetExhaustedDetail, budgetLine, formatLocalTime } from "../format.js";
import { CALL_SLACK_MS, describeOutcome, waitTimeoutMs } from "../wait-outcome.js";

function isBudgetView(value: unknown): value is RestartBudgetView {
  const v = value as Partial<RestartBudgetView> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.used === "number" &&
    typeof v.max_restarts === "number" &&
    typeof v.remaining === "number" &&
    typeof v.window_seconds === "number"
  );
}

/** "Restore denied for X: Restart budget exhausted (3/3 used; resets at 12:09:41)" or with the daemon's message. */
export function denialLine(id: string, error: unknown): string {
  const budget = errorData(error)?.restart_budget;
  if (stableCodeOf(error) === "BUDGET_EXHAUSTED" && isBudgetView(budget)) {
    return `Restore denied for ${id}: Restart budget exhausted (${budgetExhaustedDetail(budget, formatLocalTime)})`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `Restore denied for ${id}: ${message}`;
}

export function acceptedLine(result: RestoreResult): string {
  const notes = [budgetLine(result.restart_budget, formatLocalTime)];
  if (!result.restarted) notes.unshift("not restarted");
  if (result.budget_reset) notes.unshift("budget reset");
  return `Restore accepted for ${result.id} (${notes.join("; ")})`;
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const spec = args.spec;
  const id = stringValue(args, "id") as string;
  const wait = booleanValue(args, "wait");
  const timeoutMs = waitTimeoutMs(args, spec ? usageLine(spec) : "");
  const params: RestoreParams = {
    id,
    restart: !booleanValue(args, "no-restart"),
    reset_budget: booleanValue(args, "reset-budget"),
    ...(wait ? { wait: true, timeout_ms: timeoutMs } : {}),
  };
  const client = await ctx.connect();
  let result: RestoreResult;
  try {
    result = await client.call(
      "runtime.restore",
      params,
      wait ? { timeoutMs: timeoutMs + CALL_SLACK_MS } : {},
    );
  } catch (error) {
    const code = stableCodeOf(error);
    // Refusals (exit 3 codes) get the restore wording; anything else is an ordinary failure.
    // Under --json the error itself goes to stderr as one JSON object (run.ts), with the same exit code.
    if (
      !ctx.json &&
      code !== undefined &&
      code in ErrorCodes &&
      ErrorCodes[code as keyof typeof ErrorCodes].exit === ExitCode.DENIED
    ) {
      ctx.err(denialLine(id, error));
      return ExitCode.DENIED;
    }
    throw error;
  } finally {
    await client.close();
  }
  if (ctx.json) {
    ctx.out(JSON.stringify(result, null, 2));
  } else {
    ctx.out(acceptedLine(result));
  }
  if (!wait) return ExitCode.OK;
  const settled = describeOutcome(id, result, timeoutMs);
  if (!ctx.json) (settled.toStderr ? ctx.err : ctx.out)(settled.line);
  return settled.exitCode;
}
