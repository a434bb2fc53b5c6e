/**
 * Facts about an ONNX model read from its ModelProto (onnx.proto): IR version, opsets, producer, the graph's
 * inputs and outputs (element type and shape, `dim_value` or `dim_param`), and its initializers (the weights:
 * dims × element size, or raw_data's length; external data noted). Weight bytes feed the memory estimate.
 * The file is read on demand: fields are walked by their tags and raw_data is skipped, never loaded.
 */
import { readSync } from "node:fs";
import { formatBytes } from "../../base/format.js";
import type { MemoryEstimate } from "../shared/gguf/estimate.js";
import { openModelOf } from "../shared/gguf/open-model.js";
import { ELEM_TYPES, elemTypeName } from "./dtypes.js";
import { type ByteSource, bufferSource, type Field, ProtoCursor, WIRE } from "./proto.js";

export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType code; 0 for a non-tensor value (sequence, map). */
  elem_type: number;
  elem_type_name: string;
  /** A number per fixed dimension, the symbol (`dim_param`) or `"?"` for a dynamic one; absent: unknown rank. */
  shape?: (number | string)[];
}

export interface OnnxModelInfo {
  format: "onnx";
  path: string;
  file_size: number;
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  graph_name: string;
  node_count: number;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializer_count: number;
  /** Bytes of all initializers (in the file and in external files). */
  weight_bytes: number;
  /** Of which stored in external files (`data_location: EXTERNAL`). */
  external_weight_bytes: number;
  /** External data files the initializers name (`location`), without duplicates. */
  external_files: string[];
}

type Facts = Omit<OnnxModelInfo, "format" | "path" | "file_size">;

function dims(c: ProtoCursor, f: Field, into: number[]): void {
  if (f.wire !== WIRE.varint && f.wire !== WIRE.bytes) c.fail(f.at, `dims has wire type ${f.wire}`);
  c.ints(f.wire, into);
}

/** TensorShapeProto.Dimension: dim_value (1) or dim_param (2). */
function dimension(c: ProtoCursor): number | string {
  let value: number | string = "?";
  for (let f = c.next(); f !== undefined; f = c.next()) {
    if (f.field === 1) {
      c.expect(f, WIRE.varint, "dim_value");
      value = c.int();
    } else if (f.field === 2) {
      c.expect(f, WIRE.bytes, "dim_param");
      value = c.string();
    } else c.skip(f);
  }
  return value;
}

/** ValueInfoProto: name (1), type (2) → TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1). */
function valueInfo(c: ProtoCursor): OnnxValueInfo {
  const v: OnnxValueInfo = { name: "", elem_type: 0, elem_type_name: "" };
  for (let f = c.next(); f !== undefined; f = c.next()) {
    if (f.field === 1 && f.wire === WIRE.bytes) v.name = c.string();
    else if (f.field === 2 && f.wire === WIRE.bytes) {
      const type = c.message();
      for (let t = type.next(); t !== undefined; t = type.next()) {
        if (t.field !== 1 || t.wire !== WIRE.bytes) {
          type.skip(t);
          continue;
        }
        const tensor = type.message();
        for (let g = tensor.next(); g !== undefined; g = tensor.next()) {
          if (g.field === 1) {
            tensor.expect(g, WIRE.varint, "elem_type");
            v.elem_type = tensor.int();
          } else if (g.field === 2) {
            tensor.expect(g, WIRE.bytes, "shape");
            const shape = tensor.message();
            v.shape = [];
            for (let s = shape.next(); s !== undefined; s = shape.next()) {
              if (s.field === 1 && s.wire === WIRE.bytes) v.shape.push(dimension(shape.message()));
              else shape.skip(s);
            }
          } else tensor.skip(g);
        }
      }
    } else c.skip(f);
  }
  v.elem_type_name = v.elem_type === 0 ? "non-tensor" : elemTypeName(v.elem_type);
  return v;
}

/** TensorProto: its byte size and, when external, where. */
function initializer(c: ProtoCursor): { bytes: number; external?: string } {
  const shape: number[] = [];
  let type = 0;
  let raw: number | undefined;
  let typed = 0;
  let external = false;
  let location: string | undefined;
  let externalLength: number | undefined;
  for (let f = c.next(); f !== undefined; f = c.next()) {
    if (f.field === 1) dims(c, f, shape);
    else if (f.field === 2) {
      c.expect(f, WIRE.varint, "data_type");
      type = c.int();
    } else if (f.field === 9) {
      c.expect(f, WIRE.bytes, "raw_data");
      raw = c.skip(f);
    } else if (f.field === 14) {
      c.expect(f, WIRE.varint, "data_location");
      external = c.int() === 1;
    } else if (f.field === 13 && f.wire === WIRE.bytes) {
      // StringStringEntryProto: key (1), value (2): `location`, `offset`, `length`.
      const entry = c.message();
      let key = "";
      let value = "";
      for (let e = entry.next(); e !== undefined; e = entry.next()) {
        if (e.field === 1 && e.wire === WIRE.bytes) key = entry.string();
        else if (e.field === 2 && e.wire === WIRE.bytes) value = entry.string();
        else entry.skip(e);
      }
      if (key === "location") location = value;
      if (key === "length" && /^\d+$/.test(value)) externalLength = Number(value);
    } else typed += c.skip(f);
  }
  const elements = shape.reduce((a, b) => a * Math.max(0, b), 1);
  const bySize = Math.ceil(elements * (ELEM_TYPES[type]?.bytes ?? 0));
  if (external)
    return { bytes: externalLength ?? bySize, ...(location !== undefined ? { external: location } : {}) };
  // raw_data is exact; typed fields (float_data…) are their packed length; else dims × element size.
  return { bytes: raw ?? (typed > 0 ? typed : bySize) };
}

