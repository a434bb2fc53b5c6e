import { Coalescer } from "./coalesce.js";
import { runTool, ToolError } from "./run-tool.js";

export interface NvidiaGpuRow {
  index: number;
  name: string;
  memory_total_bytes?: number;
  bus_id?: string;
  driver?: string;
}

export interface NvidiaSampleRow {
  index: number;
  util_percent?: number;
  vram_used_bytes?: number;
  vram_total_bytes?: number;
  temperature_c?: number;
}

export const NVIDIA_INVENTORY_ARGS = [
  "--query-gpu=index,name,memory.total,pci.bus_id,driver_version",
  "--format=csv,noheader,nounits",
] as const;

export const NVIDIA_SAMPLE_ARGS = [
  "--query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu",
  "--format=csv,noheader,nounits",
] as const;

const MIB = 1024 * 1024;

/** `[N/A]`, `[Not Supported]`, `N/A` and empty fields mean "no value", not "garbage". */
function isAbsent(field: string): boolean {
  return field === "" || /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions)\]?$/i.test(field);
}

function optionalNumber(field: string | undefined): number | undefined {
  if (field === undefined || isAbsent(field)) return undefined;
  const value = Number(field);
  return Number.isFinite(value) ? value : undefined;
}

function optionalText(field: string | undefined): string | undefined {
  if (field === undefined || isAbsent(field)) return undefined;
  return field;
}

function parseIndex(field: string | undefined): number | undefined {
  if (field === undefined || !/^\d+$/.test(field)) return undefined;
  return Number(field);
}

function dataLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** "No devices were found" is how nvidia-smi says a driver is loaded but no GPU is attached. */
function reportsNoDevices(text: string): boolean {
  return /no devices were found/i.test(text);
}

function garbage(what: string, line: string): ToolError {
  return new ToolError(
    "failed",
    `nvidia-smi ${what} output is not the expected CSV: ${JSON.stringify(line.slice(0, 120))}`,
  );
}

/**
 * Parses `index, name, memory.total [MiB], pci.bus_id, driver_version`. Names may contain ", ", so the name is
 * everything between the first field and the last three.
 */
export function parseNvidiaInventoryCsv(text: string): NvidiaGpuRow[] {
  if (reportsNoDevices(text)) return [];
  const rows: NvidiaGpuRow[] = [];
  for (const line of dataLines(text)) {
    const fields = line.split(",").map((f) => f.trim());
    const index = parseIndex(fields[0]);
    if (index === undefined || fields.length < 5) throw garbage("inventory", line);
    const tail = fields.slice(-3);
    const row: NvidiaGpuRow = { index, name: fields.slice(1, -3).join(", ") || `NVIDIA GPU ${index}` };
    const totalMib = optionalNumber(tail[0]);
    if (totalMib !== undefined) row.memory_total_bytes = Math.round(totalMib * MIB);
    const busId = optionalText(tail[1]);
    if (busId !== undefined) row.bus_id = busId;
    const driver = optionalText(tail[2]);
    if (driver !== undefined) row.driver = driver;
    rows.push(row);
  }
  return rows.sort((a, b) => a.index - b.index);
}

/** Parses `index, utilization.gpu [%], memory.used [MiB], memory.total [MiB], temperature.gpu [C]`. */
export function parseNvidiaSampleCsv(text: string): NvidiaSampleRow[] {
  if (reportsNoDevices(text)) return [];
  const rows: NvidiaSampleRow[] = [];
  for (const line of dataLines(text)) {
    const fields = line.split(",").map((f) => f.trim());
    const index = parseIndex(fields[0]);
    if (index === undefined || fields.length !== 5) throw garbage("sample", line);
    const row: NvidiaSampleRow = { index };
    const util = optionalNumber(fields[1]);
    if (util !== undefined) row.util_percent = util;
    const used = optionalNumber(fields[2]);
    if (used !== undefined) row.vram_used_bytes = Math.round(used * MIB);
    const total = optionalNumber(fields[3]);
    if (total !== undefined) row.vram_total_bytes = Math.round(total * MIB);
    const temp = optionalNumber(fields[4]);
    if (temp !== undefined) row.temperature_c = temp;
    rows.push(row);
  }
  return rows.sort((a, b) => a.index - b.index);
}

/** Rejects with ToolError: kind "missing" (no NVIDIA driver), "timeout" or "failed" (exit code, garbage). */
export async function queryNvidiaInventory(bin = "nvidia-smi", timeoutMs = 5000): Promise<NvidiaGpuRow[]> {
  return parseNvidiaInventoryCsv(await runNvidiaSmi(bin, NVIDIA_INVENTORY_ARGS, timeoutMs));
}

export async function queryNvidiaSample(bin = "nvidia-smi", timeoutMs = 2000): Promise<NvidiaSampleRow[]> {
  return parseNvidiaSampleCsv(await runNvidiaSmi(bin, NVIDIA_SAMPLE_ARGS, timeoutMs));
}

const nvidiaCalls = new Coalescer<string>();

/** Concurrent identical queries share one nvidia-smi process (see coalesce.ts). */
function runNvidiaSmi(bin: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return nvidiaCalls.run(`${bin}\0${args.join("\0")}`, () => runNvidiaSmiNow(bin, args, timeoutMs));
}

async function runNvidiaSmiNow(bin: string, args: readonly string[], timeoutMs: number): Promise<string> {
  try {
    return (await runTool(bin, args, { timeoutMs })).stdout;
  } catch (err) {
    // A driver without a GPU exits non-zero with this message: that is "no NVIDIA GPU", not a broken tool.
    if (err instanceof ToolError && reportsNoDevices(err.output.stdout + err.output.stderr)) return "";
    throw err;
  }
}
