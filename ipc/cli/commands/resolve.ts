/** `rmx resolve`: the cell that would serve a request, and why every other cell was passed over. */
import type { PassedOver, ResolveParams, ResolveResult } from "../../protocol/policy.js";
import { listValue, stringValue, UsageError, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { errorData, stableCodeOf } from "../failure.js";

const MODES = ["quick", "balanced", "deep", "verified"] as const;

export function modeValue(args: ParsedCommandArgs): ResolveParams["mode"] {
  const mode = stringValue(args, "mode");
  if (mode === undefined) return undefined;
  if (!(MODES as readonly string[]).includes(mode)) {
    const spec = args.spec;
    throw new UsageError(
      `flag --mode: expected one of ${MODES.join(", ")}, got "${mode}"`,
      spec ? usageLine(spec) : "",
    );
  }
  return mode as ResolveParams["mode"];
}

export function positiveInt(args: ParsedCommandArgs, flag: string): number | undefined {
  const raw = stringValue(args, flag);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    const spec = args.spec;
    throw new UsageError(
      `flag --${flag}: expected a positive integer, got "${raw}"`,
      spec ? usageLine(spec) : "",
    );
  }
  return n;
}

function ref(cell: string, runtime: string | undefined): string {
  return runtime === undefined ? cell : `${cell} (runtime ${runtime})`;
}

export function passedOverLines(passed: readonly PassedOver[]): string[] {
  if (passed.length === 0) return [];
  return ["Passed over:", ...passed.map((p) => `  ${ref(p.cell, p.runtime)}: ${p.why} — ${p.detail}`)];
}

export function resolveLines(result: ResolveResult): string[] {
  const lines = [`Chosen: ${ref(result.chosen.cell, result.chosen.runtime)} (mode ${result.mode})`];
  if (result.also !== undefined) lines.push(`Also (verified): ${ref(result.also.cell, result.also.runtime)}`);
  if (result.pin !== undefined) lines.push(`Pin ${result.pin.scope}: ${result.pin.patterns.join(", then ")}`);
  if (result.preferred !== undefined) {
    const not = result.chosen.cell === result.preferred.cell ? "" : " (not chosen)";
    lines.push(`Preferred by the pin: ${result.preferred.cell}${not}`);
  }
  if (result.note !== undefined) lines.push(`Note: ${result.note}`);
  lines.push(...passedOverLines(result.passed_over));
  return lines;
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const params: ResolveParams = {};
  const agent = stringValue(args, "agent");
  const project = stringValue(args, "project");
  const model = stringValue(args, "model");
  const mode = modeValue(args);
  const slo = positiveInt(args, "slo-ms");
  const needs = listValue(args, "need");
  if (agent !== undefined) params.agent = agent;
  if (project !== undefined) params.project = project;
  if (model !== undefined) params.model = model;
  if (mode !== undefined) params.mode = mode;
  if (slo !== undefined) params.slo_ms = slo;
  if (needs.length > 0) params.needs = needs;
  const client = await ctx.connect();
  try {
    const result = (await client.call("runtime.resolve", params)) as ResolveResult;
    if (ctx.json) ctx.out(JSON.stringify(result, null, 2));
    else for (const line of resolveLines(result)) ctx.out(line);
    return ExitCode.OK;
  } catch (error) {
    if (stableCodeOf(error) !== "NO_ELIGIBLE_CELL") throw error;
    const passed = (errorData(error)?.passed_over ?? []) as PassedOver[];
    if (ctx.json) {
      ctx.out(JSON.stringify({ chosen: null, passed_over: passed }, null, 2));
      throw error;
    }
    ctx.err("No eligible cell.");
    for (const line of passedOverLines(passed)) ctx.err(line);
    return ExitCode.DENIED;
  } finally {
    await client.close();
  }
}
