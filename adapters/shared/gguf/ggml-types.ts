/** GGUF metadata value types (gguf.h `enum gguf_type`). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GgufValueTypeId = (typeof GgufValueType)[keyof typeof GgufValueType];

/** Byte size of each fixed-size value type; STRING and ARRAY are variable. */
export const GGUF_SCALAR_SIZE: Partial<Record<number, number>> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};

/** ggml tensor types: name, elements per block, bytes per block (gguf-py GGML_QUANT_SIZES). */
export const GGML_TYPES: Partial<Record<number, { name: string; block: number; bytes: number }>> = {
  0: { name: "F32", block: 1, bytes: 4 },
  1: { name: "F16", block: 1, bytes: 2 },
  2: { name: "Q4_0", block: 32, bytes: 18 },
  3: { name: "Q4_1", block: 32, bytes: 20 },
  6: { name: "Q5_0", block: 32, bytes: 22 },
  7: { name: "Q5_1", block: 32, bytes: 24 },
  8: { name: "Q8_0", block: 32, bytes: 34 },
  9: { name: "Q8_1", block: 32, bytes: 36 },
  10: { name: "Q2_K", block: 256, bytes: 84 },
  11: { name: "Q3_K", block: 256, bytes: 110 },
  12: { name: "Q4_K", block: 256, bytes: 144 },
  13: { name: "Q5_K", block: 256, bytes: 176 },
  14: { name: "Q6_K", block: 256, bytes: 210 },
  15: { name: "Q8_K", block: 256, bytes: 292 },
  16: { name: "IQ2_XXS", block: 256, bytes: 66 },
  17: { name: "IQ2_XS", block: 256, bytes: 74 },
  18: { name: "IQ3_XXS", block: 256, bytes: 98 },
  19: { name: "IQ1_S", block: 256, bytes: 50 },
  20: { name: "IQ4_NL", block: 32, bytes: 18 },
  21: { name: "IQ3_S", block: 256, bytes: 110 },
  22: { name: "IQ2_S", block: 256, bytes: 82 },
  23: { name: "IQ4_XS", block: 256, bytes: 136 },
  24: { name: "I8", block: 1, bytes: 1 },
  25: { name: "I16", block: 1, bytes: 2 },
  26: { name: "I32", block: 1, bytes: 4 },
  27: { name: "I64", block: 1, bytes: 8 },
  28: { name: "F64", block: 1, bytes: 8 },
  29: { name: "IQ1_M", block: 256, bytes: 56 },
  30: { name: "BF16", block: 1, bytes: 2 },
  34: { name: "TQ1_0", block: 256, bytes: 54 },
  35: { name: "TQ2_0", block: 256, bytes: 66 },
  39: { name: "MXFP4", block: 32, bytes: 17 },
};

/** llama.cpp `enum llama_ftype` as written to `general.file_type`. */
export const LLAMA_FILE_TYPES: Partial<Record<number, string>> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  4: "Q4_1_SOME_F16",
  7: "Q8_0",
  8: "Q5_0",
  9: "Q5_1",
  10: "Q2_K",
  11: "Q3_K_S",
  12: "Q3_K_M",
  13: "Q3_K_L",
  14: "Q4_K_S",
  15: "Q4_K_M",
  16: "Q5_K_S",
  17: "Q5_K_M",
  18: "Q6_K",
  19: "IQ2_XXS",
  20: "IQ2_XS",
  21: "Q2_K_S",
  22: "IQ3_XS",
  23: "IQ3_XXS",
  24: "IQ1_S",
  25: "IQ4_NL",
  26: "IQ3_S",
  27: "IQ3_M",
  28: "IQ2_S",
  29: "IQ2_M",
  30: "IQ4_XS",
  31: "IQ1_M",
  32: "BF16",
  36: "TQ1_0",
  37: "TQ2_0",
  38: "MXFP4_MOE",
};

/**
 * Bytes a tensor of this type and shape occupies, or undefined for a type we do not know (or a first
 * dimension that is not a whole number of blocks).
 */
export function tensorBytes(type: number, dims: readonly number[]): number | undefined {
  const info = GGML_TYPES[type];
  if (info === undefined) return undefined;
  const first = dims[0] ?? 1;
  if (first % info.block !== 0) return undefined;
  let bytes = (first / info.block) * info.bytes;
  for (const dim of dims.slice(1)) bytes *= dim;
  return bytes;
}
