import { RmxError } from "../../../base/errors.js";
import type { FileHandle } from "../../../base/fs-async.js";
import { GGML_TYPES, GGUF_SCALAR_SIZE, GgufValueType, LLAMA_FILE_TYPES, tensorBytes } from "./ggml-types.js";
import { llamaCppLoadProblems } from "./load-problems.js";
import { openModelFile } from "./open-model.js";

export interface GgufInfo {
  path: string;
  file_size: number;
  version: number;
  architecture?: string;
  name?: string;
  context_length?: number;
  embedding_length?: number;
  block_count?: number;
  head_count?: number;
  head_count_kv?: number;
  file_type?: number;
  /** e.g. Q4_K_M, F16: from general.file_type, else the type holding most tensor bytes. */
  quantization?: string;
  tensor_count: number;
  /** Sum over tensors of the product of their dimensions. */
  parameter_count: number;
  /**
   * Bytes of tensor data: what the weights take in memory (the file also holds metadata and the vocabulary).
   * Absent when a tensor has a type this reader cannot size.
   */
  tensor_data_bytes?: number;
  /** Tokens in the vocabulary (`tokenizer.ggml.tokens`, else `{arch}.vocab_size`). */
  vocab_size?: number;
  metadata_keys: number;
  /** Why llama.cpp's loader would refuse this file ("missing llama.attention.layer_norm_rms_epsilon"); absent or empty: loadable. */
  load_problems?: string[];
}

/** A value too big to keep (tokenizer vocabularies, huge strings): its type and length, not its content. */
export interface GgufSkipped {
  skipped: "array" | "string";
  item_type?: number;
  length: number;
}

export type GgufMetadataValue = number | bigint | boolean | string | GgufSkipped | GgufMetadataValue[];

export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  /** Relative to the start of the data section. */
  offset: number;
  /** Size of the tensor's data; absent for a type this reader does not know. */
  bytes?: number;
}

export interface GgufHeader {
  path: string;
  file_size: number;
  version: number;
  alignment: number;
  data_offset: number;
  metadata: Map<string, GgufMetadataValue>;
  /** Value type of each key, as written. */
  metadata_types: Map<string, number>;
  tensors: GgufTensorInfo[];
}

export interface ReadGgufOptions {
  /** Arrays longer than this are skipped without materialising them; default 4096. */
  maxArrayItems?: number;
  /** Strings longer than this are skipped; default 1 MiB. */
  maxStringBytes?: number;
}

const MAGIC = 0x46554747; // "GGUF" read little-endian
const CHUNK = 256 * 1024;
const MAX_KEY_BYTES = 65_535;
const MAX_DIMS = 4;
const MAX_ARRAY_DEPTH = 8;
const DEFAULT_ALIGNMENT = 32;

class GgufFormatError extends Error {}

/**
 * Buffered positional reader over a file handle. Every length is checked against the file size before any
 * allocation, so a corrupt length fails as "truncated" instead of allocating gigabytes.
 */
class Cursor {
  pos = 0;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  get remaining(): number {
    return this.size - this.pos;
  }

  truncated(what: string): GgufFormatError {
    return new GgufFormatError(`is truncated at byte ${this.size} while reading ${what}`);
  }

  /** Bytes [pos, pos+n) are in the buffer. */
  private has(n: number): boolean {
    return this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length;
  }

  async need(n: number, what: string): Promise<void> {
    if (n > this.remaining) throw this.truncated(what);
    if (this.has(n)) return;
    const len = Math.min(Math.max(n, CHUNK), this.remaining);
    const buf = Buffer.allocUnsafe(len);
    let filled = 0;
    while (filled < len) {
      const { bytesRead } = await this.fh.read(buf, filled, len - filled, this.pos + filled);
      if (bytesRead === 0)
        throw new GgufFormatError(`shrank to ${this.pos + filled} bytes while reading ${what}`);
      filled += bytesRead;
    }
    this.buf = buf;
    this.bufStart = this.pos;
  }

