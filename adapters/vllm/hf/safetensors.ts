/**
 * safetensors headers: an 8-byte little-endian length, then that many bytes of JSON mapping each tensor name to
 * `{dtype, shape, data_offsets}` (plus an optional `__metadata__`). Only the headers are read, never the
 * tensor data, so counting the parameters of a 70B checkpoint costs a few kilobytes of I/O per shard.
 */

import { RmxError } from "../../../base/errors.js";
import { open } from "../../../base/fs-async.js";

/** safetensors refuses headers over 100 MB itself; a bigger length is a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsSummary {
  files: number;
  tensors: number;
  parameter_count: number;
  /** Sum of the tensors' byte ranges: the weights as stored. */
  data_bytes: number;
}

function invalid(file: string, why: string): RmxError {
  return new RmxError("MODEL_INVALID", `${file}: not a safetensors file: ${why}`, { path: file });
}

/** The tensors of one safetensors file, from its header. */
export async function readSafetensorsHeader(
  file: string,
): Promise<Array<{ name: string; shape: number[]; bytes: number }>> {
  const handle = await open(file, "r").catch((error: NodeJS.ErrnoException) => {
    throw new RmxError("MODEL_MISSING", `cannot open ${file} (${error.code})`, { path: file });
  });
  try {
    const lengthBytes = Buffer.alloc(8);
    const { bytesRead } = await handle.read(lengthBytes, 0, 8, 0);
    if (bytesRead < 8) throw invalid(file, "shorter than the 8-byte header length");
    const length = lengthBytes.readBigUInt64LE(0);
    if (length > BigInt(MAX_HEADER_BYTES)) throw invalid(file, `header length ${length} exceeds 100 MB`);
    const header = Buffer.alloc(Number(length));
    const read = await handle.read(header, 0, header.length, 8);
    if (read.bytesRead < header.length)
      throw invalid(file, `header cut short (${read.bytesRead} of ${length} bytes)`);
    let json: unknown;
    try {
      json = JSON.parse(header.toString("utf8"));
    } catch {
      throw invalid(file, "header is not JSON");
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw invalid(file, "header is not an object");
    const tensors: Array<{ name: string; shape: number[]; bytes: number }> = [];
    for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
      if (name === "__metadata__") continue;
      const { shape, data_offsets } = (entry ?? {}) as { shape?: unknown; data_offsets?: unknown };
      const dims =
        Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0) ? shape : undefined;
      const offsets =
        Array.isArray(data_offsets) && data_offsets.length === 2 && data_offsets.every(Number.isSafeInteger)
          ? (data_offsets as [number, number])
          : undefined;
      if (dims === undefined || offsets === undefined)
        throw invalid(file, `tensor ${JSON.stringify(name)} has no valid shape and data_offsets`);
      tensors.push({ name, shape: dims as number[], bytes: offsets[1] - offsets[0] });
    }
    return tensors;
  } finally {
    await handle.close();
  }
}

/** Totals over every shard in `files` (a checkpoint's `*.safetensors`). */
export async function summarizeSafetensors(files: readonly string[]): Promise<SafetensorsSummary> {
  const summary: SafetensorsSummary = { files: files.length, tensors: 0, parameter_count: 0, data_bytes: 0 };
  for (const file of files) {
    for (const tensor of await readSafetensorsHeader(file)) {
      summary.tensors++;
      summary.parameter_count += tensor.shape.reduce((a, b) => a * b, 1);
      summary.data_bytes += tensor.bytes;
    }
  }
  return summary;
}

/** A safetensors file with these tensors and zero-filled data (tests and fixtures). */
export function writeSafetensors(
  tensors: ReadonlyArray<{ name: string; dtype: string; shape: number[]; itemBytes: number }>,
): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * t.itemBytes;
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length), 0);
  return Buffer.concat([length, json, Buffer.alloc(offset)]);
}
