/** `rmx runtime switch --id RT [--sandbox KIND] [--hardware HW] [--wait] [--timeout 60s]`. */
import { stringValue, UsageError, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { runQuickAction } from "./runtime-reload.js";

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const sandbox = stringValue(args, "sandbox");
  const hardware = stringValue(args, "hardware");
  if (sandbox === undefined && hardware === undefined) {
    const spec = args.spec;
    throw new UsageError(
      "rmx runtime switch needs --sandbox, --hardware or both",
      spec ? usageLine(spec) : "",
    );
  }
  return runQuickAction(ctx, args, "runtime.switch", {
    ...(sandbox !== undefined ? { sandbox } : {}),
    ...(hardware !== undefined ? { hardware } : {}),
  });
}
