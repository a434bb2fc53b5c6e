/**
 * The KServe v2 JSON tensors of rmxd's ONNX server: a request checked against the model's inputs (names,
 * datatypes, shapes, element values) into typed arrays for onnxruntime, and its outputs back into JSON.
 * Every refusal is a BadRequest whose message names the input, the field and what was expected.
 */
import { ELEM_TYPES, ortOfKserve } from "../dtypes.js";
import type { OnnxValueInfo } from "../onnx-model.js";

export class BadRequest extends Error {}

export interface TensorSpec {
  name: string;
  datatype: string;
  /** -1 for a dynamic dimension. */
  shape: number[];
}

/** KServe metadata of a graph value: its datatype name and shape with -1 for every dynamic dimension. */
export function tensorSpec(v: OnnxValueInfo): TensorSpec {
  return {
    name: v.name,
    datatype: ELEM_TYPES[v.elem_type]?.kserve ?? `UNSUPPORTED_${v.elem_type_name.toUpperCase()}`,
    shape: (v.shape ?? []).map((d) => (typeof d === "number" && d > 0 ? d : -1)),
  };
}

export interface Feed {
  type: string;
  data: ArrayLike<unknown> | string[];
  dims: number[];
}

export interface ParsedInfer {
  feeds: Record<string, Feed>;
  /** Requested output names; every output when the request names none. */
  outputs: string[];
}

const INT_RANGE: Record<string, [number, number]> = {
  INT8: [-128, 127],
  UINT8: [0, 255],
  INT16: [-32768, 32767],
  UINT16: [0, 65535],
  INT32: [-2147483648, 2147483647],
  UINT32: [0, 4294967295],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

function flatten(data: unknown, into: unknown[]): void {
  if (Array.isArray(data)) for (const d of data) flatten(d, into);
  else into.push(data);
}

function typedArray(datatype: string, values: unknown[], where: string): Feed["data"] {
  const bad = (i: number, want: string): never => {
    throw new BadRequest(
      `${where}.data[${i}] is ${JSON.stringify(values[i])?.slice(0, 40)}, expected ${want}`,
    );
  };
  switch (datatype) {
    case "FP32":
    case "FP64": {
      const out = datatype === "FP32" ? new Float32Array(values.length) : new Float64Array(values.length);
      values.forEach((v, i) => {
        if (typeof v !== "number" || !Number.isFinite(v)) bad(i, "a finite number");
        out[i] = v as number;
      });
      return out;
    }
    case "BOOL":
      return Uint8Array.from(values, (v, i) =>
        typeof v === "boolean" ? Number(v) : bad(i, "true or false"),
      );
    case "BYTES":
      return values.map((v, i) => (typeof v === "string" ? v : bad(i, "a string")));
    default: {
      const range = INT_RANGE[datatype];
      if (range === undefined)
        throw new BadRequest(`${where}: datatype ${datatype} is not served by rmxd's ONNX server`);
      values.forEach((v, i) => {
        if (typeof v !== "number" || !Number.isInteger(v) || v < range[0] || v > range[1])
          bad(i, `an integer from ${range[0]} to ${range[1]} (${datatype})`);
      });
      const nums = values as number[];
      if (datatype === "INT64") return BigInt64Array.from(nums, (v) => BigInt(v));
      if (datatype === "UINT64") return BigUint64Array.from(nums, (v) => BigInt(v));
      const ctor = {
        INT8: Int8Array,
        UINT8: Uint8Array,
        INT16: Int16Array,
        UINT16: Uint16Array,
        INT32: Int32Array,
        UINT32: Uint32Array,
      }[datatype as "INT8"];
      return ctor.from(nums);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks a parsed JSON body against the model; throws BadRequest naming what is wrong. */
export function parseInferRequest(body: unknown, inputs: TensorSpec[], outputs: TensorSpec[]): ParsedInfer {
  if (!isObject(body)) throw new BadRequest("the body must be a JSON object with an `inputs` array");
  if (!Array.isArray(body.inputs) || body.inputs.length === 0)
    throw new BadRequest("`inputs` must be a non-empty array of {name, shape, datatype, data}");
  const feeds: Record<string, Feed> = {};
  body.inputs.forEach((raw: unknown, i: number) => {
    const where = `inputs[${i}]`;
    if (!isObject(raw)) throw new BadRequest(`${where} must be an object {name, shape, datatype, data}`);
    const spec = inputs.find((s) => s.name === raw.name);
    if (spec === undefined)
      throw new BadRequest(
        `${where}.name ${JSON.stringify(raw.name)} is not an input of the model (inputs: ${inputs.map((s) => s.name).join(", ")})`,
      );
    const at = `${where} (${spec.name})`;
    if (Object.hasOwn(feeds, spec.name)) throw new BadRequest(`${at}: the input is given twice`);
    if (raw.datatype !== spec.datatype)
      throw new BadRequest(
        `${at}.datatype is ${JSON.stringify(raw.datatype)}, the model takes ${spec.datatype}`,
      );
    const shape = raw.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0))
      throw new BadRequest(`${at}.shape must be an array of whole numbers`);
    const dims = shape as number[];
    if (dims.length !== spec.shape.length || dims.some((d, k) => spec.shape[k] !== -1 && spec.shape[k] !== d))
      throw new BadRequest(
        `${at}.shape is [${dims.join(",")}], the model takes [${spec.shape.join(",")}] (-1: any size)`,
      );
    const values: unknown[] = [];
    flatten(raw.data, values);
    const count = dims.reduce((a, b) => a * b, 1);
    if (!Array.isArray(raw.data) || values.length !== count)
      throw new BadRequest(
        `${at}.data has ${Array.isArray(raw.data) ? values.length : "no"} elements, shape [${dims.join(",")}] needs ${count}`,
      );
    const type = ortOfKserve(spec.datatype);
    if (type === undefined)
      throw new BadRequest(`${at}: datatype ${spec.datatype} is not served by rmxd's ONNX server`);
    feeds[spec.name] = { type, data: typedArray(spec.datatype, values, at), dims };
  });
  const missing = inputs.filter((s) => !Object.hasOwn(feeds, s.name)).map((s) => s.name);
  if (missing.length > 0)
    throw new BadRequest(`missing input${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`);
  let wanted = outputs.map((o) => o.name);
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw new BadRequest("`outputs` must be an array of {name}");
    wanted = body.outputs.map((o: unknown, i: number) => {
      const name = isObject(o) ? o.name : undefined;
      if (typeof name !== "string" || !outputs.some((s) => s.name === name))
        throw new BadRequest(
          `outputs[${i}].name ${JSON.stringify(name)} is not an output of the model (outputs: ${outputs.map((s) => s.name).join(", ")})`,
        );
      return name;
    });
  }
  return { feeds, outputs: wanted };
}

export interface OutTensor {
  type: string;
  dims: readonly number[];
  data: ArrayLike<unknown>;
}

const KSERVE_OF_ORT: Record<string, string> = Object.fromEntries(
  Object.values(ELEM_TYPES).flatMap((t) =>
    t.ort !== undefined && t.kserve !== undefined ? [[t.ort, t.kserve]] : [],
  ),
);

/** onnxruntime's output tensor as KServe JSON (64-bit integers as numbers, bools as booleans). */
export function outputJson(name: string, t: OutTensor) {
  const data = Array.from(t.data as ArrayLike<number | bigint | string>, (v) =>
    typeof v === "bigint" ? Number(v) : t.type === "bool" ? v === 1 : v,
  );
  return { name, shape: [...t.dims], datatype: KSERVE_OF_ORT[t.type] ?? t.type.toUpperCase(), data };
}
