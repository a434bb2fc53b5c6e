/** `rmx hardware [--refresh]`: the inventory, the latest sample, each runtime's usage and the tick's cost. */

import { formatBytes } from "../../../base/format.js";
import type { HardwareResult } from "../../protocol/hardware.js";
import { booleanValue } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { alignColumns, formatLocalTime } from "../format.js";

export function renderHardware(h: HardwareResult, formatTime = formatLocalTime): string[] {
  const inv = h.inventory;
  const cores =
    inv.cpu.physical_cores !== undefined && inv.cpu.physical_cores !== inv.cpu.cores
      ? `${inv.cpu.cores} cores (${inv.cpu.physical_cores} physical)`
      : `${inv.cpu.cores} cores`;
  const available = h.sample ? ` (${formatBytes(h.sample.memory.available_bytes)} available)` : "";
  const os = [inv.os.distro ?? inv.os.platform, inv.os.kernel ? `kernel ${inv.os.kernel}` : undefined]
    .filter((x) => x !== undefined)
    .join(", ");
  const lines = [
    `cpu     ${inv.cpu.model}, ${cores}, ${inv.cpu.arch}`,
    `memory  ${formatBytes(inv.memory.total_bytes)}${available}`,
    `os      ${os}; host ${inv.os.hostname}`,
  ];
  if (inv.gpus.length === 0) lines.push("gpus    none found");
  else {
    const rows = inv.gpus.map((gpu) => {
      const sample = h.sample?.gpus.find((g) => g.id === gpu.id);
      const usage: string[] = [];
      if (sample?.util_percent !== undefined) usage.push(`${sample.util_percent}% busy`);
      if (sample?.vram_used_bytes !== undefined)
        usage.push(`${formatBytes(sample.vram_used_bytes)} VRAM used`);
      const status =
        gpu.status === "ok" && sample?.status !== "unknown"
          ? usage.join(", ")
          : `unknown: ${gpu.reason ?? sample?.reason ?? "no reason given"}`;
      return [
        `  ${gpu.id}`,
        gpu.model,
        gpu.vram_bytes !== undefined ? formatBytes(gpu.vram_bytes) : "VRAM ?",
        gpu.vendor,
        status,
      ];
    });
    lines.push("gpus", ...alignColumns(rows));
  }
  if (h.sample) {
    const s = h.sample;
    lines.push(
      `sample  at ${formatTime(s.at)}: CPU ${s.cpu.load_percent}% busy, load average ` +
        `${s.cpu.load_avg.map((v) => v.toFixed(2)).join(" ")}; took ${s.tick_ms} ms`,
    );
  }
  const runtimes = Object.entries(h.runtimes);
  if (runtimes.length > 0) {
    lines.push(
      "runtimes",
      ...alignColumns(
        runtimes.map(([id, p]) => [
          `  ${id}`,
          p.hardware,
          `pid ${p.pid}`,
          `CPU ${p.cpu_percent}%`,
          formatBytes(p.rss_bytes),
        ]),
      ),
    );
  }
  const d = h.loop_delay;
  lines.push(`event loop delay p50 ${d.p50_ms} ms, p99 ${d.p99_ms} ms, max ${d.max_ms} ms since start`);
  const last = h.tick.loop_delay_last_interval;
  if (last !== undefined) {
    lines.push(
      `  over the last tick interval: p99 ${last.p99_ms} ms, max ${last.max_ms} ms beyond the timer`,
    );
  }
  const t = h.tick;
  if (t.ticks > 0) {
    lines.push(
      `matrix tick every ${h.sample_interval_ms} ms: ${t.ticks} so far, last ${t.last_tick_ms} ms ` +
        `(scrape ${t.last_scrape_ms} ms for ${t.scraped} runtime(s), compose ${t.last_compose_ms} ms)`,
    );
  }
  for (const note of inv.notes) lines.push(`note    ${note}`);
  return lines;
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const client = await ctx.connect();
  try {
    const result = (await client.call("hardware.get", {
      refresh: booleanValue(args, "refresh"),
    })) as HardwareResult;
    ctx.write(ctx.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderHardware(result).join("\n")}\n`);
    return ExitCode.OK;
  } finally {
    await client.close();
  }
}
