/** `rmx runtime logs --id RT [-n N] [--follow]`. */
import type { LogLineNotificationParams } from "../../protocol/jsonrpc.js";
import { Notifications } from "../../protocol/jsonrpc.js";
import { booleanValue, stringValue, UsageError, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { escapeLine } from "../sanitize.js";
import { untilInterruptedOrClosed } from "../session.js";

const DEFAULT_LINES = 50;

function lineCount(args: ParsedCommandArgs): number {
  const raw = stringValue(args, "lines");
  if (raw === undefined) return DEFAULT_LINES;
  if (!/^\d+$/.test(raw)) {
    const spec = args.spec;
    throw new UsageError(
      `flag -n/--lines: expected a whole number, got "${raw}"`,
      spec ? usageLine(spec) : "",
    );
  }
  return Number(raw);
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const id = stringValue(args, "id") as string;
  const lines = lineCount(args);
  const follow = booleanValue(args, "follow");
  // A backend's log may hold any bytes: text output shows control characters instead of sending them.
  const print = (line: string): void => ctx.out(ctx.json ? JSON.stringify({ id, line }) : escapeLine(line));
  const client = await ctx.connect();
  try {
    // Listen before asking: followed lines may arrive right behind the answer, before we learn its id.
    let subscription: string | undefined;
    const early: LogLineNotificationParams[] = [];
    const off = client.onNotification(Notifications.LOG_LINE, (params: LogLineNotificationParams) => {
      if (subscription === undefined) early.push(params);
      else if (params.subscription === subscription) print(params.line);
    });
    const result = await client.call("runtime.logs", { id, lines, ...(follow ? { follow: true } : {}) });
    for (const line of result.lines) print(line);
    if (!follow || result.subscription === undefined) {
      off();
      return ExitCode.OK;
    }
    subscription = result.subscription;
    for (const params of early) if (params.subscription === subscription) print(params.line);
    return await untilInterruptedOrClosed(ctx, client);
  } finally {
    await client.close();
  }
}
