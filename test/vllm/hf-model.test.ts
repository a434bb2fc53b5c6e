/**
 * Hugging Face model directories: config.json facts, the llama-style parameter formula against a known model,
 * safetensors headers as the exact count, MODEL_INVALID naming file and key, the estimate's monotonicity
 * (fast-check), readModel's dispatch of a directory, and `rmx models inspect DIR`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readModel } from "../../adapters/model-formats.js";
import {
  estimateHfMemory,
  type HfModelInfo,
  kvBytesPerToken,
  parameterEstimate,
  readHfModel,
} from "../../adapters/vllm/hf/model.js";
import { runCli, tempDir } from "../support/daemon-harness.js";
import { TINY_CONFIG, writeHfDir } from "./vllm-support.js";

/** Llama-3.1-8B's config.json figures; its model card says 8.03B parameters. */
const LLAMA_3_8B = {
  num_hidden_layers: 32,
  hidden_size: 4096,
  intermediate_size: 14336,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 128,
  vocab_size: 128256,
  tie_word_embeddings: false,
};

describe("HF config.json facts", () => {
  it("reads the architecture and estimates parameters and KV bytes per token", async () => {
    const dir = await writeHfDir(path.join(await tempDir("rmx-hf-"), "tiny"));
    const info = await readHfModel(dir);
    expect(info).toMatchObject({
      format: "hf-dir",
      architectures: ["LlamaForCausalLM"],
      num_hidden_layers: 2,
      hidden_size: 64,
      num_key_value_heads: 2,
      head_dim: 16,
      dtype: "bfloat16",
      tie_word_embeddings: true,
      parameter_source: "config",
      safetensors_files: 0,
    });
    // V·h + L·(h·q + 2·h·kv + q·h + 3·h·i + 2h) + h, tied: 64000 + 2·(4096+4096+4096+49152+128) + 64
    expect(info.parameter_count).toBe(64_000 + 2 * (4096 + 2 * 64 * 32 + 4096 + 3 * 64 * 256 + 128) + 64);
    // 2 (K, V) × 2 layers × 2 KV heads × 16 head_dim × 2 bytes
    expect(info.kv_bytes_per_token).toBe(256);
  });

  it("the formula lands on a published count: Llama-3.1-8B is 8.03B", () => {
    expect(parameterEstimate(LLAMA_3_8B)).toBe(8_030_261_248);
    expect(kvBytesPerToken(LLAMA_3_8B, 2)).toBe(131_072); // 128 KiB per token in bf16
  });

  it("num_key_value_heads defaults to the attention heads; dtype is read under its new name too", async () => {
    const { num_key_value_heads: _kv, torch_dtype: _t, ...rest } = TINY_CONFIG;
    const dir = await writeHfDir(path.join(await tempDir("rmx-hf-"), "mha"), { ...rest, dtype: "float16" });
    const info = await readHfModel(dir);
    expect(info.num_key_value_heads).toBe(4);
    expect(info.dtype).toBe("float16");
  });

  it("safetensors headers give the exact parameter count across shards", async () => {
    const dir = await writeHfDir(path.join(await tempDir("rmx-hf-"), "sharded"), TINY_CONFIG, [
      [{ name: "model.embed_tokens.weight", shape: [1000, 64] }],
      [
        { name: "model.layers.0.mlp.up_proj.weight", shape: [256, 64] },
        { name: "model.norm.weight", shape: [64] },
      ],
    ]);
    const info = await readHfModel(dir);
    expect(info.parameter_source).toBe("safetensors");
    expect(info.safetensors_files).toBe(2);
    expect(info.parameter_count).toBe(64_000 + 16_384 + 64);
    expect(info.parameter_estimate).not.toBe(info.parameter_count);
  });

  it("MODEL_INVALID / MODEL_MISSING name the file and the key", async () => {
    const root = await tempDir("rmx-hf-");
    const empty = path.join(root, "empty");
    await mkdir(empty);
    await expect(readHfModel(empty)).rejects.toMatchObject({
      code: "MODEL_INVALID",
      message: `${path.join(empty, "config.json")} is missing: not a Hugging Face model directory`,
    });
    await expect(readHfModel(path.join(root, "absent"))).rejects.toMatchObject({ code: "MODEL_MISSING" });
    const bad = await writeHfDir(path.join(root, "bad"), "{ not json");
    await expect(readHfModel(bad)).rejects.toMatchObject({
      code: "MODEL_INVALID",
      message: expect.stringContaining(`${path.join(bad, "config.json")}: not valid JSON`),
    });
    const { hidden_size: _h, ...noHidden } = TINY_CONFIG;
    const missing = await writeHfDir(path.join(root, "missing"), noHidden);
    await expect(readHfModel(missing)).rejects.toMatchObject({
      code: "MODEL_INVALID",
      message: `${path.join(missing, "config.json")}: hidden_size is missing (a decoder's config.json has it)`,
      data: { key: "hidden_size" },
    });
    const shard = await writeHfDir(path.join(root, "shard"));
    await writeFile(path.join(shard, "model.safetensors"), Buffer.from([1, 2, 3]));
    await expect(readHfModel(shard)).rejects.toMatchObject({
      code: "MODEL_INVALID",
      message: expect.stringContaining(
        "model.safetensors: not a safetensors file: shorter than the 8-byte header length",
      ),
    });
  });

  it("readModel reads a directory as an HF model with its estimate at the given context", async () => {
    const dir = await writeHfDir(path.join(await tempDir("rmx-hf-"), "tiny"));
    const read = await readModel(dir, { context: 1024 });
    expect(read.format).toBe("hf-dir");
    expect(read.estimate.context).toBe(1024);
    expect(read.estimate.kv_cache_bytes).toBe(1024 * 256);
    expect((await readModel(dir)).estimate.context).toBe(2048); // vLLM's default: max_position_embeddings
  });
});

