import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { commandAdapter } from "../../adapters/command/adapter.js";
import { llamaCppAdapter, llamaServerArgs } from "../../adapters/llama-cpp/adapter.js";
import { llamaStubAdapter } from "../../adapters/llama-stub/adapter.js";
import { stubEntryPath } from "../../adapters/llama-stub/stub-path.js";
import { getAdapter } from "../../adapters/registry.js";
import { openAiBase, remoteAdapter } from "../../adapters/remote/adapter.js";
import { placementEnv } from "../../adapters/shared/placement.js";
import { type ErrorCode, isRmxError } from "../../base/errors.js";
import type { AdapterKind } from "../../base/spec.js";
import { CPU, gpu, launchContext, runtimeSpec } from "./spec-fixture.js";

function expectRmxError(fn: () => unknown, code: ErrorCode, fragment: string): void {
  try {
    fn();
  } catch (err) {
    expect(isRmxError(err, code), String(err)).toBe(true);
    expect((err as Error).message).toContain(fragment);
    return;
  }
  throw new Error(`expected RmxError ${code}`);
}

const savedBin = process.env.LLAMA_SERVER_BIN;
afterEach(() => {
  if (savedBin === undefined) delete process.env.LLAMA_SERVER_BIN;
  else process.env.LLAMA_SERVER_BIN = savedBin;
});

describe("llama.cpp launch plan", () => {
  it("builds llama-server's arguments with the user's args last, and pins gpu:N on NVIDIA", () => {
    const spec = runtimeSpec({
      binary: "/usr/local/bin/llama-server",
      context: 8192,
      slots: 4,
      args: ["--flash-attn", "-ngl", "20"],
      hardware: "gpu:1",
    });
    const plan = llamaCppAdapter.plan(
      spec,
      launchContext({ port: 9001, modelPath: "/models/tiny.gguf", hardware: gpu(1) }),
    );
    expect(plan.command).toBe("/usr/local/bin/llama-server");
    expect(plan.args).toEqual([
      "-m",
      "/models/tiny.gguf",
      "--host",
      "127.0.0.1",
      "--port",
      "9001",
      "--metrics",
      "-c",
      "8192",
      "-np",
      "4",
      "-ngl",
      "999",
      "--flash-attn",
      "-ngl",
      "20",
    ]);
    expect(plan.env).toEqual({
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      CUDA_VISIBLE_DEVICES: "1",
      GGML_VK_VISIBLE_DEVICES: "1",
    });
    expect(plan.cwd).toBeUndefined();
  });

  it("keeps a cpu runtime off every GPU: -ngl 0 and CUDA devices hidden", () => {
    const plan = llamaCppAdapter.plan(runtimeSpec({ gpu_layers: 33 }), launchContext());
    expect(plan.args).toEqual(["--host", "127.0.0.1", "--port", "18080", "--metrics", "-ngl", "0"]);
    expect(plan.env).toEqual({ CUDA_VISIBLE_DEVICES: "" });
  });

  it("uses gpu_layers on a GPU and lets spec.env and cwd through, the user's env winning", () => {
    const spec = runtimeSpec({
      gpu_layers: 12,
      env: { GGML_VK_VISIBLE_DEVICES: "0", LLAMA_ARG_X: "1" },
      cwd: "/srv",
    });
    const plan = llamaCppAdapter.plan(spec, launchContext({ hardware: gpu(3, "intel") }));
    expect(plan.args.slice(-2)).toEqual(["-ngl", "12"]);
    expect(plan.env).toEqual({ GGML_VK_VISIBLE_DEVICES: "0", LLAMA_ARG_X: "1" });
    expect(plan.cwd).toBe("/srv");
  });

  it("picks the binary: spec.binary, then LLAMA_SERVER_BIN, then llama-server on PATH", () => {
    delete process.env.LLAMA_SERVER_BIN;
    expect(llamaCppAdapter.plan(runtimeSpec(), launchContext()).command).toBe("llama-server");
    process.env.LLAMA_SERVER_BIN = "/opt/llama/bin/llama-server";
    expect(llamaCppAdapter.plan(runtimeSpec(), launchContext()).command).toBe("/opt/llama/bin/llama-server");
    expect(llamaCppAdapter.plan(runtimeSpec({ binary: "/x/server" }), launchContext()).command).toBe(
      "/x/server",
    );
  });

  it("always passes the context the estimate assumed: configured, else the one the daemon resolved from the model", () => {
    const args = (spec: Parameters<typeof runtimeSpec>[0], ctx: Parameters<typeof launchContext>[0]) =>
      llamaServerArgs(runtimeSpec(spec), launchContext(ctx));
    const flag = (a: string[]) => a[a.indexOf("-c") + 1];
    expect(flag(args({}, { context: 512 }))).toBe("512");
    expect(flag(args({ context: 2048 }, { context: 512 }))).toBe("2048");
    expect(args({}, {}).includes("-c")).toBe(false);
  });

  it("rejects specs it cannot launch, naming the runtime and field", () => {
    expectRmxError(
      () => llamaServerArgs(runtimeSpec({ slots: 0 }), launchContext()),
      "CONFIG_INVALID",
      "slots",
    );
    expectRmxError(
      () => llamaServerArgs(runtimeSpec({ context: 1.5 }), launchContext()),
      "CONFIG_INVALID",
      'runtime "rt": context',
    );
    expectRmxError(
      () => llamaServerArgs(runtimeSpec(), launchContext({ port: 0 })),
      "CONFIG_INVALID",
      "port",
    );
    expectRmxError(
      () => llamaServerArgs(runtimeSpec({ gpu_layers: -1 }), launchContext({ hardware: gpu(0) })),
      "CONFIG_INVALID",
      "gpu_layers",
    );
    expectRmxError(
      () => llamaCppAdapter.plan(runtimeSpec(), launchContext({ hardware: { id: "gpu", kind: "gpu" } })),
      "HARDWARE_UNKNOWN",
      'hardware target "gpu"',
    );
  });
});

