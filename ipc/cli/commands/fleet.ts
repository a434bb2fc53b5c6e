/** `rmx fleet --prometheus URL [--json]`: the matrix across nodes, from the Prometheus that scrapes them. */
import { formatLocalTime } from "../../../base/clock.js";
import { RmxError } from "../../../base/errors.js";
import { stringValue, UsageError, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import {
  composeFleet,
  FLEET_QUERIES,
  type FleetResults,
  fleetTable,
  type PromSample,
} from "../fleet-core.js";

const TIMEOUT_MS = 10_000;

async function instantQuery(base: URL, expr: string): Promise<PromSample[]> {
  const url = new URL("api/v1/query", base.href.endsWith("/") ? base : new URL(`${base.href}/`));
  url.searchParams.set("query", expr);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    throw new RmxError(
      "PROMETHEUS_QUERY_FAILED",
      `cannot reach Prometheus at ${base.href}: ${(error as Error).message}`,
      { url: url.href },
    );
  }
  const body = (await response.json().catch(() => undefined)) as
    | { status?: string; error?: string; data?: { resultType?: string; result?: PromSample[] } }
    | undefined;
  if (!response.ok || body?.status !== "success" || body.data?.resultType !== "vector")
    throw new RmxError(
      "PROMETHEUS_QUERY_FAILED",
      `Prometheus at ${base.href} answered ${response.status} to ${JSON.stringify(expr)}: ${body?.error ?? "not a vector result"}`,
      { url: url.href, status: response.status },
    );
  return body.data.result ?? [];
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const raw = stringValue(args, "prometheus") as string;
  let base: URL;
  try {
    base = new URL(raw);
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new Error("not http(s)");
  } catch {
    throw new UsageError(
      `flag --prometheus: expected an http(s) URL such as http://127.0.0.1:9090, got "${raw}"`,
      args.spec ? usageLine(args.spec) : "",
    );
  }
  const names = Object.keys(FLEET_QUERIES) as (keyof typeof FLEET_QUERIES)[];
  const answers = await Promise.all(names.map((n) => instantQuery(base, FLEET_QUERIES[n])));
  const results = Object.fromEntries(names.map((n, i) => [n, answers[i]])) as unknown as FleetResults;
  const rows = composeFleet(results);
  if (ctx.json) {
    ctx.out(
      JSON.stringify({ prometheus: base.href, nodes: [...new Set(rows.map((r) => r.node))], rows }, null, 2),
    );
    return ExitCode.OK;
  }
  if (rows.length === 0) {
    ctx.out(`no rmx_runtime_state series in Prometheus at ${base.href}: is it scraping rmxd's /metrics?`);
    return ExitCode.OK;
  }
  for (const line of fleetTable(rows, formatLocalTime)) ctx.out(line);
  return ExitCode.OK;
}