  skip(n: number, what: string): void {
    if (n > this.remaining) throw this.truncated(what);
    this.pos += n;
  }

  private take(n: number): number {
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  async u32(what: string): Promise<number> {
    if (!this.has(4)) await this.need(4, what);
    return this.buf.readUInt32LE(this.take(4));
  }

  async u64(what: string): Promise<bigint> {
    if (!this.has(8)) await this.need(8, what);
    return this.buf.readBigUInt64LE(this.take(8));
  }

  /** A uint64 length or count that must fit in what is left of the file, given each unit's minimum size. */
  async length(what: string, unitBytes: number): Promise<number> {
    const at = this.pos;
    const value = await this.u64(what);
    if (value * BigInt(Math.max(1, unitBytes)) > BigInt(this.remaining)) {
      throw new GgufFormatError(
        `is truncated or corrupt: ${what} = ${value} at byte ${at} needs more than the ${this.remaining} bytes ` +
          `left of ${this.size}`,
      );
    }
    return Number(value);
  }

  async scalar(type: number, what: string): Promise<number | bigint | boolean> {
    const size = GGUF_SCALAR_SIZE[type] ?? 0;
    if (!this.has(size)) await this.need(size, what);
    const b = this.buf;
    const at = this.take(size);
    switch (type) {
      case GgufValueType.UINT8:
        return b.readUInt8(at);
      case GgufValueType.INT8:
        return b.readInt8(at);
      case GgufValueType.UINT16:
        return b.readUInt16LE(at);
      case GgufValueType.INT16:
        return b.readInt16LE(at);
      case GgufValueType.UINT32:
        return b.readUInt32LE(at);
      case GgufValueType.INT32:
        return b.readInt32LE(at);
      case GgufValueType.FLOAT32:
        return b.readFloatLE(at);
      case GgufValueType.BOOL:
        return b.readUInt8(at) !== 0;
      case GgufValueType.UINT64:
        return narrow(b.readBigUInt64LE(at));
      case GgufValueType.INT64:
        return narrow(b.readBigInt64LE(at));
      case GgufValueType.FLOAT64:
        return b.readDoubleLE(at);
      default:
        throw new GgufFormatError(`has unknown value type ${type} in ${what}`);
    }
  }

  async string(what: string, maxBytes: number): Promise<string | GgufSkipped> {
    const len = await this.length(`${what} length`, 1);
    if (len > maxBytes) {
      this.skip(len, what);
      return { skipped: "string", length: len };
    }
    if (!this.has(len)) await this.need(len, what);
    const at = this.take(len);
    return this.buf.toString("utf8", at, at + len);
  }

  /** Skips `count` strings reading only their lengths, in buffered chunks. */
  async skipStrings(count: number, what: string): Promise<void> {
    for (let i = 0; i < count; i++) {
      if (!this.has(8)) await this.need(8, what);
      const len = this.buf.readBigUInt64LE(this.take(8));
      if (len > BigInt(this.remaining)) throw this.truncated(what);
      this.pos += Number(len);
    }
  }
}

/** 64-bit integers become numbers when exact, bigints otherwise. */
function narrow(value: bigint): number | bigint {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

function minItemBytes(type: number): number {
  if (type === GgufValueType.STRING) return 8;
  if (type === GgufValueType.ARRAY) return 12;
  return GGUF_SCALAR_SIZE[type] ?? 1;
}

async function readValue(
  cur: Cursor,
  type: number,
  what: string,
  opts: Required<ReadGgufOptions>,
  depth: number,
): Promise<GgufMetadataValue> {
  if (type === GgufValueType.STRING) return cur.string(what, opts.maxStringBytes);
  if (type !== GgufValueType.ARRAY) {
    if (GGUF_SCALAR_SIZE[type] === undefined) {
      throw new GgufFormatError(`has unknown value type ${type} at byte ${cur.pos - 4} in ${what}`);
    }
    return cur.scalar(type, what);
  }
  if (depth >= MAX_ARRAY_DEPTH)
    throw new GgufFormatError(`nests arrays deeper than ${MAX_ARRAY_DEPTH} in ${what}`);
  const itemType = await cur.u32(`${what} item type`);
  if (
    itemType !== GgufValueType.STRING &&
    itemType !== GgufValueType.ARRAY &&
    GGUF_SCALAR_SIZE[itemType] === undefined
  ) {
    throw new GgufFormatError(`has unknown array item type ${itemType} at byte ${cur.pos - 4} in ${what}`);
  }
  const count = await cur.length(`${what} item count`, minItemBytes(itemType));
  if (count > opts.maxArrayItems) {
    await skipItems(cur, itemType, count, what, depth);
    return { skipped: "array", item_type: itemType, length: count };
  }
  const items: GgufMetadataValue[] = [];
  for (let i = 0; i < count; i++)
    items.push(await readValue(cur, itemType, `${what}[${i}]`, opts, depth + 1));
  return items;
}

async function skipItems(
  cur: Cursor,
  itemType: number,
  count: number,
  what: string,
  depth: number,
): Promise<void> {
  const size = GGUF_SCALAR_SIZE[itemType];
  if (size !== undefined) return cur.skip(size * count, what);
  if (itemType === GgufValueType.STRING) return cur.skipStrings(count, what);
  if (depth + 1 >= MAX_ARRAY_DEPTH)
    throw new GgufFormatError(`nests arrays deeper than ${MAX_ARRAY_DEPTH} in ${what}`);
  for (let i = 0; i < count; i++) {
    const inner = await cur.u32(`${what}[${i}] item type`);
    if (
      inner !== GgufValueType.STRING &&
      inner !== GgufValueType.ARRAY &&
      GGUF_SCALAR_SIZE[inner] === undefined
    ) {
      throw new GgufFormatError(`has unknown array item type ${inner} in ${what}[${i}]`);
    }
    const n = await cur.length(`${what}[${i}] item count`, minItemBytes(inner));
    await skipItems(cur, inner, n, `${what}[${i}]`, depth + 1);
  }
}

async function readHeaderFrom(
  cur: Cursor,
  path: string,
  opts: Required<ReadGgufOptions>,
): Promise<GgufHeader> {
  if (cur.size < 4)
    throw new GgufFormatError(`is not a GGUF file (${cur.size} bytes, too short for the magic)`);
  const magic = await cur.u32("magic");
  if (magic !== MAGIC) {
    const hex = Buffer.alloc(4);
    hex.writeUInt32LE(magic);
    throw new GgufFormatError(`is not a GGUF file (magic 0x${hex.toString("hex")}, expected "GGUF")`);
  }
  const version = await cur.u32("version");
  if (version !== 2 && version !== 3) {
    const hint = version > 0xffff ? " (big-endian GGUF files are not supported)" : "";
    throw new GgufFormatError(`has unsupported GGUF version ${version}${hint}; versions 2 and 3 are read`);
  }
  const tensorCount = await cur.length("tensor count", 24);
  const kvCount = await cur.length("metadata key count", 13);

  const metadata = new Map<string, GgufMetadataValue>();
  const metadataTypes = new Map<string, number>();
  for (let i = 0; i < kvCount; i++) {
    const keyAt = cur.pos;
    const key = await cur.string(`metadata key ${i}`, MAX_KEY_BYTES);
    if (typeof key !== "string") {
      throw new GgufFormatError(
        `has a ${key.length}-byte metadata key at byte ${keyAt} (limit ${MAX_KEY_BYTES})`,
      );
    }
    if (metadata.has(key)) throw new GgufFormatError(`repeats metadata key "${key}" at byte ${keyAt}`);
    const type = await cur.u32(`type of "${key}"`);
    metadata.set(key, await readValue(cur, type, `value of "${key}"`, opts, 0));
    metadataTypes.set(key, type);
  }

  let alignment = DEFAULT_ALIGNMENT;
  const declared = metadata.get("general.alignment");
  if (declared !== undefined) {
    const ok =
      metadataTypes.get("general.alignment") === GgufValueType.UINT32 &&
      typeof declared === "number" &&
      declared > 0 &&
      (declared & (declared - 1)) === 0;
    if (!ok)
      throw new GgufFormatError(
        `declares general.alignment ${String(declared)}, not a power of two (uint32)`,
      );
    alignment = declared as number;
  }

  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = await cur.string(`tensor info ${i} name`, MAX_KEY_BYTES);
    if (typeof name !== "string") throw new GgufFormatError(`has a ${name.length}-byte name for tensor ${i}`);
    const label = `tensor info ${i} ("${name}")`;
    const nDims = await cur.u32(`${label} dimension count`);
    if (nDims > MAX_DIMS)
      throw new GgufFormatError(`gives ${label} ${nDims} dimensions (at most ${MAX_DIMS})`);
    const dims: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const dim = await cur.u64(`${label} dimension ${d}`);
      elements *= Number(dim);
      if (!Number.isSafeInteger(elements))
        throw new GgufFormatError(`gives ${label} an impossible shape (dim ${dim})`);
      dims.push(Number(dim));
    }
    const type = await cur.u32(`${label} type`);
    const offset = Number(await cur.u64(`${label} offset`));
    if (!Number.isSafeInteger(offset) || offset % alignment !== 0) {
      throw new GgufFormatError(
        `gives ${label} offset ${offset}, not a multiple of the alignment ${alignment}`,
      );
    }
    const tensor: GgufTensorInfo = { name, dims, type, offset };
    const bytes = tensorBytes(type, dims);
    if (bytes !== undefined) tensor.bytes = bytes;
    tensors.push(tensor);
  }