describe("placement environment", () => {
  it("pins AMD through ROCr, with HIP indexing what ROCr leaves (device 0)", () => {
    expect(placementEnv(gpu(2, "amd"))).toEqual({
      ROCR_VISIBLE_DEVICES: "2",
      HIP_VISIBLE_DEVICES: "0",
      GGML_VK_VISIBLE_DEVICES: "2",
    });
  });

  it("sets only the Vulkan variable for other vendors, and reads the index from the id when absent", () => {
    expect(placementEnv({ id: "gpu:4", kind: "gpu", vendor: "apple" })).toEqual({
      GGML_VK_VISIBLE_DEVICES: "4",
    });
    expect(placementEnv({ id: "gpu:0", kind: "gpu" })).toEqual({ GGML_VK_VISIBLE_DEVICES: "0" });
    expect(placementEnv(CPU)).toEqual({ CUDA_VISIBLE_DEVICES: "" });
  });
});

describe("llama-stub launch plan", () => {
  it("runs the stub entry with this node and exactly llama.cpp's arguments", () => {
    const spec = runtimeSpec({
      adapter: "llama-stub",
      slots: 2,
      args: ["--stub-load-ms", "100"],
      binary: "/ignored",
    });
    const ctx = launchContext({ modelPath: "/m.gguf", hardware: gpu(0) });
    const plan = llamaStubAdapter.plan(spec, ctx);
    expect(plan.command).toBe(process.execPath);
    expect(plan.args).toEqual([ctx.stubEntry, ...llamaServerArgs(spec, ctx)]);
    expect(plan.args.slice(-2)).toEqual(["--stub-load-ms", "100"]);
    expect(plan.env).toEqual(llamaCppAdapter.plan(spec, ctx).env);
  });

  it("finds the compiled stub next to the build output", () => {
    const entry = stubEntryPath();
    expect(path.isAbsolute(entry)).toBe(true);
    expect(entry.endsWith(path.join("dist", "adapters", "llama-stub", "main.js"))).toBe(true);
    expect(fs.existsSync(entry)).toBe(true);
  });
});

