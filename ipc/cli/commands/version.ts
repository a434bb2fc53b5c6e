/** `rmx version`: the CLI's version, and the daemon's when one answers. */
import type { HelloResult } from "../../protocol/runtime.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { stableCodeOf } from "../failure.js";
import { cliVersion } from "../package-version.js";

async function hello(ctx: CliContext): Promise<HelloResult | undefined> {
  try {
    const client = await ctx.connect();
    try {
      return await client.call("daemon.hello");
    } finally {
      await client.close();
    }
  } catch (error) {
    if (stableCodeOf(error) === "DAEMON_NOT_RUNNING") return undefined;
    throw error;
  }
}

export async function run(ctx: CliContext, _args: ParsedCommandArgs): Promise<number> {
  const version = await cliVersion();
  const daemon = await hello(ctx);
  if (ctx.json) {
    ctx.out(JSON.stringify({ cli: version, daemon: daemon ?? null }, null, 2));
    return ExitCode.OK;
  }
  ctx.out(`rmx ${version}`);
  if (daemon === undefined) ctx.out(`rmxd: not running (socket ${ctx.socketPath})`);
  else
    ctx.out(
      `rmxd ${daemon.version} (protocol ${daemon.protocol}, pid ${daemon.pid}, socket ${daemon.socket})`,
    );
  return ExitCode.OK;
}
