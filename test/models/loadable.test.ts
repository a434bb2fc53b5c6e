/**
 * Model facts that match the launch: vocabulary size, tensor data apart from the file, and what llama.cpp's
 * loader (b4748) would refuse, so inspect, fit and reload say "not loadable" instead of starting a backend
 * that dies of SIGABRT.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_CONTEXT,
  estimateMemory,
  fitOn,
  launchContext,
} from "../../adapters/shared/gguf/estimate.js";
import { llamaCppLoadProblems } from "../../adapters/shared/gguf/load-problems.js";
import { readGguf } from "../../adapters/shared/gguf/reader.js";
import { type GgufTypedValue, type TinyGgufOptions, writeTinyGguf } from "../support/gguf-writer.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-loadable-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TOKENS: GgufTypedValue = {
  type: "array",
  item_type: "string",
  items: ["<unk>", "a", "b"].map((value): GgufTypedValue => ({ type: "string", value })),
};

function complete(over: TinyGgufOptions = {}): TinyGgufOptions {
  return {
    loaderKeys: false,
    context_length: 512,
    embedding_length: 8,
    block_count: 2,
    head_count: 2,
    head_count_kv: 2,
    ...over,
    extraMetadata: {
      "llama.attention.layer_norm_rms_epsilon": { type: "float32", value: 1e-5 },
      "tokenizer.ggml.model": "llama",
      "tokenizer.ggml.tokens": TOKENS,
      ...over.extraMetadata,
    },
  };
}

async function write(name: string, opts: TinyGgufOptions): Promise<string> {
  const file = path.join(dir, name);
  await writeTinyGguf(file, opts);
  return file;
}

describe("llama.cpp's loader requirements", () => {
  it("a complete llama GGUF has no load problems, a vocabulary size and tensor bytes below the file size", async () => {
    const info = await readGguf(await write("ok.gguf", complete()));
    expect(info.load_problems).toEqual([]);
    expect(info.vocab_size).toBe(3);
    // One F32 token_embd of 8 × 16 = 512 bytes; the file adds the header and metadata.
    expect(info.tensor_data_bytes).toBe(512);
    expect(info.file_size).toBeGreaterThan(512);
  });

  it("names the missing key a llama GGUF needs, and the estimate then fits nowhere", async () => {
    const opts = complete();
    const extra = { ...opts.extraMetadata };
    delete extra["llama.attention.layer_norm_rms_epsilon"];
    const info = await readGguf(await write("no-eps.gguf", { ...opts, extraMetadata: extra }));
    expect(info.load_problems).toEqual(["missing llama.attention.layer_norm_rms_epsilon"]);
    const verdict = fitOn(estimateMemory(info), { kind: "cpu", available_bytes: 64 * 1024 ** 3 });
    expect(verdict.fits).toBe(false);
    expect(verdict.reason).toBe("not loadable: missing llama.attention.layer_norm_rms_epsilon");
  });

  it("refuses an architecture the loader does not know", async () => {
    const info = await readGguf(await write("llamb.gguf", complete({ architecture: "llamb" })));
    expect(info.load_problems).toEqual(['unknown architecture "llamb" (llama.cpp b4748 does not load it)']);
  });

  it("lists every missing required key, in the loader's order", () => {
    expect(llamaCppLoadProblems("llama", () => false)).toEqual([
      "missing llama.context_length",
      "missing llama.embedding_length",
      "missing llama.block_count",
      "missing llama.attention.layer_norm_rms_epsilon",
      "missing tokenizer.ggml.model",
      "missing tokenizer.ggml.tokens",
    ]);
    expect(llamaCppLoadProblems(undefined, () => true)).toEqual(["missing general.architecture"]);
    expect(llamaCppLoadProblems("qwen2", (k) => k !== "qwen2.block_count")).toEqual([
      "missing qwen2.block_count",
    ]);
  });
});

describe("the context the launch passes is the one estimated", () => {
  it("configured, else the training context capped at the default", () => {
    expect(launchContext({ context_length: 512 })).toBe(512);
    expect(launchContext({ context_length: 131_072 })).toBe(DEFAULT_CONTEXT);
    expect(launchContext({})).toBe(DEFAULT_CONTEXT);
    expect(launchContext(undefined)).toBe(DEFAULT_CONTEXT);
    expect(launchContext({ context_length: 512 }, 2048)).toBe(2048);
  });

  it("weights are the tensor data, not the whole file", async () => {
    const info = await readGguf(await write("w.gguf", complete()));
    expect(estimateMemory(info).weights_bytes).toBe(info.tensor_data_bytes);
  });
});

describe("the shared tiny-llama fixture (written by llama.cpp's own GGUF writer)", () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const fixture = path.resolve(root, "../shared/fixtures/tiny-llama-random.gguf");
  const present = existsSync(fixture);

  it.skipIf(!present)(
    "reads 267 tokens, 465,664 bytes of tensor data in a 473,536-byte file, loadable",
    async () => {
      const info = await readGguf(fixture);
      expect(info.vocab_size).toBe(267);
      expect(info.file_size).toBe(473_536);
      expect(info.tensor_data_bytes).toBe(465_664);
      expect(info.load_problems).toEqual([]);
    },
  );

  it.runIf(!present)(
    "is skipped: ../shared/fixtures/tiny-llama-random.gguf is not next to the repository",
    () => {
      expect(present).toBe(false);
    },
  );
});
