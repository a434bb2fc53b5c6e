/**
 * ONNX element types (TensorProto.DataType in onnx.proto) with their size, the KServe v2 datatype name and
 * onnxruntime-node's tensor type. Sub-byte types have fractional sizes; types KServe cannot carry map to
 * `undefined` there.
 */
export interface ElemType {
  name: string;
  bytes: number;
  kserve?: string;
  ort?: string;
}

export const ELEM_TYPES: Readonly<Record<number, ElemType>> = {
  1: { name: "float", bytes: 4, kserve: "FP32", ort: "float32" },
  2: { name: "uint8", bytes: 1, kserve: "UINT8", ort: "uint8" },
  3: { name: "int8", bytes: 1, kserve: "INT8", ort: "int8" },
  4: { name: "uint16", bytes: 2, kserve: "UINT16", ort: "uint16" },
  5: { name: "int16", bytes: 2, kserve: "INT16", ort: "int16" },
  6: { name: "int32", bytes: 4, kserve: "INT32", ort: "int32" },
  7: { name: "int64", bytes: 8, kserve: "INT64", ort: "int64" },
  8: { name: "string", bytes: 0, kserve: "BYTES", ort: "string" },
  9: { name: "bool", bytes: 1, kserve: "BOOL", ort: "bool" },
  10: { name: "float16", bytes: 2, kserve: "FP16", ort: "float16" },
  11: { name: "double", bytes: 8, kserve: "FP64", ort: "float64" },
  12: { name: "uint32", bytes: 4, kserve: "UINT32", ort: "uint32" },
  13: { name: "uint64", bytes: 8, kserve: "UINT64", ort: "uint64" },
  14: { name: "complex64", bytes: 8 },
  15: { name: "complex128", bytes: 16 },
  16: { name: "bfloat16", bytes: 2, kserve: "BF16" },
  17: { name: "float8e4m3fn", bytes: 1 },
  18: { name: "float8e4m3fnuz", bytes: 1 },
  19: { name: "float8e5m2", bytes: 1 },
  20: { name: "float8e5m2fnuz", bytes: 1 },
  21: { name: "uint4", bytes: 0.5 },
  22: { name: "int4", bytes: 0.5 },
  23: { name: "float4e2m1", bytes: 0.5 },
};

export function elemTypeName(code: number): string {
  return ELEM_TYPES[code]?.name ?? `unknown (${code})`;
}

/** KServe datatype of an onnxruntime-node tensor type (`float32` → `FP32`). */
export function kserveOfOrt(ort: string): string | undefined {
  return Object.values(ELEM_TYPES).find((t) => t.ort === ort)?.kserve;
}

/** onnxruntime-node tensor type of a KServe datatype (`FP32` → `float32`). */
export function ortOfKserve(kserve: string): string | undefined {
  return Object.values(ELEM_TYPES).find((t) => t.kserve === kserve && t.ort !== undefined)?.ort;
}
