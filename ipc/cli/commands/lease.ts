/** `rmx lease acquire|renew|release|list`. */

import { parseDuration } from "../../../base/units.js";
import type { Lease, LeaseAcquireParams, LeaseResult } from "../../protocol/policy.js";
import { stringValue, UsageError, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { alignColumns, formatLocalTime } from "../format.js";

/** Slack over `--wait` so the daemon's own "still full" answer arrives first. */
const CALL_SLACK_MS = 10_000;
const WAKE_TIMEOUT_MS = 120_000;

function durationFlag(args: ParsedCommandArgs, flag: string): number | undefined {
  const raw = stringValue(args, flag);
  if (raw === undefined) return undefined;
  const ms = parseDuration(raw);
  if (ms === undefined || ms <= 0) {
    const spec = args.spec;
    throw new UsageError(
      `flag --${flag}: expected a duration like 30s, 5m or 500ms, got "${raw}"`,
      spec ? usageLine(spec) : "",
    );
  }
  return ms;
}

export function leaseLines(leases: readonly Lease[]): string[] {
  if (leases.length === 0) return ["No leases."];
  const rows = [["ID", "TARGET", "CAPABILITY", "HOLDER", "EXPIRES"]];
  for (const l of leases) rows.push([l.id, l.target, l.capability, l.holder, formatLocalTime(l.expires_at)]);
  return alignColumns(rows);
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const action = args.command[1];
  const client = await ctx.connect();
  const print = (value: unknown, line: string) => ctx.out(ctx.json ? JSON.stringify(value, null, 2) : line);
  try {
    switch (action) {
      case "acquire": {
        const waitMs = durationFlag(args, "wait");
        const params: LeaseAcquireParams = {
          target: stringValue(args, "target") as string,
          capability: stringValue(args, "capability") as string,
          ttl_ms: durationFlag(args, "ttl") as number,
          holder: stringValue(args, "holder") as string,
          ...(waitMs !== undefined ? { wait_ms: waitMs } : {}),
        };
        const lease = (await client.call("lease.acquire", params, {
          timeoutMs: (waitMs ?? 0) + WAKE_TIMEOUT_MS + CALL_SLACK_MS,
        })) as LeaseResult;
        print(
          lease,
          `Lease ${lease.id} on ${lease.target} (${lease.capability}) for ${lease.holder} until ${formatLocalTime(lease.expires_at)}`,
        );
        return ExitCode.OK;
      }
      case "renew": {
        const ttl = durationFlag(args, "ttl");
        const id = stringValue(args, "id") as string;
        const lease = (await client.call("lease.renew", {
          id,
          ...(ttl !== undefined ? { ttl_ms: ttl } : {}),
        })) as Lease;
        print(lease, `Lease ${lease.id} renewed until ${formatLocalTime(lease.expires_at)}`);
        return ExitCode.OK;
      }
      case "release": {
        const id = stringValue(args, "id") as string;
        const result = await client.call("lease.release", { id });
        print(result, `Lease ${id} released`);
        return ExitCode.OK;
      }
      default: {
        const target = stringValue(args, "target");
        const { leases } = (await client.call("lease.list", target !== undefined ? { target } : {})) as {
          leases: Lease[];
        };
        if (ctx.json) ctx.out(JSON.stringify(leases, null, 2));
        else for (const line of leaseLines(leases)) ctx.out(line);
        return ExitCode.OK;
      }
    }
  } finally {
    await client.close();
  }
}
