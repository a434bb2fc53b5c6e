/** `rmx dashboard [--open]`: a one-time login URL to the dashboard (from the daemon, valid 60 s). */
import { spawn } from "node:child_process";
import { booleanValue } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";

/** The platform's opener; detached, so the browser outlives `rmx`. */
function openUrl(url: string): void {
  const command = process.platform === "darwin" ? "open" : "xdg-open";
  const child = spawn(command, [url], { stdio: "ignore", detached: true });
  child.on("error", () => {});
  child.unref();
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const client = await ctx.connect();
  try {
    const login = await client.call("dashboard.login");
    if (ctx.json) ctx.out(JSON.stringify(login));
    else ctx.out(`${login.url}\n(single use; valid until ${login.expires_at})`);
    if (booleanValue(args, "open")) openUrl(login.url);
    return ExitCode.OK;
  } finally {
    await client.close();
  }
}
