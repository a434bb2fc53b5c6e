/**
 * A test-only ONNX writer: protobuf encoding of the ModelProto fields rmxd reads (and that onnxruntime needs
 * to run a graph): ir_version, opset_import, producer, graph nodes, initializers (raw_data or external),
 * inputs and outputs with typed shapes.
 */
import type { OnnxValueInfo } from "../../adapters/onnxruntime/onnx-model.js";

function varint(n: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}

const tag = (field: number, wire: number) => varint((field << 3) | wire);
export const int = (field: number, n: number) => Buffer.concat([tag(field, 0), varint(n)]);
export const bytes = (field: number, b: Buffer) => Buffer.concat([tag(field, 2), varint(b.length), b]);
export const str = (field: number, s: string) => bytes(field, Buffer.from(s, "utf8"));
const msg = (field: number, ...parts: Buffer[]) => bytes(field, Buffer.concat(parts));

export interface InitializerDef {
  name: string;
  elem_type: number;
  dims: number[];
  /** Stored in the file as raw_data; absent: external (`location`, `length`). */
  raw?: Buffer;
  external?: { location: string; length: number };
}

export interface NodeDef {
  op_type: string;
  inputs: string[];
  outputs: string[];
}

export interface ModelDef {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  graph_name: string;
  nodes: NodeDef[];
  initializers: InitializerDef[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

function valueInfo(field: number, v: OnnxValueInfo): Buffer {
  const dims = (v.shape ?? []).map((d) => msg(1, typeof d === "number" ? int(1, d) : str(2, d)));
  const tensor = Buffer.concat([int(1, v.elem_type), ...(v.shape !== undefined ? [msg(2, ...dims)] : [])]);
  return msg(field, str(1, v.name), msg(2, msg(1, tensor)));
}

function initializer(t: InitializerDef): Buffer {
  const parts = [...t.dims.map((d) => int(1, d)), int(2, t.elem_type), str(8, t.name)];
  if (t.raw !== undefined) parts.push(bytes(9, t.raw));
  if (t.external !== undefined) {
    parts.push(msg(13, str(1, "location"), str(2, t.external.location)));
    parts.push(msg(13, str(1, "length"), str(2, String(t.external.length))));
    parts.push(int(14, 1));
  }
  return msg(5, ...parts);
}

export function writeOnnxModel(m: ModelDef): Buffer {
  const graph = Buffer.concat([
    ...m.nodes.map((n) =>
      msg(1, ...n.inputs.map((i) => str(1, i)), ...n.outputs.map((o) => str(2, o)), str(4, n.op_type)),
    ),
    str(2, m.graph_name),
    ...m.initializers.map(initializer),
    ...m.inputs.map((v) => valueInfo(11, v)),
    ...m.outputs.map((v) => valueInfo(12, v)),
  ]);
  return Buffer.concat([
    int(1, m.ir_version),
    str(2, m.producer_name),
    str(3, m.producer_version),
    msg(7, graph),
    ...m.opset_import.map((o) => msg(8, str(1, o.domain), int(2, o.version))),
  ]);
}

const FLOAT = 1;
const f32 = (shape: (number | string)[], name: string): OnnxValueInfo => ({
  name,
  elem_type: FLOAT,
  elem_type_name: "float",
  shape,
});

const base = {
  ir_version: 8,
  opset_import: [{ domain: "", version: 13 }],
  producer_name: "rmx-test",
  producer_version: "1",
};

/** C = A + B over float [2,2]. */
export function addModel(): Buffer {
  return writeOnnxModel({
    ...base,
    graph_name: "add",
    nodes: [{ op_type: "Add", inputs: ["A", "B"], outputs: ["C"] }],
    initializers: [],
    inputs: [f32([2, 2], "A"), f32([2, 2], "B")],
    outputs: [f32([2, 2], "C")],
  });
}

/** Y = X · W with W = [[1,2],[3,4]] an initializer; X is [N,2] with N dynamic (`batch`). */
export function matmulModel(): Buffer {
  const w = Buffer.alloc(16);
  [1, 2, 3, 4].forEach((v, i) => {
    w.writeFloatLE(v, i * 4);
  });
  return writeOnnxModel({
    ...base,
    graph_name: "matmul",
    nodes: [{ op_type: "MatMul", inputs: ["X", "W"], outputs: ["Y"] }],
    initializers: [{ name: "W", elem_type: FLOAT, dims: [2, 2], raw: w }],
    inputs: [f32(["batch", 2], "X")],
    outputs: [f32(["batch", 2], "Y")],
  });
}
