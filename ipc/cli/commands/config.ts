/** `rmx config schema` and `rmx config check [FILE]`. Both load the config modules (zod, yaml) only here. */
import { isRmxError } from "../../../base/errors.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  if (args.command[1] === "schema") {
    const { configJsonSchema } = await import("../../../config/json-schema.js");
    ctx.out(JSON.stringify(configJsonSchema(), null, 2));
    return ExitCode.OK;
  }
  return check(ctx, args.positionals[0]);
}

async function check(ctx: CliContext, file: string | undefined): Promise<number> {
  const [{ loadConfig }, { locateConfig }] = await Promise.all([
    import("../../../config/load.js"),
    import("../../../config/locate.js"),
  ]);
  // The same lookup the daemon does: FILE as if given to `rmxd --config`, else RMX_CONFIG, the XDG file, the default.
  const location = await locateConfig({ ...(file === undefined ? {} : { flag: file }), env: ctx.env });
  try {
    const config = await loadConfig(location);
    const count = config.runtimes.length;
    if (ctx.json) ctx.out(JSON.stringify({ ok: true, source: config.source, runtimes: count }, null, 2));
    else ctx.out(`ok: ${count} runtime${count === 1 ? "" : "s"} (${config.source})`);
    return ExitCode.OK;
  } catch (error) {
    const issues = checkIssues(error);
    if (issues === undefined) throw error;
    if (ctx.json) {
      ctx.out(JSON.stringify({ ok: false, source: location.path, issues }, null, 2));
      return ExitCode.ERROR;
    }
    // Text: an invalid file lists its issues; any other refusal is reported like every CLI error (with its code).
    if (!isRmxError(error, "CONFIG_INVALID")) throw error;
    ctx.err(error.message);
    return ExitCode.ERROR;
  }
}

/**
 * The problems of a file that was read but refused, in one shape: its own issues for CONFIG_INVALID; for
 * PATH_UNTRUSTED (owned by another user, writable by others) one issue naming the path and the fix.
 * Anything else (unreadable, not found) is not a verdict on the file and is thrown on.
 */
function checkIssues(error: unknown): unknown[] | undefined {
  if (isRmxError(error, "CONFIG_INVALID")) {
    const issues = error.data?.issues;
    return Array.isArray(issues) ? issues : [];
  }
  if (isRmxError(error, "PATH_UNTRUSTED")) {
    const at = error.data?.path;
    return [
      {
        code: "PATH_UNTRUSTED",
        message: error.message,
        ...(typeof at === "string" ? { path: at } : {}),
        ...(typeof error.data?.fix === "string" ? { fix: error.data.fix } : {}),
      },
    ];
  }
  return undefined;
}
