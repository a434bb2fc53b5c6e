/** The whisper.cpp launch plan: whisper-server's command line, placement, and flags it would exit 0 on. */
import { describe, expect, it } from "vitest";
import { whisperCppAdapter } from "../../adapters/whisper-cpp/adapter.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";

const ctx = {
  port: 8123,
  host: "127.0.0.1",
  modelPath: "/m/ggml-tiny.bin",
  hardware: { id: "cpu", kind: "cpu" as const },
  stubEntry: "",
};

describe("whisper.cpp plan", () => {
  it("launches -m MODEL --host H --port P, threads, --no-gpu on cpu, then args", () => {
    const spec = {
      ...defaultRuntimeSpec("asr"),
      adapter: "whisper.cpp" as const,
      binary: "/opt/whisper-server",
      threads: 4,
      args: ["-l", "auto"],
    };
    const plan = whisperCppAdapter.plan(spec, ctx);
    expect(plan.command).toBe("/opt/whisper-server");
    expect(plan.args).toEqual([
      "-m",
      "/m/ggml-tiny.bin",
      "--host",
      "127.0.0.1",
      "--port",
      "8123",
      "-t",
      "4",
      "--no-gpu",
      "-l",
      "auto",
    ]);
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe("");
    const gpu = whisperCppAdapter.plan(spec, {
      ...ctx,
      hardware: { id: "gpu:1", kind: "gpu", index: 1, vendor: "nvidia" },
    });
    expect(gpu.args).not.toContain("--no-gpu");
    expect(gpu.env.CUDA_VISIBLE_DEVICES).toBe("1");
  });

  it("refuses a flag whisper-server does not know (it would exit 0) and a missing model", () => {
    const spec = { ...defaultRuntimeSpec("asr"), adapter: "whisper.cpp" as const, args: ["--no-such-flag"] };
    expect(() => whisperCppAdapter.plan(spec, ctx)).toThrow(
      /"--no-such-flag", which whisper-server does not accept/,
    );
    const { modelPath: _drop, ...noModel } = ctx;
    expect(() => whisperCppAdapter.plan({ ...spec, args: [] }, noModel)).toThrow(/needs a model/);
  });
});
