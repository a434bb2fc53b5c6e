/**
 * The ONNX ModelProto reader: a model written by the test writer reads back with the same facts (property),
 * weights and their estimate, external data, format dispatch beside GGUF and whisper, and malformed or
 * truncated files as MODEL_INVALID naming the file and the byte offset.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readModel, sniffFormat } from "../../adapters/model-formats.js";
import { elemTypeName } from "../../adapters/onnxruntime/dtypes.js";
import {
  estimateOnnxMemory,
  ONNX_FIXED_OVERHEAD_BYTES,
  type OnnxValueInfo,
  parseOnnxBuffer,
  readOnnxModel,
} from "../../adapters/onnxruntime/onnx-model.js";
import { TINY_HEADER, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";
import { RmxError } from "../../base/errors.js";
import { tempDir } from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";
import { addModel, type ModelDef, matmulModel, writeOnnxModel } from "./onnx-writer.js";

const name = fc.string({ minLength: 1, maxLength: 12 });
const elemType = fc.constantFrom(1, 2, 3, 6, 7, 9, 10, 11);
const dim = fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.constantFrom("batch", "seq", "N"));
const valueInfo: fc.Arbitrary<OnnxValueInfo> = fc
  .record({
    name,
    elem_type: elemType,
    shape: fc.option(fc.array(dim, { maxLength: 4 }), { nil: undefined }),
  })
  .map((v) => {
    const out: OnnxValueInfo = {
      name: v.name,
      elem_type: v.elem_type,
      elem_type_name: elemTypeName(v.elem_type),
    };
    if (v.shape !== undefined) out.shape = v.shape;
    return out;
  });
const initializer = fc.record({
  name,
  elem_type: fc.constantFrom(1, 7, 10),
  dims: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 3 }),
  external: fc.boolean(),
});
const modelDef: fc.Arbitrary<ModelDef> = fc.record({
  ir_version: fc.integer({ min: 3, max: 10 }),
  opset_import: fc.array(
    fc.record({
      domain: fc.constantFrom("", "ai.onnx.ml", "com.microsoft"),
      version: fc.integer({ min: 1, max: 23 }),
    }),
    { maxLength: 3 },
  ),
  producer_name: fc.string({ maxLength: 10 }),
  producer_version: fc.string({ maxLength: 5 }),
  graph_name: fc.string({ maxLength: 10 }),
  nodes: fc.array(
    fc.record({
      op_type: fc.constantFrom("Add", "MatMul", "Relu"),
      inputs: fc.array(name, { maxLength: 2 }),
      outputs: fc.array(name, { maxLength: 1 }),
    }),
    { maxLength: 4 },
  ),
  initializers: fc.array(initializer, { maxLength: 4 }).map((list) =>
    list.map((t) => {
      const bytes = t.dims.reduce((a, b) => a * b, 1) * ({ 1: 4, 7: 8, 10: 2 }[t.elem_type] ?? 1);
      return t.external
        ? {
            name: t.name,
            elem_type: t.elem_type,
            dims: t.dims,
            external: { location: `${t.name}.bin`, length: bytes },
          }
        : { name: t.name, elem_type: t.elem_type, dims: t.dims, raw: Buffer.alloc(bytes) };
    }),
  ),
  inputs: fc.array(valueInfo, { maxLength: 3 }),
  outputs: fc.array(valueInfo, { maxLength: 3 }),
});

function weightBytes(m: ModelDef): number {
  return m.initializers.reduce((a, t) => a + (t.raw?.length ?? t.external?.length ?? 0), 0);
}

describe("ONNX reader", () => {
  it("reads back what the writer wrote (property)", () => {
    fc.assert(
      fc.property(modelDef, (m) => {
        const facts = parseOnnxBuffer(writeOnnxModel(m), "model.onnx");
        expect(facts.ir_version).toBe(m.ir_version);
        expect(facts.opset_import).toEqual(m.opset_import);
        expect(facts.producer_name).toBe(m.producer_name);
        expect(facts.producer_version).toBe(m.producer_version);
        expect(facts.graph_name).toBe(m.graph_name);
        expect(facts.node_count).toBe(m.nodes.length);
        expect(facts.inputs).toEqual(m.inputs);
        expect(facts.outputs).toEqual(m.outputs);
        expect(facts.initializer_count).toBe(m.initializers.length);
        expect(facts.weight_bytes).toBe(weightBytes(m));
        const external = m.initializers.filter((t) => t.external !== undefined);
        expect(facts.external_weight_bytes).toBe(external.reduce((a, t) => a + (t.external?.length ?? 0), 0));
        expect(facts.external_files.sort()).toEqual(
          [...new Set(external.map((t) => `${t.name}.bin`))].sort(),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("reports every truncation as MODEL_INVALID with the file and a byte offset, or reads a shorter model", () => {
    const bytes = matmulModel();
    let refused = 0;
    for (let cut = 0; cut < bytes.length; cut++) {
      try {
        parseOnnxBuffer(bytes.subarray(0, cut), "/m/cut.onnx");
      } catch (error) {
        refused++;
        expect(error).toBeInstanceOf(RmxError);
        expect((error as RmxError).code).toBe("MODEL_INVALID");
        expect((error as RmxError).message).toMatch(/^\/m\/cut\.onnx: malformed ONNX protobuf at byte \d+: /);
        expect(typeof (error as RmxError).data?.offset).toBe("number");
      }
    }
    // Only cuts at a top-level field boundary after the graph can read as a (shorter) model.
    expect(refused).toBeGreaterThan(bytes.length - 10);
  });

  it("names the offset where the graph's length runs past the end of the file", () => {
    const bytes = matmulModel();
    // The graph (field 7) starts after ir_version and the two producer strings.
    const graphAt = bytes.indexOf(0x3a);
    expect(() => parseOnnxBuffer(bytes.subarray(0, graphAt + 10), "cut.onnx")).toThrow(
      new RegExp(`cut\\.onnx: malformed ONNX protobuf at byte ${graphAt + 1}: length \\d+ runs past the end`),
    );
    expect(() => parseOnnxBuffer(Buffer.from("GGUF not onnx"), "x.onnx")).toThrow(
      /malformed ONNX protobuf at byte 0/,
    );
  });

  it("estimates memory as weights plus the documented overhead", async () => {
    const dir = await tempDir("rmx-onnx-read-");
    const file = path.join(dir, "matmul.onnx");
    await writeFile(file, matmulModel());
    const info = await readOnnxModel(file);
    expect(info).toMatchObject({
      format: "onnx",
      ir_version: 8,
      weight_bytes: 16,
      initializer_count: 1,
      graph_name: "matmul",
    });
    expect(info.inputs).toEqual([{ name: "X", elem_type: 1, elem_type_name: "float", shape: ["batch", 2] }]);
    const e = estimateOnnxMemory(info);
    expect(e.weights_bytes).toBe(16);
    expect(e.total_bytes).toBe(16 + 8 + ONNX_FIXED_OVERHEAD_BYTES);
    expect(e.explanation).toMatch(/weights 16 B \(1 initializers\)/);
  });

  it("is chosen by readModel for .onnx and protobuf files, after the GGUF and whisper magics", async () => {
    const dir = await tempDir("rmx-onnx-dispatch-");
    const onnx = path.join(dir, "add.onnx");
    const noExt = path.join(dir, "add.model");
    const whisper = path.join(dir, "ggml-tiny.bin");
    const gguf = path.join(dir, "m.gguf");
    await writeFile(onnx, addModel());
    await writeFile(noExt, addModel());
    await writeFile(whisper, writeWhisperHeader(TINY_HEADER));
    await writeTinyGguf(gguf);
    expect(await sniffFormat(onnx)).toBe("onnx");
    expect(await sniffFormat(noExt)).toBe("onnx");
    expect(await sniffFormat(whisper)).toBe("whisper-ggml");
    expect(await sniffFormat(gguf)).toBe("gguf");
    const read = await readModel(onnx);
    expect(read.format).toBe("onnx");
    expect(read.estimate.total_bytes).toBe(ONNX_FIXED_OVERHEAD_BYTES); // Add has no weights
    const broken = path.join(dir, "broken.onnx");
    await writeFile(broken, addModel().subarray(0, 30));
    await expect(readModel(broken)).rejects.toMatchObject({
      code: "MODEL_INVALID",
      message: expect.stringMatching(
        new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: malformed ONNX protobuf at byte \\d+`),
      ),
    });
  });
});