describe("command launch plan", () => {
  it("substitutes {port}, {host} and {model}, sets PORT, and lets spec.env win", () => {
    const spec = runtimeSpec({
      adapter: "command",
      binary: "/usr/bin/whisper-server",
      args: ["--listen={host}:{port}", "--model", "{model}", "--keep-{literal}"],
      env: { PORT: "1", EXTRA: "yes" },
    });
    const plan = commandAdapter.plan(
      spec,
      launchContext({ port: 7000, modelPath: "/m/w.bin", hardware: gpu(1) }),
    );
    expect(plan.command).toBe("/usr/bin/whisper-server");
    expect(plan.args).toEqual(["--listen=127.0.0.1:7000", "--model", "/m/w.bin", "--keep-{literal}"]);
    expect(plan.env).toEqual({
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      CUDA_VISIBLE_DEVICES: "1",
      GGML_VK_VISIBLE_DEVICES: "1",
      PORT: "1",
      EXTRA: "yes",
    });
    const defaultPort = commandAdapter.plan({ ...spec, env: {} }, launchContext({ modelPath: "/m" }));
    expect(defaultPort.env.PORT).toBe("18080");
  });

  it("rejects a missing binary and a {model} placeholder without a model", () => {
    expectRmxError(
      () => commandAdapter.plan(runtimeSpec({ adapter: "command" }), launchContext()),
      "CONFIG_INVALID",
      "needs a binary",
    );
    expectRmxError(
      () =>
        commandAdapter.plan(
          runtimeSpec({ adapter: "command", binary: "x", args: ["{model}"] }),
          launchContext(),
        ),
      "CONFIG_INVALID",
      "{model}",
    );
  });

  it("reports that it has no inference probe", async () => {
    const outcome = await commandAdapter.probeInference("http://127.0.0.1:1", runtimeSpec(), 100);
    expect(outcome).toEqual({
      kind: "error",
      ms: 0,
      message: "inference probe not supported by the command adapter",
    });
  });
});

describe("remote adapter", () => {
  it("launches nothing", () => {
    expect(remoteAdapter.spawns).toBe(false);
    expectRmxError(
      () => remoteAdapter.plan(runtimeSpec({ adapter: "remote" }), launchContext()),
      "CONFIG_INVALID",
      "launches nothing",
    );
  });

  it("derives OpenAI URLs whether or not the base already ends in /v1", () => {
    expect(openAiBase("http://h:1")).toBe("http://h:1/v1");
    expect(openAiBase("http://h:1/v1/")).toBe("http://h:1/v1");
    expect(remoteAdapter.chatUrl("https://api.example.com/v1")).toBe(
      "https://api.example.com/v1/chat/completions",
    );
  });

  it("reads the API key from the named environment variable only", () => {
    const name = "RMX_TEST_REMOTE_KEY";
    const spec = runtimeSpec({ adapter: "remote", api_key_env: name });
    delete process.env[name];
    expect(remoteAdapter.authHeaders(spec)).toEqual({});
    process.env[name] = "sk-test";
    try {
      expect(remoteAdapter.authHeaders(spec)).toEqual({ authorization: "Bearer sk-test" });
      expect(remoteAdapter.authHeaders(runtimeSpec({ adapter: "remote" }))).toEqual({});
    } finally {
      delete process.env[name];
    }
  });
});

describe("registry", () => {
  it("returns the adapter of each kind", () => {
    const kinds: AdapterKind[] = ["llama.cpp", "llama-stub", "command", "remote"];
    for (const kind of kinds) expect(getAdapter(kind).kind).toBe(kind);
    expect(getAdapter("llama.cpp").chatUrl("http://h:1/")).toBe("http://h:1/v1/chat/completions");
    expect(getAdapter("remote").spawns).toBe(false);
  });

  it("rejects an unknown kind from a config file", () => {
    expectRmxError(() => getAdapter("tgi" as AdapterKind), "CONFIG_INVALID", 'unknown adapter "tgi"');
    expectRmxError(() => getAdapter("toString" as AdapterKind), "CONFIG_INVALID", "unknown adapter");
  });
});