describe("HF memory estimate", () => {
  const base: HfModelInfo = {
    format: "hf-dir",
    path: "/m",
    architectures: [],
    num_hidden_layers: 1,
    hidden_size: 64,
    intermediate_size: 64,
    num_attention_heads: 1,
    num_key_value_heads: 1,
    head_dim: 64,
    vocab_size: 100,
    max_position_embeddings: 4096,
    dtype: "bfloat16",
    tie_word_embeddings: false,
    parameter_count: 0,
    parameter_source: "config",
    parameter_estimate: 0,
    safetensors_files: 0,
    kv_bytes_per_token: 0,
  };
  const model = (layers: number, heads: number, headDim: number) => {
    const arch = {
      ...base,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: heads,
      head_dim: headDim,
      hidden_size: heads * headDim,
      intermediate_size: 4 * heads * headDim,
    };
    const params = parameterEstimate(arch);
    return {
      ...arch,
      parameter_count: params,
      parameter_estimate: params,
      kv_bytes_per_token: kvBytesPerToken(arch, 2),
    };
  };

  it("grows monotonically with layers, hidden size and context", () => {
    const dims = fc.record({
      layers: fc.integer({ min: 1, max: 80 }),
      heads: fc.integer({ min: 1, max: 64 }),
      headDim: fc.constantFrom(32, 64, 128),
      context: fc.integer({ min: 1, max: 131_072 }),
    });
    fc.assert(
      fc.property(
        dims,
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom("layers", "heads", "context"),
        (d, step, axis) => {
          const before = estimateHfMemory(model(d.layers, d.heads, d.headDim), {
            context: d.context,
          }).total_bytes;
          const grown = { ...d, [axis]: d[axis] + step };
          const after = estimateHfMemory(model(grown.layers, grown.heads, grown.headDim), {
            context: grown.context,
          }).total_bytes;
          return after > before;
        },
      ),
    );
  });
});

describe("rmx models inspect DIR", () => {
  it("prints the directory's facts and estimate without the daemon", async () => {
    const dir = await writeHfDir(path.join(await tempDir("rmx-hf-"), "tiny"));
    const text = await runCli(["models", "inspect", dir, "--context", "512"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`${dir}  (Hugging Face model directory)`);
    expect(text.stdout).toContain("LlamaForCausalLM");
    expect(text.stdout).toContain("2 layers, hidden 64, intermediate 256, 4 heads (2 KV, head_dim 16)");
    expect(text.stdout).toMatch(/KV .* \(512 tokens × 256 bytes\)/);
    const json = await runCli(["models", "inspect", dir, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).info).toMatchObject({ format: "hf-dir", num_hidden_layers: 2 });
    const bad = await runCli(["models", "inspect", path.dirname(dir)]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("config.json is missing");
  });
});
