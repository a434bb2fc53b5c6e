/**
 * The swap-group setup both swap tests use: a real rmxd with a fake nvidia-smi (gpu:0, 24 GiB) and two stub
 * runtimes, a and b, whose GGUF estimates (~14.8 GiB each) cannot both fit.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { writeFakeNvidiaSmi } from "../hardware/fake-nvidia.js";
import { tempDir } from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";
import { type Gateway, startGateway } from "./support.js";

/** 100 layers × ctx 4096 × 64 KV heads × 128 dims × f16: a 13.4 GB KV cache, 14.8 GB with overhead. */
const BIG = {
  block_count: 100,
  embedding_length: 8192,
  head_count: 64,
  head_count_kv: 64,
  context_length: 4096,
};

/** Starts it; `head` is config text put before `runtimes:` (an `http:` block, say). */
export async function startSwapGateway(opts: {
  prefix: string;
  tokensPerSecond: number;
  head?: string;
}): Promise<{ g: Gateway; dir: string }> {
  const dir = await tempDir(opts.prefix);
  const fake = path.join(dir, "fake-bin");
  await fs.mkdir(fake);
  await writeFakeNvidiaSmi(fake, "ok");
  await writeTinyGguf(path.join(dir, "a.gguf"), { ...BIG, name: "A" });
  await writeTinyGguf(path.join(dir, "b.gguf"), { ...BIG, name: "B" });
  const rt = (id: string) => `
  - id: ${id}
    adapter: llama-stub
    model: ${JSON.stringify(path.join(dir, `${id}.gguf`))}
    hardware: gpu:0
    auto_start: false
    args: ["--alias", "${id}", "--stub-tokens-per-second", "${opts.tokensPerSecond}", "--exit-clean-on-term"]`;
  const g = await startGateway({
    env: { PATH: `${fake}${path.delimiter}${process.env.PATH ?? ""}` },
    config: `${opts.head ?? ""}runtimes:${rt("a")}${rt("b")}\n`,
    dir,
  });
  return { g, dir };
}
