import { open } from "node:fs/promises";
import { GGUF_SCALAR_SIZE, GgufValueType, tensorBytes } from "../../adapters/shared/gguf/ggml-types.js";
import type { GgufInfo } from "../../adapters/shared/gguf/reader.js";

type NumberTypeName = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
export type GgufScalarTypeName = NumberTypeName | "uint64" | "int64" | "bool" | "string";

/** A metadata value with its GGUF type spelled out, for files that need a specific encoding. */
export type GgufTypedValue =
  | { type: NumberTypeName; value: number }
  | { type: "uint64" | "int64"; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; item_type: GgufScalarTypeName | "array"; items: GgufTypedValue[] };

export type GgufWritableValue = string | number | boolean | bigint | GgufTypedValue;

export interface TinyGgufTensor {
  name: string;
  dims: number[];
  /** ggml type id (0 F32, 1 F16, 2 Q4_0, 12 Q4_K, …). */
  type: number;
}

/** The model facts the reader reports (architecture defaults to "llama"), plus what shapes the file. */
export interface TinyGgufOptions
  extends Partial<
    Pick<
      GgufInfo,
      | "architecture"
      | "name"
      | "context_length"
      | "embedding_length"
      | "block_count"
      | "head_count"
      | "head_count_kv"
      | "file_type"
    >
  > {
  /** Default: one F32 `token_embd.weight` of [embedding_length ?? 8, 16]. */ tensors?: TinyGgufTensor[];
  /** Numbers: safe integers as uint32/int32/uint64/int64 by range, others as float64. */
  extraMetadata?: Record<string, GgufWritableValue>;
  /** Written as general.alignment when not 32. */
  alignment?: number;
  /**
   * Also write what llama.cpp's loader requires beside the fields above (the rms epsilon of the llama family,
   * a tokenizer model and a 3-token list), as real model files have; default true. false: only what is asked.
   */
  loaderKeys?: boolean;
}

const TYPE_IDS: Record<GgufScalarTypeName | "array", number> = {
  uint8: GgufValueType.UINT8,
  int8: GgufValueType.INT8,
  uint16: GgufValueType.UINT16,
  int16: GgufValueType.INT16,
  uint32: GgufValueType.UINT32,
  int32: GgufValueType.INT32,
  float32: GgufValueType.FLOAT32,
  bool: GgufValueType.BOOL,
  string: GgufValueType.STRING,
  array: GgufValueType.ARRAY,
  uint64: GgufValueType.UINT64,
  int64: GgufValueType.INT64,
  float64: GgufValueType.FLOAT64,
};

/** How a plain JS value is typed in the file. */
export function typedValue(value: GgufWritableValue): GgufTypedValue {
  if (typeof value === "object") return value;
  if (typeof value === "string") return { type: "string", value };
  if (typeof value === "boolean") return { type: "bool", value };
  if (typeof value === "bigint") {
    return value < 0n ? { type: "int64", value } : { type: "uint64", value };
  }
  // Integers beyond 2^53 are not exact as integers any more: they stay doubles.
  if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
    if (value >= 0 && value <= 0xffff_ffff) return { type: "uint32", value };
    if (value >= -0x8000_0000 && value < 0) return { type: "int32", value };
    return value < 0 ? { type: "int64", value: BigInt(value) } : { type: "uint64", value: BigInt(value) };
  }
  return { type: "float64", value };
}

