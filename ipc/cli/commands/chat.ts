/** `rmx chat [--model M] [--agent A] [--mode …] [--stream] MESSAGE…`: an answer through the matrix. */

import { parseDuration } from "../../../base/units.js";
import type { ChatAnswer, ChatDeltaParams, ChatParams, ChatResult } from "../../protocol/policy.js";
import { booleanValue, stringValue, UsageError, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { escapeControl } from "../sanitize.js";
import { modeValue, positiveInt } from "./resolve.js";

const DEFAULT_TIMEOUT_MS = 120_000;
/** The call may take as long as the daemon's own timeout plus this, so its TIMEOUT answer arrives first. */
const CALL_SLACK_MS = 10_000;

function servedBy(a: ChatAnswer): string {
  return `${a.cell} (runtime ${a.runtime}, model ${a.model}, ${Math.round(a.latency_ms)} ms)`;
}

export function footerLines(result: ChatResult): string[] {
  const lines = [`— served by ${servedBy(result)}`];
  if (result.fallback.used) {
    lines.push(`— fallback from ${result.fallback.from ?? "?"}: ${result.fallback.reason ?? "not serving"}`);
  }
  if (result.note !== undefined) lines.push(`— ${result.note}`);
  return lines;
}

function timeoutMs(args: ParsedCommandArgs): number {
  const raw = stringValue(args, "timeout");
  if (raw === undefined) return DEFAULT_TIMEOUT_MS;
  const ms = parseDuration(raw);
  if (ms === undefined || ms <= 0) {
    const spec = args.spec;
    throw new UsageError(
      `flag --timeout: expected a duration like 60s or 2m, got "${raw}"`,
      spec ? usageLine(spec) : "",
    );
  }
  return ms;
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const message = args.positionals.join(" ");
  const stream = booleanValue(args, "stream") && !ctx.json;
  const timeout = timeoutMs(args);
  const request = `cli-${process.pid}-${Date.now().toString(36)}`;
  const params: ChatParams = { messages: [{ role: "user", content: message }], timeout_ms: timeout, request };
  const model = stringValue(args, "model");
  const agent = stringValue(args, "agent");
  const project = stringValue(args, "project");
  const mode = modeValue(args);
  const maxTokens = positiveInt(args, "max-tokens");
  if (model !== undefined) params.model = model;
  if (agent !== undefined) params.agent = agent;
  if (project !== undefined) params.project = project;
  if (mode !== undefined) params.mode = mode;
  if (maxTokens !== undefined) params.max_tokens = maxTokens;
  if (stream) params.stream = true;

  const client = await ctx.connect();
  let streamed = false;
  const off = client.onNotification("chat.delta", (delta: ChatDeltaParams) => {
    if (delta.request !== request) return;
    streamed = true;
    // A model's bytes go to a terminal: control characters are shown, not obeyed (JSON keeps them exact).
    ctx.write(escapeControl(delta.content));
  });
  try {
    const result = (await client.call("chat.respond", params, {
      timeoutMs: timeout + CALL_SLACK_MS,
    })) as ChatResult;
    if (ctx.json) {
      ctx.out(JSON.stringify(result, null, 2));
      return ExitCode.OK;
    }
    if (streamed) ctx.out("");
    else ctx.out(escapeControl(result.content));
    for (const line of footerLines(result)) ctx.out(line);
    if (result.verified !== undefined) {
      ctx.out("");
      if ("error" in result.verified) {
        ctx.out(
          `— verified: ${result.verified.cell} gave no answer: ${escapeControl(result.verified.error)}`,
        );
      } else {
        ctx.out(escapeControl(result.verified.content));
        ctx.out(`— verified by ${servedBy(result.verified)}`);
      }
    }
    return ExitCode.OK;
  } finally {
    off();
    await client.close();
  }
}
