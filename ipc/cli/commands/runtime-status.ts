/** `rmx runtime status [--watch]`. */
import type { RmxClient } from "../../client.js";
import { booleanValue } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { formatLocalTime } from "../format.js";
import { untilInterruptedOrClosed } from "../session.js";
import { renderStatus } from "../status-text.js";

const CLEAR_SCREEN = "\u001b[2J\u001b[H";
/** Events come in bursts (a restart is several state changes): one redraw per burst. */
const REDRAW_DEBOUNCE_MS = 50;

async function frame(ctx: CliContext, client: RmxClient): Promise<string> {
  const answer = client.call("runtime.status");
  ctx.readyOutput();
  const result = await answer;
  if (ctx.json) return `${JSON.stringify(result, null, 2)}\n`;
  return `${renderStatus(result, ctx.palette, formatLocalTime).join("\n")}\n`;
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const client = await ctx.connect();
  if (!booleanValue(args, "watch")) {
    // One answer and done: drop the connection rather than wait for the daemon's side of the close.
    try {
      ctx.write(await frame(ctx, client));
      return ExitCode.OK;
    } finally {
      client.destroy();
    }
  }
  try {
    return await watch(ctx, client);
  } finally {
    await client.close();
  }
}

async function watch(ctx: CliContext, client: RmxClient): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  let drawing = false;
  let again = false;
  let failure: unknown;
  const draw = async (): Promise<void> => {
    if (drawing) {
      again = true;
      return;
    }
    drawing = true;
    try {
      const text = await frame(ctx, client);
      // Only a terminal gets its screen cleared; a pipe or file gets frames one after another.
      ctx.write(ctx.isTTY ? `${CLEAR_SCREEN}${text}` : `${text}\n`);
    } catch (error) {
      failure ??= error;
    } finally {
      drawing = false;
    }
    if (again) {
      again = false;
      schedule();
    }
  };
  const schedule = (): void => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void draw();
    }, REDRAW_DEBOUNCE_MS);
  };
  // Subscribe first so a change between the first draw and the subscription is not missed.
  await client.subscribe(["runtime.*", "daemon.problems"], schedule, schedule);
  await draw();
  if (failure !== undefined) throw failure;
  const end = await untilInterruptedOrClosed(ctx, client);
  if (timer !== undefined) clearTimeout(timer);
  return end;
}
