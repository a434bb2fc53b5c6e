import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgufValueType, tensorBytes } from "../../adapters/shared/gguf/ggml-types.js";
import type { GgufMetadataValue } from "../../adapters/shared/gguf/reader.js";
import { readGguf, readGgufHeader } from "../../adapters/shared/gguf/reader.js";
import { isRmxError } from "../../base/errors.js";
import type { GgufTypedValue, GgufWritableValue } from "../support/gguf-writer.js";
import { typedValue, writeTinyGguf } from "../support/gguf-writer.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-gguf-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectModelError(
  p: Promise<unknown>,
  code: "MODEL_INVALID" | "MODEL_MISSING",
): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (!isRmxError(err, code)) throw err;
    return err.message;
  }
  throw new Error(`expected ${code}, but the read succeeded`);
}

/** What the reader gives back for a written value. */
function plain(value: GgufTypedValue): GgufMetadataValue {
  if (value.type === "array") return value.items.map(plain);
  if (value.type === "uint64" || value.type === "int64") {
    const n = Number(value.value);
    return Number.isSafeInteger(n) ? n : value.value;
  }
  if (value.type === "float32") return Math.fround(value.value);
  return value.value;
}

describe("readGguf on files from writeTinyGguf", () => {
  it("reads back the model facts, tensor count, parameter count and quantization", async () => {
    const file = path.join(dir, "llama-q4.gguf");
    await writeTinyGguf(file, {
      loaderKeys: false,
      architecture: "llama",
      name: "Tiny Llama",
      context_length: 2048,
      embedding_length: 64,
      block_count: 2,
      head_count: 4,
      head_count_kv: 2,
      file_type: 15,
      tensors: [
        { name: "token_embd.weight", dims: [64, 32], type: 1 },
        { name: "blk.0.attn_q.weight", dims: [256, 64], type: 12 },
        { name: "output_norm.weight", dims: [64], type: 0 },
      ],
    });
    const info = await readGguf(file);
    expect(info).toMatchObject({
      path: file,
      version: 3,
      architecture: "llama",
      name: "Tiny Llama",
      context_length: 2048,
      embedding_length: 64,
      block_count: 2,
      head_count: 4,
      head_count_kv: 2,
      file_type: 15,
      quantization: "Q4_K_M",
      tensor_count: 3,
      parameter_count: 64 * 32 + 256 * 64 + 64,
      metadata_keys: 8,
    });
    const header = await readGgufHeader(file);
    expect(header.data_offset % 32).toBe(0);
    expect(header.tensors.map((t) => [t.name, t.offset, t.bytes])).toEqual([
      ["token_embd.weight", 0, 64 * 32 * 2],
      ["blk.0.attn_q.weight", 4096, 64 * 144],
      ["output_norm.weight", 4096 + 9216, 256],
    ]);
    expect(info.file_size).toBe(header.data_offset + 4096 + 9216 + 256);
  });

  it("derives the quantization from the dominant tensor type when general.file_type is absent", async () => {
    const file = path.join(dir, "q8.gguf");
    await writeTinyGguf(file, {
      tensors: [
        { name: "a", dims: [64, 64], type: 8 },
        { name: "b", dims: [64], type: 0 },
      ],
    });
    const info = await readGguf(file);
    expect(info.file_type).toBeUndefined();
    expect(info.quantization).toBe("Q8_0");
  });

  it("honours a non-default general.alignment", async () => {
    const file = path.join(dir, "aligned.gguf");
    await writeTinyGguf(file, {
      alignment: 64,
      tensors: [
        { name: "a", dims: [3], type: 0 },
        { name: "b", dims: [5], type: 0 },
      ],
    });
    const header = await readGgufHeader(file);
    expect(header.alignment).toBe(64);
    expect(header.data_offset % 64).toBe(0);
    expect(header.tensors.map((t) => t.offset)).toEqual([0, 64]);
  });

  it("reads every scalar type, strings and nested arrays", async () => {
    const typed: Record<string, GgufTypedValue> = {
      u8: { type: "uint8", value: 255 },
      i8: { type: "int8", value: -128 },
      u16: { type: "uint16", value: 65535 },
      i16: { type: "int16", value: -32768 },
      u32: { type: "uint32", value: 4294967295 },
      i32: { type: "int32", value: -2147483648 },
      f32: { type: "float32", value: 0.1 },
      f64: { type: "float64", value: Math.PI },
      u64big: { type: "uint64", value: 18446744073709551615n },
      i64: { type: "int64", value: -5n },
      yes: { type: "bool", value: true },
      text: { type: "string", value: "héllo ✓" },
      nested: {
        type: "array",
        item_type: "array",
        items: [
          { type: "array", item_type: "uint8", items: [{ type: "uint8", value: 1 }] },
          { type: "array", item_type: "string", items: [{ type: "string", value: "x" }] },
          { type: "array", item_type: "bool", items: [] },
        ],
      },
    };
    const file = path.join(dir, "types.gguf");
    await writeTinyGguf(file, { extraMetadata: typed });
    const header = await readGgufHeader(file);
    for (const [key, value] of Object.entries(typed)) expect(header.metadata.get(key)).toEqual(plain(value));
    expect(header.metadata_types.get("u64big")).toBe(GgufValueType.UINT64);
    expect(header.metadata.get("u64big")).toBe(18446744073709551615n);
  });

  it("skips big arrays (tokenizer vocabularies) without materialising them, and keeps reading after them", async () => {
    const tokens: GgufTypedValue = {
      type: "array",
      item_type: "string",
      items: Array.from({ length: 20_000 }, (_, i) => ({ type: "string" as const, value: `tok${i}` })),
    };
    const scores: GgufTypedValue = {
      type: "array",
      item_type: "float32",
      items: Array.from({ length: 20_000 }, () => ({ type: "float32" as const, value: 0 })),
    };
    const file = path.join(dir, "vocab.gguf");
    await writeTinyGguf(file, {
      context_length: 512,
      extraMetadata: {
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": scores,
        after: "still read",
      },
    });
    const header = await readGgufHeader(file);
    expect(header.metadata.get("tokenizer.ggml.tokens")).toEqual({
      skipped: "array",
      item_type: GgufValueType.STRING,
      length: 20_000,
    });
    expect(header.metadata.get("tokenizer.ggml.scores")).toEqual({
      skipped: "array",
      item_type: GgufValueType.FLOAT32,
      length: 20_000,
    });
    expect(header.metadata.get("after")).toBe("still read");
    expect((await readGguf(file)).context_length).toBe(512);
  });

  it("property: random metadata round-trips through the writer and the reader", async () => {
    const scalar: fc.Arbitrary<GgufWritableValue> = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.boolean(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    );
    const key = fc
      .string({ minLength: 1, maxLength: 30 })
      .filter((k) => !k.startsWith("general.") && !k.startsWith("llama."));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(key, scalar, { maxKeys: 12 }),
        fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 1 << 20 }), { nil: undefined }),
        async (extra, name, context) => {
          const file = path.join(dir, `prop-${n++}.gguf`);
          // Only the asked-for keys, so the count below is exact.
          const opts = { extraMetadata: extra, loaderKeys: false, ...(name !== undefined ? { name } : {}) };
          await writeTinyGguf(file, context !== undefined ? { ...opts, context_length: context } : opts);
          const header = await readGgufHeader(file);
          for (const [k, v] of Object.entries(extra))
            expect(header.metadata.get(k)).toEqual(plain(typedValue(v)));
          const info = await readGguf(file);
          expect(info.name).toBe(name);
          expect(info.context_length).toBe(context);
          expect(info.metadata_keys).toBe(
            Object.keys(extra).length + 1 + (name !== undefined ? 1 : 0) + (context !== undefined ? 1 : 0),
          );
          await rm(file);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("readGguf on broken files", () => {
  it("every strict prefix of a valid file is MODEL_INVALID, never a crash", async () => {
    const file = path.join(dir, "whole.gguf");
    await writeTinyGguf(file, {
      name: "prefix",
      context_length: 128,
      embedding_length: 8,
      extraMetadata: {
        list: { type: "array", item_type: "string", items: [{ type: "string", value: "a" }] },
        pi: 3.14,
      },
      tensors: [
        { name: "t0", dims: [8, 2], type: 0 },
        { name: "t1", dims: [32], type: 8 },
      ],
    });
    const bytes = await readFile(file);
    await expect(readGguf(file)).resolves.toMatchObject({ tensor_count: 2 });
    const cut = path.join(dir, "cut.gguf");
    const messages = new Set<string>();
    for (let len = 0; len < bytes.length; len++) {
      await writeFile(cut, bytes.subarray(0, len));
      const message = await expectModelError(readGguf(cut), "MODEL_INVALID");
      messages.add(message.replace(/\d+/g, "N"));
    }
    expect([...messages].some((m) => m.includes("truncated at byte N while reading"))).toBe(true);
    expect([...messages].some((m) => m.includes("tensor data"))).toBe(true);
  });

  it("a file that is not GGUF names the magic it found", async () => {
    const file = path.join(dir, "zip.gguf");
    await writeFile(file, Buffer.from("PK\u0003\u0004 not a model at all", "latin1"));
    const message = await expectModelError(readGguf(file), "MODEL_INVALID");
    expect(message).toContain("not a GGUF file (magic 0x504b0304");
  });

  it("a missing file is MODEL_MISSING; a directory is MODEL_INVALID", async () => {
    expect(await expectModelError(readGguf(path.join(dir, "nope.gguf")), "MODEL_MISSING")).toContain(
      "does not exist",
    );
    await expectModelError(readGguf(dir), "MODEL_INVALID");
  });

  it("unsupported versions are named", async () => {
    const file = path.join(dir, "v1.gguf");
    const header = Buffer.alloc(24);
    header.write("GGUF", 0, "latin1");
    header.writeUInt32LE(1, 4);
    await writeFile(file, header);
    expect(await expectModelError(readGguf(file), "MODEL_INVALID")).toContain("unsupported GGUF version 1");
  });

  it("a huge bogus string length fails fast without allocating it", async () => {
    const file = path.join(dir, "bogus-len.gguf");
    await writeTinyGguf(file, { name: "x" });
    const fh = await open(file, "r+");
    // The first key's length field sits right after magic, version, tensor count and kv count.
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(2n ** 62n);
    await fh.write(len, 0, 8, 24);
    await fh.close();
    const before = process.memoryUsage().arrayBuffers;
    const message = await expectModelError(readGguf(file), "MODEL_INVALID");
    expect(message).toContain("metadata key 0 length = 4611686018427387904 at byte 24");
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("bogus tensor and array counts are rejected against the file size", async () => {
    const file = path.join(dir, "bogus-count.gguf");
    await writeTinyGguf(file, {});
    const fh = await open(file, "r+");
    const count = Buffer.alloc(8);
    count.writeBigUInt64LE(2n ** 40n);
    await fh.write(count, 0, 8, 8);
    await fh.close();
    expect(await expectModelError(readGguf(file), "MODEL_INVALID")).toContain("tensor count = 1099511627776");
  });

  it("an unknown value type is MODEL_INVALID", async () => {
    const file = path.join(dir, "badtype.gguf");
    await writeTinyGguf(file, {});
    const bytes = await readFile(file);
    // general.architecture's type tag follows its 8-byte length and 20-byte name.
    const tagAt = 24 + 8 + "general.architecture".length;
    expect(bytes.readUInt32LE(tagAt)).toBe(GgufValueType.STRING);
    bytes.writeUInt32LE(99, tagAt);
    await writeFile(file, bytes);
    expect(await expectModelError(readGguf(file), "MODEL_INVALID")).toContain("unknown value type 99");
  });
});

describe("the shared tiny-llama fixture", () => {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const fixture = path.resolve(repoRoot, "../shared/fixtures/tiny-llama-random.gguf");
  const present = existsSync(fixture);

  it.skipIf(!present)("reads as a llama model with consistent tensor facts", async () => {
    const info = await readGguf(fixture);
    const header = await readGgufHeader(fixture);
    expect(info.architecture).toBe("llama");
    expect(info.context_length).toBeGreaterThan(0);
    expect(info.tensor_count).toBe(header.tensors.length);
    expect(info.tensor_count).toBeGreaterThan(0);
    const product = header.tensors.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
    expect(info.parameter_count).toBe(product);
    for (const t of header.tensors) {
      expect(t.bytes).toBe(tensorBytes(t.type, t.dims));
      expect(header.data_offset + t.offset + (t.bytes ?? 0)).toBeLessThanOrEqual(info.file_size);
    }
    expect(info.quantization).toBeDefined();
  });

  it.runIf(!present)(
    "is skipped: ../shared/fixtures/tiny-llama-random.gguf is not next to the repository",
    () => {
      expect(present).toBe(false);
    },
  );
});