  const dataOffset = Math.ceil(cur.pos / alignment) * alignment;
  for (const tensor of tensors) {
    const end = dataOffset + tensor.offset + (tensor.bytes ?? 0);
    if (end > cur.size) {
      throw new GgufFormatError(
        `is truncated at byte ${cur.size} while reading tensor data of "${tensor.name}" (ends at byte ${end})`,
      );
    }
  }

  return {
    path,
    file_size: cur.size,
    version,
    alignment,
    data_offset: dataOffset,
    metadata,
    metadata_types: metadataTypes,
    tensors,
  };
}

/**
 * Reads the header, metadata and tensor infos of a GGUF file (never the tensor data). Rejects with RmxError
 * MODEL_MISSING (absent or unreadable) or MODEL_INVALID (not GGUF, truncated, corrupt).
 */
export async function readGgufHeader(path: string, opts: ReadGgufOptions = {}): Promise<GgufHeader> {
  const full: Required<ReadGgufOptions> = {
    maxArrayItems: opts.maxArrayItems ?? 4096,
    maxStringBytes: opts.maxStringBytes ?? 1 << 20,
  };
  let fh: FileHandle;
  let size: number;
  try {
    const opened = await openModelFile(path);
    fh = opened.handle;
    size = opened.info.size;
  } catch (err) {
    if (err instanceof RmxError) throw err;
    throw openError(path, err);
  }
  try {
    return await readHeaderFrom(new Cursor(fh, size), path, full);
  } catch (err) {
    if (err instanceof GgufFormatError) {
      throw new RmxError("MODEL_INVALID", `model file ${path} ${err.message}`, { path });
    }
    if (err instanceof RmxError) throw err;
    throw openError(path, err);
  } finally {
    await fh.close();
  }
}

