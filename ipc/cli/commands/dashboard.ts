/**
 * `rmx dashboard [--open] [--opener CMD]`: a one-time login URL to the dashboard (from the daemon, valid
 * 60 s), printed first so it is there to open by hand whatever happens to the opener.
 */
import { booleanValue, stringValue } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { openers, openUrl } from "./dashboard-opener.js";

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const client = await ctx.connect();
  let login: { url: string; expires_at: string };
  try {
    login = await client.call("dashboard.login");
  } finally {
    await client.close();
  }
  if (ctx.json) ctx.out(JSON.stringify(login));
  else ctx.out(`${login.url}\n(single use; valid until ${login.expires_at})`);
  const flag = stringValue(args, "opener");
  if (booleanValue(args, "open") || flag !== undefined)
    await openUrl(login.url, openers(login.url, flag, ctx.env));
  return ExitCode.OK;
}
