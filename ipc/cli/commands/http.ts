/**
 * `rmx http token [--url]`: the gateway's bearer token, asked of the daemon over the socket (`http.token`),
 * so the socket's own access check decides who may read it. The token alone on stdout, for
 * `OPENAI_API_KEY=$(rmx http token)`.
 */
import type { HttpTokenResult } from "../../protocol/http.js";
import { booleanValue } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";

/** The answer of `http.token` (docs/protocol.md). */

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const client = await ctx.connect();
  let result: HttpTokenResult;
  try {
    result = (await client.call("http.token")) as HttpTokenResult;
  } finally {
    await client.close();
  }
  if (ctx.json) {
    ctx.out(JSON.stringify(result, null, 2));
    return ExitCode.OK;
  }
  if (result.problem !== undefined) ctx.err(`rmx: warning: ${result.problem}`);
  else if (result.listen === undefined)
    ctx.err("rmx: warning: the HTTP gateway is off (http.listen: off or rmxd --http off)");
  if (result.token === undefined) {
    ctx.err("rmx: the HTTP gateway runs without a token (http.auth: none): any API key works");
    if (booleanValue(args, "url") && result.base_url !== undefined) ctx.out(result.base_url);
    return ExitCode.OK;
  }
  ctx.out(result.token);
  if (booleanValue(args, "url") && result.base_url !== undefined) ctx.out(result.base_url);
  return ExitCode.OK;
}
