import { describe, expect, it } from "vitest";
import { parseStubOptions } from "../../adapters/llama-stub/options.js";
import { isRmxError } from "../../base/errors.js";

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseStubOptions(argv, env);

function parseError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parse(argv, env);
  } catch (err) {
    expect(isRmxError(err, "CONFIG_INVALID")).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`expected ${argv.join(" ")} to be rejected`);
}

describe("stub command line", () => {
  it("has llama-server's defaults", () => {
    expect(parse([])).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      ctxSize: 4096,
      parallel: 1,
      metrics: false,
      slots: false,
      logDisable: false,
      loadMs: 0,
      bindAfterLoad: false,
      exitCode: 1,
      tokensPerSecond: 200,
      chattyBytesPerSec: 0,
    });
  });

  it("reads every llama-server flag in short and long form", () => {
    const short = parse(["-m", "/m.gguf", "-c", "512", "-np", "3", "-t", "2", "-ngl", "99", "-a", "tiny"]);
    const long = parse([
      "--model",
      "/m.gguf",
      "--ctx-size",
      "512",
      "--parallel",
      "3",
      "--threads",
      "2",
      "--n-gpu-layers",
      "99",
      "--alias",
      "tiny",
    ]);
    for (const o of [short, long]) {
      expect(o).toMatchObject({ model: "/m.gguf", ctxSize: 512, parallel: 3, threads: "2", gpuLayers: "99" });
      expect(o.alias).toBe("tiny");
    }
    expect(parse(["--gpu-layers", "5"]).gpuLayers).toBe("5");
    expect(
      parse(["--host", "0.0.0.0", "--port", "9000", "--metrics", "--slots", "--log-disable"]),
    ).toMatchObject({
      host: "0.0.0.0",
      port: 9000,
      metrics: true,
      slots: true,
      logDisable: true,
    });
    expect(parse(["--slots", "--no-slots"]).slots).toBe(false);
  });

  it("maps llama-server's special values: -c 0 is the default context, -np -1 is one slot", () => {
    expect(parse(["-c", "0"]).ctxSize).toBe(4096);
    expect(parse(["-np", "-1"]).parallel).toBe(1);
  });

  it("accepts every recorded b4748 flag with its arity, so value-taking flags consume their value", () => {
    const o = parse([
      "--flash-attn",
      "--temp",
      "0.7",
      "--seed",
      "-1",
      "--rope-scaling",
      "linear",
      "-fa",
      "--metrics",
      "--mlock",
      "--n_predict",
      "5",
      "-np",
      "2",
    ]);
    expect(o.metrics).toBe(true);
    expect(o.parallel).toBe(2);
  });

  it("refuses unknown flags, positionals and --flag=value like b4748: error: invalid argument: X", () => {
    expect(parseError(["--no-such-flag"])).toBe("error: invalid argument: --no-such-flag");
    expect(parseError(["stray-positional"])).toBe("error: invalid argument: stray-positional");
    expect(parseError(["--rope-scaling=linear"])).toBe("error: invalid argument: --rope-scaling=linear");
    expect(parseError(["-c", "notanumber"])).toMatch(
      /^error while handling argument "-c": stoi\n\nusage:\n-c, +--ctx-size N/,
    );
  });

  it("reads --api-key, --embeddings, --pooling and LLAMA_API_KEY / LLAMA_ARG_*", () => {
    expect(parse(["--api-key", "k", "--embeddings", "--pooling", "mean"])).toMatchObject({
      apiKey: "k",
      embeddings: true,
      pooling: "mean",
    });
    expect(parse([], { LLAMA_API_KEY: "env", LLAMA_ARG_CTX_SIZE: "1024" })).toMatchObject({
      apiKey: "env",
      ctxSize: 1024,
    });
    expect(parse(["--api-key", "flag"], { LLAMA_API_KEY: "env" }).apiKey).toBe("flag");
    expect(parse(["--help"]).action).toBe("help");
    expect(parse(["--version"]).action).toBe("version");
    expect(parse(["--exit-clean-on-term"]).exitCleanOnTerm).toBe(true);
  });

  it("reads every fault flag", () => {
    const o = parse([
      "--stub-load-ms",
      "250",
      "--stub-bind-after-load",
      "--stub-crash-after-ms",
      "100",
      "--stub-exit-code",
      "7",
      "--stub-exit-signal",
      "hup",
      "--stub-fail-inference",
      "--stub-fail-inference-after",
      "3",
      "--stub-hang-after-ms=0",
      "--stub-ignore-sigterm",
      "--stub-chatty-bytes-per-sec",
      "max",
      "--stub-grandchild",
      "--stub-tokens-per-second",
      "12.5",
      "--stub-fail-health",
    ]);
    expect(o).toMatchObject({
      loadMs: 250,
      bindAfterLoad: true,
      crashAfterMs: 100,
      exitCode: 7,
      exitSignal: "SIGHUP",
      failInference: true,
      failInferenceAfter: 3,
      hangAfterMs: 0,
      ignoreSigterm: true,
      chattyBytesPerSec: "max",
      grandchild: true,
      tokensPerSecond: 12.5,
      failHealth: true,
    });
    expect(parse(["--stub-chatty-bytes-per-sec", "4096"]).chattyBytesPerSec).toBe(4096);
    expect(parse(["--stub-fail-inference=false"]).failInference).toBe(false);
  });

  it("reads faults from RMX_STUB_* and lets the command line win", () => {
    const env = {
      RMX_STUB_LOAD_MS: "900",
      RMX_STUB_FAIL_INFERENCE: "1",
      RMX_STUB_EXIT_SIGNAL: "SIGKILL",
      RMX_STUB_TOKENS_PER_SECOND: "50",
      RMX_STUB_GRANDCHILD: "",
    };
    expect(parse([], env)).toMatchObject({
      loadMs: 900,
      failInference: true,
      exitSignal: "SIGKILL",
      tokensPerSecond: 50,
      grandchild: false,
    });
    expect(parse(["--stub-load-ms", "5"], env).loadMs).toBe(5);
  });

  it("rejects bad values and unknown --stub-* flags with a message naming the flag", () => {
    expect(parseError(["--port", "http"])).toContain("--port");
    expect(parseError(["--port", "70000"])).toContain("65535");
    expect(parseError(["-c"])).toContain("-c needs a value");
    expect(parseError(["--stub-load-ms", "-5"])).toContain("--stub-load-ms");
    expect(parseError(["--stub-exit-code", "300"])).toContain("255");
    expect(parseError(["--stub-exit-signal", "SIGNOPE"])).toContain("unknown signal");
    expect(parseError(["--stub-tokens-per-second", "0"])).toContain("positive");
    expect(parseError(["--stub-fail-inference=maybe"])).toContain("true or false");
    expect(parseError(["--stub-crash-after", "5"])).toContain("unknown stub flag --stub-crash-after");
    expect(parseError([], { RMX_STUB_LOAD_MS: "soon" })).toContain("RMX_STUB_LOAD_MS");
  });
});
