/** `rmx models inspect` reads the file itself: no daemon anywhere in these tests. */
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelInspectResult } from "../../ipc/protocol/models.js";
import { runCli, tempDir } from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";

let dir: string;
let env: Record<string, string>;
let model: string;

beforeAll(async () => {
  dir = await tempDir("rmx-matrix-cli-");
  // Nothing listens here: any attempt to reach a daemon would fail with exit code 4.
  env = { RMX_SOCKET: path.join(dir, "nobody.sock") };
  model = path.join(dir, "small.gguf");
  await writeTinyGguf(model, {
    name: "Small Test",
    block_count: 4,
    embedding_length: 256,
    head_count: 8,
    head_count_kv: 2,
    context_length: 2048,
    file_type: 1,
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("rmx models inspect FILE (no daemon)", () => {
  it("prints the GGUF facts, the estimate and the fit on this machine", async () => {
    const r = await runCli(["models", "inspect", model], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`${model}  (Small Test)`);
    expect(lines[1]).toBe(
      "  llama, 4.1K parameters, F16, trained context 2048, 4 layers, embedding 256, 8 heads (2 KV), vocabulary 3, 1 tensors, tensor data 16.0 KiB of a 16.6 KiB file, GGUF v3",
    );
    expect(lines[2]).toMatch(
      /^ {2}needs weights .* \+ KV 2\.0 MiB \(2 × 4 layers × ctx 2048 × 2 KV heads × 32 dims × 2 bytes f16\)/,
    );
    expect(lines[3]).toMatch(/^ {2}cpu: fits - needs .*, cpu has .* available$/);
  });

  it("--json and --context", async () => {
    const r = await runCli(["models", "inspect", model, "--context", "512", "--json"], { env });
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as ModelInspectResult;
    expect(parsed.info).toMatchObject({
      block_count: 4,
      head_count_kv: 2,
      quantization: "F16",
      name: "Small Test",
    });
    expect(parsed.estimate).toMatchObject({
      context: 512,
      kv_cache_bytes: 2 * 4 * 512 * 32 * 2 * 2,
      kv_known: true,
    });
    expect(parsed.fit.cpu?.fits).toBe(true);
  });

  it("a missing file, a non-GGUF file, a truncated one: a clear error and exit 1, never a crash", async () => {
    const missing = await runCli(["models", "inspect", path.join(dir, "absent.gguf")], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `rmx: model file ${path.join(dir, "absent.gguf")} does not exist [MODEL_MISSING]\n`,
    );

    const text = path.join(dir, "readme.gguf");
    await writeFile(text, "hello, I am not a model\n");
    const invalid = await runCli(["models", "inspect", text], { env });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^rmx: model file .*readme\.gguf .*\[MODEL_INVALID\]\n$/);

    const truncated = path.join(dir, "cut.gguf");
    const { readFile } = await import("node:fs/promises");
    await writeFile(truncated, (await readFile(model)).subarray(0, 40));
    const cut = await runCli(["models", "inspect", truncated], { env });
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/\[MODEL_INVALID\]\n$/);
  });

  it("usage errors: no FILE, a bad --context", async () => {
    const none = await runCli(["models", "inspect"], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("missing argument FILE for rmx models inspect");
    const bad = await runCli(["models", "inspect", model, "--context", "lots"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('flag --context needs a positive whole number of tokens (got "lots")');
  });

  it("the daemon commands say the daemon is not running (exit 4)", async () => {
    for (const args of [["matrix"], ["hardware"], ["models"]]) {
      const r = await runCli(args, { env });
      expect(r.code, args.join(" ")).toBe(4);
      expect(r.stderr).toMatch(/rmxd is not running/);
    }
  });

  it("help lists the commands and their flags", async () => {
    const root = await runCli(["--help"], { env });
    expect(root.stdout).toMatch(/^ {2}matrix +Show the runtime matrix/m);
    expect(root.stdout).toMatch(/^ {2}models inspect +Read a GGUF file here/m);
    const matrix = await runCli(["matrix", "--help"], { env });
    expect(matrix.stdout).toContain("usage: rmx matrix [--list]");
  });
});