function openError(path: string, err: unknown): RmxError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new RmxError("MODEL_MISSING", `model file ${path} does not exist`, { path });
  if (code === "EISDIR") return new RmxError("MODEL_INVALID", `model file ${path} is a directory`, { path });
  if (code === "EACCES" || code === "EPERM") {
    return new RmxError("MODEL_MISSING", `model file ${path} cannot be read (permission denied)`, { path });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new RmxError(
    "MODEL_INVALID",
    `model file ${path} could not be read: ${message}`,
    { path },
    { cause: err },
  );
}

function asNumber(value: GgufMetadataValue | undefined): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "bigint") return Number(value);
  // Per-layer values (some architectures give head counts per block): the largest bounds the memory.
  if (Array.isArray(value)) {
    const numbers = value.map(asNumber).filter((n): n is number => n !== undefined);
    return numbers.length > 0 ? Math.max(...numbers) : undefined;
  }
  return undefined;
}

function asString(value: GgufMetadataValue | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function vocabularySize(meta: Map<string, GgufMetadataValue>): number | undefined {
  const tokens = meta.get("tokenizer.ggml.tokens");
  if (Array.isArray(tokens)) return tokens.length;
  if (tokens !== undefined && typeof tokens === "object" && "skipped" in tokens) return tokens.length;
  const arch = asString(meta.get("general.architecture"));
  return arch === undefined ? undefined : asNumber(meta.get(`${arch}.vocab_size`));
}

/** The type holding most tensor bytes (element count for types of unknown size), as a ggml type name. */
function dominantTensorType(tensors: readonly GgufTensorInfo[]): string | undefined {
  const weight = new Map<number, number>();
  const matrices = tensors.filter((t) => t.dims.length >= 2);
  for (const t of matrices.length > 0 ? matrices : tensors) {
    const size = t.bytes ?? t.dims.reduce((a, b) => a * b, 1);
    weight.set(t.type, (weight.get(t.type) ?? 0) + size);
  }
  let best: number | undefined;
  for (const [type, size] of weight) if (best === undefined || size > (weight.get(best) ?? 0)) best = type;
  if (best === undefined) return undefined;
  return GGML_TYPES[best]?.name ?? `type ${best}`;
}

export function summariseGguf(header: GgufHeader): GgufInfo {
  const meta = header.metadata;
  const info: GgufInfo = {
    path: header.path,
    file_size: header.file_size,
    version: header.version,
    tensor_count: header.tensors.length,
    parameter_count: header.tensors.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0),
    metadata_keys: meta.size,
    load_problems: llamaCppLoadProblems(asString(meta.get("general.architecture")), (key) => meta.has(key)),
  };
  if (header.tensors.every((t) => t.bytes !== undefined)) {
    info.tensor_data_bytes = header.tensors.reduce((sum, t) => sum + (t.bytes ?? 0), 0);
  }
  const vocab = vocabularySize(meta);
  if (vocab !== undefined) info.vocab_size = vocab;
  const arch = asString(meta.get("general.architecture"));
  if (arch !== undefined) info.architecture = arch;
  const name = asString(meta.get("general.name"));
  if (name !== undefined) info.name = name;
  if (arch !== undefined) {
    const fields = [
      ["context_length", `${arch}.context_length`],
      ["embedding_length", `${arch}.embedding_length`],
      ["block_count", `${arch}.block_count`],
      ["head_count", `${arch}.attention.head_count`],
      ["head_count_kv", `${arch}.attention.head_count_kv`],
    ] as const;
    for (const [field, key] of fields) {
      const value = asNumber(meta.get(key));
      if (value !== undefined) info[field] = value;
    }
  }
  const fileType = asNumber(meta.get("general.file_type"));
  if (fileType !== undefined) info.file_type = fileType;
  const quantization =
    fileType !== undefined
      ? (LLAMA_FILE_TYPES[fileType] ?? `file type ${fileType}`)
      : dominantTensorType(header.tensors);
  if (quantization !== undefined) info.quantization = quantization;
  return info;
}

/** Header facts of a GGUF model; RmxError MODEL_MISSING / MODEL_INVALID. */
export async function readGguf(path: string): Promise<GgufInfo> {
  return summariseGguf(await readGgufHeader(path));
}
