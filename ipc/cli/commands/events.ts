/** `rmx events [--topic PATTERN …]`: one line per event until Ctrl-C. */
import type { EventNotificationParams } from "../../protocol/jsonrpc.js";
import { listValue } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { formatLocalTime, summarizePayload } from "../format.js";
import { untilInterruptedOrClosed } from "../session.js";

export function eventLine(event: EventNotificationParams): string {
  const summary = summarizePayload(event.payload);
  return `${formatLocalTime(event.time)}  ${event.topic}${summary === "" ? "" : `  ${summary}`}`;
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const patterns = listValue(args, "topic");
  const topics = patterns.length > 0 ? patterns : ["*"];
  const client = await ctx.connect();
  try {
    await client.subscribe(
      topics,
      (event) => {
        const { topic, seq, time, payload } = event;
        ctx.out(ctx.json ? JSON.stringify({ topic, seq, time, payload }) : eventLine(event));
      },
      (lagged) => ctx.err(`rmx: ${lagged.dropped} event(s) dropped: this terminal did not keep up`),
    );
    return await untilInterruptedOrClosed(ctx, client);
  } finally {
    await client.close();
  }
}
