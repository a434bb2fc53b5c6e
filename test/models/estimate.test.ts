import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CONTEXT,
  estimateMemory,
  fitOn,
  OVERHEAD_FRACTION,
} from "../../adapters/shared/gguf/estimate.js";
import type { GgufInfo } from "../../adapters/shared/gguf/reader.js";
import { formatBytes } from "../../base/format.js";

const GiB = 1024 ** 3;

/** A Llama-3-8B-like Q4_K_M: 32 layers, 4096 wide, 32 heads, 8 KV heads (GQA). */
const llama8b: GgufInfo = {
  path: "/models/llama-3-8b-q4_k_m.gguf",
  file_size: 4_920_000_000,
  version: 3,
  architecture: "llama",
  context_length: 8192,
  embedding_length: 4096,
  block_count: 32,
  head_count: 32,
  head_count_kv: 8,
  file_type: 15,
  quantization: "Q4_K_M",
  tensor_count: 291,
  parameter_count: 8_030_261_248,
  metadata_keys: 24,
};

describe("estimateMemory", () => {
  it("weights + f16 KV (2 × layers × ctx × head_dim × kv_heads × 2) + the overhead fraction", () => {
    const est = estimateMemory(llama8b, { context: 4096 });
    expect(est.weights_bytes).toBe(4_920_000_000);
    expect(est.kv_cache_bytes).toBe(2 * 32 * 4096 * 128 * 8 * 2);
    expect(est.kv_cache_bytes).toBe(0.5 * GiB);
    expect(est.overhead_bytes).toBe(Math.round((4_920_000_000 + 0.5 * GiB) * OVERHEAD_FRACTION));
    expect(est.total_bytes).toBe(est.weights_bytes + est.kv_cache_bytes + est.overhead_bytes);
    expect(est.context).toBe(4096);
    expect(est.explanation).toBe(
      "weights 4.6 GiB + KV 512.0 MiB (2 × 32 layers × ctx 4096 × 8 KV heads × 128 dims × 2 bytes f16) + " +
        "overhead 520.4 MiB (10%) = 5.6 GiB",
    );
  });

  it("KV grows linearly with context; slots share the context and do not multiply it", () => {
    const at4k = estimateMemory(llama8b, { context: 4096 });
    const at8k = estimateMemory(llama8b, { context: 8192 });
    expect(at8k.kv_cache_bytes).toBe(2 * at4k.kv_cache_bytes);
    const slotted = estimateMemory(llama8b, { context: 4096, slots: 4 });
    expect(slotted.kv_cache_bytes).toBe(at4k.kv_cache_bytes);
    expect(slotted.explanation).toContain("ctx shared by 4 slots");
  });

  it("defaults the context to the model's, capped at llama-server's default", () => {
    expect(estimateMemory(llama8b).context).toBe(DEFAULT_CONTEXT);
    expect(estimateMemory({ ...llama8b, context_length: 512 }).context).toBe(512);
    const { context_length: _, ...noContext } = llama8b;
    expect(estimateMemory(noContext).context).toBe(DEFAULT_CONTEXT);
  });

  it("without head counts the KV term is unknown and says so", () => {
    const { head_count: _h, head_count_kv: _k, ...partial } = llama8b;
    const est = estimateMemory(partial, { context: 4096 });
    expect(est.kv_known).toBe(false);
    expect(est.kv_cache_bytes).toBe(0);
    expect(est.explanation).toContain("KV unknown");
  });

  it("property: the total is the sum of its parts and never below the weights", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 128 }),
        fc
          .integer({ min: 1, max: 64 })
          .chain((heads) =>
            fc.tuple(
              fc.constant(heads),
              fc.integer({ min: 1, max: heads }),
              fc.integer({ min: 1, max: 256 }),
            ),
          ),
        fc.integer({ min: 1, max: 1 << 20 }),
        (size, layers, [heads, kvHeads, headDim], context) => {
          const est = estimateMemory(
            {
              ...llama8b,
              file_size: size,
              block_count: layers,
              head_count: heads,
              head_count_kv: kvHeads,
              embedding_length: heads * headDim,
            },
            { context },
          );
          expect(est.kv_cache_bytes).toBe(4 * layers * context * headDim * kvHeads);
          expect(est.total_bytes).toBe(est.weights_bytes + est.kv_cache_bytes + est.overhead_bytes);
          expect(est.total_bytes).toBeGreaterThanOrEqual(size);
        },
      ),
    );
  });
});

describe("fitOn", () => {
  const est = estimateMemory(llama8b, { context: 4096 });

  it("fits a GPU with enough VRAM, with the numbers in the reason", () => {
    const verdict = fitOn(est, { kind: "gpu", vram_bytes: 8 * GiB, id: "gpu:0" });
    expect(verdict).toEqual({
      fits: true,
      need_bytes: est.total_bytes,
      available_bytes: 8 * GiB,
      reason:
        "needs 5.6 GiB (weights 4.6 GiB + KV 512.0 MiB at ctx 4096 + overhead 520.4 MiB), gpu:0 has 8.0 GiB",
    });
  });

  it("does not fit a smaller GPU", () => {
    const verdict = fitOn(est, { kind: "gpu", vram_bytes: 4 * GiB, id: "gpu:1" });
    expect(verdict.fits).toBe(false);
    expect(verdict.reason).toMatch(/^needs 5\.6 GiB .*, gpu:1 has 4\.0 GiB$/);
  });

  it("is unknown when the GPU's VRAM is unknown", () => {
    const verdict = fitOn(est, { kind: "gpu", id: "gpu:0" });
    expect(verdict.fits).toBe("unknown");
    expect(verdict.reason).toContain("gpu:0 memory size is unknown");
  });

  it("checks the CPU against available memory", () => {
    expect(fitOn(est, { kind: "cpu", available_bytes: 16 * GiB }).reason).toContain(
      "cpu has 16.0 GiB available",
    );
    expect(fitOn(est, { kind: "cpu", available_bytes: 2 * GiB }).fits).toBe(false);
    expect(fitOn(est, { kind: "cpu", available_bytes: est.total_bytes }).fits).toBe(true);
  });
});

describe("formatBytes", () => {
  it("picks a unit that keeps tiny models readable", () => {
    expect(formatBytes(5.1 * GiB)).toBe("5.1 GiB");
    expect(formatBytes(256 * 1024)).toBe("256.0 KiB");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.0 MiB");
    expect(formatBytes(12)).toBe("12 B");
  });
});
