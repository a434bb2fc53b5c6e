/** `rmx pin set|list|clear`: which cells an agent or project prefers, in order. */
import type { PinRecord } from "../../protocol/policy.js";
import { stringValue } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { alignColumns, formatLocalTime } from "../format.js";

function scopeParams(args: ParsedCommandArgs): { agent?: string; project?: string } {
  const agent = stringValue(args, "agent");
  const project = stringValue(args, "project");
  return { ...(agent !== undefined ? { agent } : {}), ...(project !== undefined ? { project } : {}) };
}

function scopeText(scope: string): string {
  return scope === "*" ? "everyone (default)" : scope;
}

export function pinLines(pins: readonly PinRecord[]): string[] {
  if (pins.length === 0) return ["No pins."];
  const rows = [["SCOPE", "PATTERNS (in order)", "SET"]];
  for (const pin of pins)
    rows.push([scopeText(pin.scope), pin.patterns.join(", "), formatLocalTime(pin.set_at)]);
  return alignColumns(rows);
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const action = args.command[1];
  const client = await ctx.connect();
  try {
    if (action === "list") {
      const { pins } = (await client.call("pin.list", {})) as { pins: PinRecord[] };
      if (ctx.json) ctx.out(JSON.stringify(pins, null, 2));
      else for (const line of pinLines(pins)) ctx.out(line);
      return ExitCode.OK;
    }
    if (action === "clear") {
      const result = (await client.call("pin.clear", scopeParams(args))) as {
        scope: string;
        removed: boolean;
      };
      if (ctx.json) ctx.out(JSON.stringify(result, null, 2));
      else
        ctx.out(
          result.removed
            ? `Pin removed for ${scopeText(result.scope)}`
            : `No pin for ${scopeText(result.scope)}`,
        );
      return ExitCode.OK;
    }
    const record = (await client.call("pin.set", {
      ...scopeParams(args),
      patterns: args.positionals,
    })) as PinRecord;
    if (ctx.json) ctx.out(JSON.stringify(record, null, 2));
    else ctx.out(`Pinned ${scopeText(record.scope)}: ${record.patterns.join(", then ")}`);
    return ExitCode.OK;
  } finally {
    await client.close();
  }
}