function graph(c: ProtoCursor, facts: Facts, external: Set<string>): void {
  for (let f = c.next(); f !== undefined; f = c.next()) {
    if (f.wire !== WIRE.bytes) {
      c.skip(f);
      continue;
    }
    if (f.field === 1) {
      facts.node_count++;
      c.skip(f);
    } else if (f.field === 2) facts.graph_name = c.string();
    else if (f.field === 5) {
      const t = initializer(c.message());
      facts.initializer_count++;
      facts.weight_bytes += t.bytes;
      if (t.external !== undefined) {
        facts.external_weight_bytes += t.bytes;
        external.add(t.external);
      }
    } else if (f.field === 11) facts.inputs.push(valueInfo(c.message()));
    else if (f.field === 12) facts.outputs.push(valueInfo(c.message()));
    else c.skip(f);
  }
}

/** Parses a ModelProto from `src`; `file` names it in errors (MODEL_INVALID with the byte offset). */
export function parseOnnxModel(src: ByteSource, file: string): Facts {
  const c = new ProtoCursor(src, file, 0, src.size);
  const facts: Facts = {
    ir_version: 0,
    opset_import: [],
    producer_name: "",
    producer_version: "",
    graph_name: "",
    node_count: 0,
    inputs: [],
    outputs: [],
    initializer_count: 0,
    weight_bytes: 0,
    external_weight_bytes: 0,
    external_files: [],
  };
  const external = new Set<string>();
  let sawGraph = false;
  for (let f = c.next(); f !== undefined; f = c.next()) {
    if (f.field === 1) {
      c.expect(f, WIRE.varint, "ir_version");
      facts.ir_version = c.int();
    } else if (f.field === 2 && f.wire === WIRE.bytes) facts.producer_name = c.string();
    else if (f.field === 3 && f.wire === WIRE.bytes) facts.producer_version = c.string();
    else if (f.field === 7) {
      c.expect(f, WIRE.bytes, "graph");
      graph(c.message(), facts, external);
      sawGraph = true;
    } else if (f.field === 8) {
      c.expect(f, WIRE.bytes, "opset_import");
      const op = c.message();
      const entry = { domain: "", version: 0 };
      for (let o = op.next(); o !== undefined; o = op.next()) {
        if (o.field === 1 && o.wire === WIRE.bytes) entry.domain = op.string();
        else if (o.field === 2 && o.wire === WIRE.varint) entry.version = op.int();
        else op.skip(o);
      }
      facts.opset_import.push(entry);
    } else c.skip(f);
  }
  if (facts.ir_version <= 0) c.fail(0, "no ir_version (field 1): not an ONNX ModelProto");
  if (!sawGraph) c.fail(c.end, "no graph (field 7): not an ONNX ModelProto");
  facts.external_files = [...external];
  return facts;
}

/** A file read on demand in 64 KiB windows: the parser touches headers, never the weights it skips. */
function fileSource(fd: number, size: number): ByteSource {
  const WINDOW = 64 * 1024;
  let start = 0;
  let window = Buffer.alloc(0);
  return {
    size,
    read(offset, length) {
      if (offset >= start && offset + length <= start + window.length)
        return window.subarray(offset - start, offset - start + length);
      const n = Math.min(Math.max(length, WINDOW), Math.max(0, size - offset));
      const buf = Buffer.alloc(n);
      const got = readSync(fd, buf, 0, n, offset);
      start = offset;
      window = buf.subarray(0, got);
      return window.subarray(0, Math.min(length, got));
    },
  };
}

/** RmxError MODEL_MISSING (cannot open) or MODEL_INVALID (not a regular file, malformed protobuf at byte N). */
export async function readOnnxModel(file: string): Promise<OnnxModelInfo> {
  const {
    handle,
    info: { size },
  } = await openModelOf(file, "ONNX");
  try {
    return {
      format: "onnx",
      path: file,
      file_size: size,
      ...parseOnnxModel(fileSource(handle.fd, size), file),
    };
  } finally {
    await handle.close();
  }
}

export function parseOnnxBuffer(bytes: Buffer, file: string): Facts {
  return parseOnnxModel(bufferSource(bytes), file);
}

/**
 * onnxruntime's own memory on top of the weights: the session copies and pre-packs initializers (up to once
 * more), and its CPU arena holds the activations. Half the weights covers the copy for small graphs and the
 * arena for the rest; the fixed part is the library (libonnxruntime is ~45 MB) and a Node process.
 */
export const ONNX_OVERHEAD_FRACTION = 0.5;
export const ONNX_FIXED_OVERHEAD_BYTES = 128 * 1024 * 1024;

export function estimateOnnxMemory(info: OnnxModelInfo): MemoryEstimate {
  const weights = info.weight_bytes;
  const overhead = Math.round(weights * ONNX_OVERHEAD_FRACTION) + ONNX_FIXED_OVERHEAD_BYTES;
  const total = weights + overhead;
  const external =
    info.external_weight_bytes > 0 ? `, ${formatBytes(info.external_weight_bytes)} external` : "";
  return {
    weights_bytes: weights,
    kv_cache_bytes: 0,
    overhead_bytes: overhead,
    total_bytes: total,
    context: 0,
    kv_known: true,
    explanation:
      `weights ${formatBytes(weights)} (${info.initializer_count} initializers${external}) + onnxruntime ` +
      `${formatBytes(overhead)} (${ONNX_OVERHEAD_FRACTION} × weights + ${formatBytes(ONNX_FIXED_OVERHEAD_BYTES)}) = ${formatBytes(total)}`,
  };
}