class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;

  push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }

  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.push(b);
  }

  u64(value: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.push(b);
  }

  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }

  /** The value without its type tag (the caller writes the tag where the format wants one). */
  value(v: GgufTypedValue): void {
    if (v.type === "string") {
      this.string(v.value);
      return;
    }
    if (v.type === "array") {
      this.u32(TYPE_IDS[v.item_type]);
      this.u64(v.items.length);
      for (const item of v.items) {
        if (item.type !== v.item_type) {
          throw new TypeError(`GGUF array of ${v.item_type} holds a ${item.type}`);
        }
        this.value(item);
      }
      return;
    }
    const size = GGUF_SCALAR_SIZE[TYPE_IDS[v.type]] ?? 0;
    const b = Buffer.alloc(size);
    switch (v.type) {
      case "uint8":
        b.writeUInt8(v.value);
        break;
      case "int8":
        b.writeInt8(v.value);
        break;
      case "uint16":
        b.writeUInt16LE(v.value);
        break;
      case "int16":
        b.writeInt16LE(v.value);
        break;
      case "uint32":
        b.writeUInt32LE(v.value);
        break;
      case "int32":
        b.writeInt32LE(v.value);
        break;
      case "float32":
        b.writeFloatLE(v.value);
        break;
      case "float64":
        b.writeDoubleLE(v.value);
        break;
      case "bool":
        b.writeUInt8(v.value ? 1 : 0);
        break;
      case "uint64":
        b.writeBigUInt64LE(v.value);
        break;
      case "int64":
        b.writeBigInt64LE(v.value);
        break;
    }
    this.push(b);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/**
 * Writes a small valid GGUF v3 file: metadata, tensor infos, then zeroed, aligned tensor data (the data is
 * made by extending the file, so it costs no memory). No padding follows the last tensor.
 */
/** Architectures whose loader case requires `{arch}.attention.layer_norm_rms_epsilon`. */
const LLAMA_FAMILY_EPS = new Set(["llama", "deci", "minicpm", "granite", "granitemoe"]);

export async function writeTinyGguf(path: string, opts: TinyGgufOptions = {}): Promise<void> {
  const arch = opts.architecture ?? "llama";
  const alignment = opts.alignment ?? 32;
  const metadata: [string, GgufTypedValue][] = [["general.architecture", { type: "string", value: arch }]];
  if (alignment !== 32) metadata.push(["general.alignment", { type: "uint32", value: alignment }]);
  if (opts.name !== undefined) metadata.push(["general.name", { type: "string", value: opts.name }]);
  if (opts.file_type !== undefined)
    metadata.push(["general.file_type", { type: "uint32", value: opts.file_type }]);
  // Loader keys default to llama-server's default ctx 4096, the first tensor's width as embedding, 1 layer.
  const loader = opts.loaderKeys !== false;
  const archFields: [string, number | undefined][] = [
    [`${arch}.context_length`, opts.context_length ?? (loader ? 4096 : undefined)],
    [
      `${arch}.embedding_length`,
      opts.embedding_length ?? (loader ? (opts.tensors?.[0]?.dims[0] ?? 8) : undefined),
    ],
    [`${arch}.block_count`, opts.block_count ?? (loader ? 1 : undefined)],
    [`${arch}.attention.head_count`, opts.head_count],
    [`${arch}.attention.head_count_kv`, opts.head_count_kv],
  ];
  for (const [key, value] of archFields)
    if (value !== undefined) metadata.push([key, { type: "uint32", value }]);
  // A Map, not an object: a metadata key may be any string, "__proto__" included.
  const extra = new Map<string, GgufWritableValue>();
  if (loader) {
    if (LLAMA_FAMILY_EPS.has(arch))
      extra.set(`${arch}.attention.layer_norm_rms_epsilon`, { type: "float32", value: 1e-5 });
    extra.set("tokenizer.ggml.model", "llama");
    extra.set("tokenizer.ggml.tokens", {
      type: "array",
      item_type: "string",
      items: ["<unk>", "<s>", "</s>"].map((value): GgufTypedValue => ({ type: "string", value })),
    });
  }
  for (const [key, value] of Object.entries(opts.extraMetadata ?? {})) extra.set(key, value);
  for (const [key, value] of extra) metadata.push([key, typedValue(value)]);

  const tensors = opts.tensors ?? [
    { name: "token_embd.weight", dims: [opts.embedding_length ?? 8, 16], type: 0 },
  ];

  const out = new ByteWriter();
  out.push(Buffer.from("GGUF", "latin1"));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, value] of metadata) {
    out.string(key);
    out.u32(TYPE_IDS[value.type]);
    out.value(value);
  }
  let offset = 0;
  let dataEnd = 0;
  for (const tensor of tensors) {
    const bytes = tensorBytes(tensor.type, tensor.dims);
    if (bytes === undefined) {
      throw new TypeError(
        `tensor ${tensor.name}: unknown ggml type ${tensor.type} or dims ${tensor.dims.join("x")}`,
      );
    }
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(dim);
    out.u32(tensor.type);
    out.u64(offset);
    dataEnd = offset + bytes;
    offset = alignUp(dataEnd, alignment);
  }
  const header = out.toBuffer();
  const total = tensors.length > 0 ? alignUp(header.length, alignment) + dataEnd : header.length;

  const fh = await open(path, "w");
  try {
    await fh.write(header, 0, header.length, 0);
    await fh.truncate(total);
  } finally {
    await fh.close();
  }
}
