/**
 * `rmx runtime reload --id RT [--model M] [--wait] [--timeout 60s]`. A reload the backend refuses comes back
 * as RELOAD_FAILED (exit 1) carrying the backend's own lines; the generic failure printer shows them.
 */
import type { QuickActionResult, ReloadParams } from "../../protocol/policy.js";
import { booleanValue, stringValue, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { CALL_SLACK_MS, describeOutcome, waitTimeoutMs } from "../wait-outcome.js";

export function quickActionLine(result: QuickActionResult): string {
  const changes: string[] = [];
  if (result.action === "reload") {
    changes.push(
      result.model === undefined
        ? "same spec"
        : result.previous_model !== undefined && result.previous_model !== result.model
          ? `model ${result.previous_model} → ${result.model}`
          : `model ${result.model}`,
    );
  }
  if (result.hardware !== result.previous_hardware)
    changes.push(`hardware ${result.previous_hardware} → ${result.hardware}`);
  if (result.sandbox !== result.previous_sandbox)
    changes.push(`sandbox ${result.previous_sandbox} → ${result.sandbox}`);
  const verb = result.action === "reload" ? "Reload" : "Switch";
  const what = !result.restarted
    ? `applies at next start (state ${result.state})`
    : result.takeover?.path === "beside"
      ? "starting the new process beside the old one, which serves until it takes over"
      : result.takeover?.path === "replace"
        ? "stopping the old process first (both do not fit); rolled back if the new one fails"
        : "restarting";
  return `${verb} accepted for ${result.id}: ${changes.join(", ") || "no change"}; ${what}; no restart budget used`;
}

/** Shared by reload and switch: call, print, and with --wait report how it settled. */
export async function runQuickAction(
  ctx: CliContext,
  args: ParsedCommandArgs,
  method: "runtime.reload" | "runtime.switch",
  extra: Record<string, string>,
): Promise<number> {
  const spec = args.spec;
  const id = stringValue(args, "id") as string;
  const wait = booleanValue(args, "wait");
  const timeoutMs = waitTimeoutMs(args, spec ? usageLine(spec) : "");
  const params = { id, ...extra, ...(wait ? { wait: true, timeout_ms: timeoutMs } : {}) };
  const client = await ctx.connect();
  try {
    const result = (await client.call(
      method,
      params,
      wait ? { timeoutMs: timeoutMs + CALL_SLACK_MS } : {},
    )) as QuickActionResult;
    if (ctx.json) ctx.out(JSON.stringify(result, null, 2));
    else {
      ctx.out(quickActionLine(result));
      if (result.fit !== undefined) ctx.out(`Fit: ${result.fit.reason}`);
      const t = result.takeover;
      if (t?.took_over_ms !== undefined) {
        const pids =
          t.old_pid !== undefined && t.new_pid !== undefined ? ` (pid ${t.old_pid} → ${t.new_pid})` : "";
        ctx.out(`Took over in ${t.took_over_ms} ms${pids}`);
      }
    }
    if (!wait || !result.restarted) return ExitCode.OK;
    const settled = describeOutcome(
      id,
      {
        state: result.state,
        ...(result.outcome ? { outcome: result.outcome } : {}),
        ...(result.detail ? { detail: result.detail } : {}),
      },
      timeoutMs,
    );
    if (!ctx.json) (settled.toStderr ? ctx.err : ctx.out)(settled.line);
    return settled.exitCode;
  } finally {
    await client.close();
  }
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const model = stringValue(args, "model");
  const params: Omit<ReloadParams, "id"> = model !== undefined ? { model } : {};
  return runQuickAction(ctx, args, "runtime.reload", params as Record<string, string>);
}
