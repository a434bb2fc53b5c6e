import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolvePlan } from "../smoke/smoke-plan.js";

let dir: string;
let model: string;
let bin: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-smoke-plan-"));
  model = path.join(dir, "m.gguf");
  await writeFile(model, "GGUF");
  bin = path.join(dir, "bin", "llama-server");
  await mkdir(path.dirname(bin));
  await writeFile(bin, "#!/bin/sh\n");
  await chmod(bin, 0o755);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function message(env: NodeJS.ProcessEnv): Promise<string> {
  const result = await resolvePlan({ PATH: "", ...env }, dir);
  if (result.ok) throw new Error(`expected a refusal, got a plan for ${result.plan.mode}`);
  return result.message;
}

describe("resolvePlan", () => {
  it("stub by default: the bundled stub with the budget the steps count on", async () => {
    const result = await resolvePlan({}, dir);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.plan.mode).toBe("stub");
    expect(result.plan.runtime).toMatchObject({
      id: "smoke-stub",
      adapter: "llama-stub",
      auto_start: true,
      restart_budget: { max_restarts: 3, window_seconds: 600, retry_at_reset: false },
    });
    expect(result.plan.startTimeoutMs).toBe(30_000);
  });

  it("real: the llama.cpp adapter entry a user would write, with absolute paths and the extra args last", async () => {
    const result = await resolvePlan(
      {
        MODE: "real",
        LLAMA_SERVER_BIN: "bin/llama-server",
        LLAMA_MODEL_PATH: "m.gguf",
        LLAMA_SERVER_ARGS: `-c 2048 --alias "a b"`,
        LLAMA_SERVER_PORT: "8099",
        SMOKE_START_TIMEOUT: "900",
      },
      dir,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.plan.runtime).toMatchObject({
      id: "smoke-llama",
      adapter: "llama.cpp",
      binary: bin,
      model,
      args: ["-c", "2048", "--alias", "a b"],
      port: 8099,
      health: { start_timeout: "900s" },
    });
    expect(result.plan.binary).toBe(bin);
    expect(result.plan.expect).toEqual({
      modelPath: model,
      extraArgs: ["-c", "2048", "--alias", "a b"],
      port: 8099,
    });
    expect(result.plan.startTimeoutMs).toBe(900_000);
  });

  it("real without LLAMA_SERVER_BIN: llama-server from PATH, and no binary key (the adapter's own default)", async () => {
    const result = await resolvePlan({ MODE: "real", LLAMA_MODEL_PATH: model, PATH: path.dirname(bin) }, dir);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.plan.runtime).not.toHaveProperty("binary");
    expect(result.plan.runtime).not.toHaveProperty("port");
    expect(result.plan.binary).toBe(bin);
  });

  it("refuses, with what to do, everything a user must fix first", async () => {
    expect(await message({ MODE: "real" })).toMatch(
      /^MODE=real needs LLAMA_MODEL_PATH: the path of a GGUF model file/,
    );
    expect(await message({ MODE: "real", LLAMA_MODEL_PATH: "  " })).toMatch(/needs LLAMA_MODEL_PATH/);
    expect(await message({ MODE: "real", LLAMA_MODEL_PATH: "nope.gguf" })).toBe(
      `LLAMA_MODEL_PATH=nope.gguf: no such file (${path.join(dir, "nope.gguf")})`,
    );
    expect(await message({ MODE: "real", LLAMA_MODEL_PATH: dir })).toBe(
      `LLAMA_MODEL_PATH=${dir}: not a file (${dir})`,
    );
    expect(await message({ MODE: "real", LLAMA_MODEL_PATH: model })).toMatch(
      /^MODE=real: binary not found: llama-server .*set LLAMA_SERVER_BIN to llama-server's path, or put llama-server on PATH$/,
    );
    expect(
      await message({ MODE: "real", LLAMA_MODEL_PATH: model, LLAMA_SERVER_BIN: "/nowhere/llama-server" }),
    ).toMatch(/^MODE=real: binary not found: \/nowhere\/llama-server/);
    expect(
      await message({
        MODE: "real",
        LLAMA_MODEL_PATH: model,
        LLAMA_SERVER_BIN: bin,
        LLAMA_SERVER_ARGS: "'x",
      }),
    ).toBe("LLAMA_SERVER_ARGS: unterminated single quote at character 1");
    for (const port of ["0", "65536", "80a", "-1"]) {
      expect(
        await message({
          MODE: "real",
          LLAMA_MODEL_PATH: model,
          LLAMA_SERVER_BIN: bin,
          LLAMA_SERVER_PORT: port,
        }),
      ).toBe(`LLAMA_SERVER_PORT=${port}: expected a port number from 1 to 65535`);
    }
    expect(await message({ MODE: "fast" })).toBe("MODE=fast: expected stub or real");
    expect(await message({ SMOKE_START_TIMEOUT: "2m" })).toBe(
      "SMOKE_START_TIMEOUT=2m: expected a whole number of seconds",
    );
  });
});
