import fs from "node:fs";
import { GGUF_SCALAR_SIZE } from "../shared/gguf/ggml-types.js";

/**
 * A header-only GGUF reader for the stub: the metadata keys and the few values llama-server reports
 * (`/v1/models` `meta`), read in small chunks so a multi-gigabyte model costs a few reads. It lives here
 * because adapters must not import daemon/ (whose models/gguf.ts is the full reader).
 */
export interface GgufHeader {
  version: number;
  tensorCount: number;
  /** Every metadata key, with numbers and strings kept (arrays as their length). */
  metadata: Map<string, string | number | boolean | bigint>;
  /** Sum of the tensors' element counts (`n_params`). */
  parameterCount: number;
  /** Bytes after the aligned end of the header: the tensor data (`size`). */
  dataBytes: number;
}

/** Why the file is not a GGUF, in llama.cpp's own words (`gguf_init_from_file_impl: …`). */
export class GgufHeaderError extends Error {}

const CHUNK = 64 * 1024;
const MAX_STRING = 64 * 1024 * 1024;

class ChunkReader {
  private buffer = Buffer.alloc(0);
  private bufferStart = 0;
  position = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  private ensure(n: number): void {
    const have = this.bufferStart + this.buffer.length - this.position;
    if (have >= n) return;
    if (this.position + n > this.size) throw new GgufHeaderError("unexpected end of file");
    const want = Math.max(n, CHUNK);
    const next = Buffer.alloc(Math.min(want, this.size - this.position));
    fs.readSync(this.fd, next, 0, next.length, this.position);
    this.buffer = next;
    this.bufferStart = this.position;
  }

  bytes(n: number): Buffer {
    this.ensure(n);
    const at = this.position - this.bufferStart;
    this.position += n;
    return this.buffer.subarray(at, at + n);
  }

  u32(): number {
    return this.bytes(4).readUInt32LE(0);
  }

  u64(): bigint {
    return this.bytes(8).readBigUInt64LE(0);
  }

  count(): number {
    const n = this.u64();
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufHeaderError("count out of range");
    return Number(n);
  }

  string(): string {
    const n = this.count();
    if (n > MAX_STRING) throw new GgufHeaderError(`string of ${n} bytes`);
    return this.bytes(n).toString("utf8");
  }
}

function scalar(r: ChunkReader, type: number): string | number | boolean | bigint {
  const b = r.bytes(GGUF_SCALAR_SIZE[type] as number);
  switch (type) {
    case 0:
      return b.readUInt8(0);
    case 1:
      return b.readInt8(0);
    case 2:
      return b.readUInt16LE(0);
    case 3:
      return b.readInt16LE(0);
    case 4:
      return b.readUInt32LE(0);
    case 5:
      return b.readInt32LE(0);
    case 6:
      return b.readFloatLE(0);
    case 7:
      return b.readUInt8(0) !== 0;
    case 10:
      return b.readBigUInt64LE(0);
    case 11:
      return b.readBigInt64LE(0);
    default:
      return b.readDoubleLE(0);
  }
}

function value(r: ChunkReader, type: number): string | number | boolean | bigint {
  if (type === 8) return r.string();
  if (type === 9) {
    const itemType = r.u32();
    const n = r.count();
    if (itemType === 8) for (let i = 0; i < n; i++) r.string();
    else if (GGUF_SCALAR_SIZE[itemType] !== undefined) r.bytes(n * (GGUF_SCALAR_SIZE[itemType] as number));
    else throw new GgufHeaderError(`invalid array type ${itemType}`);
    return n;
  }
  if (GGUF_SCALAR_SIZE[type] === undefined) throw new GgufHeaderError(`invalid value type ${type}`);
  return scalar(r, type);
}

/** Reads a GGUF's header; throws GgufHeaderError with llama.cpp's message when it is not one. */
export function readGgufHeader(file: string): GgufHeader {
  const fd = fs.openSync(file, "r");
  try {
    const r = new ChunkReader(fd, fs.fstatSync(fd).size);
    if (r.size < 4) throw new GgufHeaderError("failed to read magic");
    const magic = r.bytes(4).toString("latin1");
    if (magic !== "GGUF") {
      throw new GgufHeaderError(`invalid magic characters: '${magic}', expected 'GGUF'`);
    }
    const version = r.u32();
    const tensorCount = r.count();
    const kvCount = r.count();
    const metadata = new Map<string, string | number | boolean | bigint>();
    for (let i = 0; i < kvCount; i++) {
      const key = r.string();
      metadata.set(key, value(r, r.u32()));
    }
    let parameterCount = 0;
    for (let i = 0; i < tensorCount; i++) {
      r.string();
      const dims = r.u32();
      let elements = 1;
      for (let d = 0; d < dims; d++) elements *= Number(r.u64());
      r.u32(); // type
      r.u64(); // offset
      parameterCount += elements;
    }
    const alignment = Number(metadata.get("general.alignment") ?? 32) || 32;
    const dataStart = Math.ceil(r.position / alignment) * alignment;
    return { version, tensorCount, metadata, parameterCount, dataBytes: Math.max(0, r.size - dataStart) };
  } catch (err) {
    if (err instanceof GgufHeaderError) throw err;
    throw new GgufHeaderError(`failed to read the header: ${(err as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}
