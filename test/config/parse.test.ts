import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { formatDuration, formatSize } from "../../base/units.js";
import { BUILTIN_RUNTIME_DEFAULTS } from "../../config/defaults.js";
import { EMBEDDED_SOURCE, embeddedConfigText } from "../../config/embedded.js";
import type { ConfigIssue } from "../../config/issues.js";
import { parseConfigText } from "../../config/load.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const HOME = "/home/tester";
const BASE = "/etc/rmx";

function parse(text: string) {
  return parseConfigText(text, "rmx.yaml", BASE, { home: HOME });
}

/** The CONFIG_INVALID issues of `text`; fails the test if it parses. */
function issuesOf(text: string): Array<Omit<ConfigIssue, "file">> {
  try {
    parse(text);
  } catch (err) {
    if (!isRmxError(err, "CONFIG_INVALID")) throw err;
    const issues = err.data?.issues as ConfigIssue[];
    // The message is exactly the issues, one per line.
    expect(err.message).toBe(
      issues
        .map((i) => `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ""}${i.message}`)
        .join("\n"),
    );
    expect(issues.every((i) => i.file === "rmx.yaml")).toBe(true);
    return issues.map(({ file: _file, ...rest }) => rest);
  }
  throw new Error("expected CONFIG_INVALID");
}

function runtime(text: string, index = 0): RuntimeSpec {
  const spec = parse(text).runtimes[index];
  if (!spec) throw new Error(`no runtime ${index}`);
  return spec;
}

describe("the documented example", () => {
  it("parses into the resolved config", async () => {
    const text = await readFile(path.join(here, "example.yaml"), "utf8");
    const config = parse(text);
    expect(config).toMatchObject({
      source: "rmx.yaml",
      node_id: "my-box",
      log_level: "info",
      timezone: "Europe/Paris",
      telemetry: { health_interval_ms: 5000, sample_interval_ms: 5000 },
      ipc: { max_connections: 2048, max_line_bytes: 1048576, subscriber_queue: 1000, socket_group: "rmx" },
      policy: {
        allow_fallback: true,
        allow_remote: false,
        allow_cpu: true,
        required_sandbox: "bwrap",
        restore_after_ms: 30000,
      },
      models: [{ id: "llama-8b", path: "/models/llama-8b-q4.gguf" }],
      model_dirs: [`${HOME}/models`],
      schedule: [
        {
          id: "warm",
          cron: "0 8 * * 1-5",
          action: "start",
          runtime: "llama-8b-gpu",
          timezone: "Europe/Paris",
        },
      ],
    });
    expect(config.runtimes[0]).toEqual({
      id: "llama-8b-gpu",
      adapter: "llama.cpp",
      binary: "/opt/llama/llama-server",
      model: "llama-8b",
      args: ["-t", "8"],
      env: { FOO: "bar" },
      cwd: "/tmp",
      host: "127.0.0.1",
      port: 8081,
      hardware: "gpu:0",
      sandbox: { kind: "none" },
      auto_start: true,
      context: 4096,
      slots: 2,
      idle_ttl_ms: 15 * 60_000,
      ...BUILTIN_RUNTIME_DEFAULTS,
    });
    expect(config.runtimes[1]).toEqual({
      id: "cloud",
      adapter: "remote",
      url: "https://api.example/v1",
      api_key_env: "OPENAI_API_KEY",
      args: [],
      env: {},
      host: "127.0.0.1",
      hardware: "cpu",
      sandbox: { kind: "none" },
      auto_start: true,
      ...BUILTIN_RUNTIME_DEFAULTS,
    });
  });

  it("the built-in defaults are the documented values", () => {
    expect(BUILTIN_RUNTIME_DEFAULTS).toEqual({
      health: {
        path: "/health",
        interval_ms: 5000,
        timeout_ms: 2000,
        failure_threshold: 3,
        start_timeout_ms: 120_000,
        start_poll_initial_ms: 10,
        start_poll_max_ms: 50,
        inference: { enabled: false, interval_ms: 30_000, timeout_ms: 10_000, prompt: "Hi" },
      },
      restart_budget: { max_restarts: 3, window_seconds: 600, retry_at_reset: true },
      backoff: { initial_ms: 500, max_ms: 30_000, factor: 2, jitter: 0.2, reset_after_ms: 60_000 },
      stop: { signal: "SIGTERM", grace_ms: 10_000 },
      logs: { max_bytes: 10 * 1024 * 1024, files: 5 },
    });
  });

  it("an empty file is a valid config with no runtimes", () => {
    const config = parse("");
    expect(config.runtimes).toEqual([]);
    expect(config.log_level).toBe("info");
    expect(config.policy.restore_after_ms).toBe(30_000);
  });
});

describe("embedded default", () => {
  it("is one auto-started stub runtime, validated by the same path", () => {
    const config = parseConfigText(embeddedConfigText, EMBEDDED_SOURCE, BASE, { home: HOME });
    expect(config.source).toBe("<embedded default>");
    expect(config.runtimes).toHaveLength(1);
    expect(config.runtimes[0]).toEqual({
      id: "llama-stub",
      adapter: "llama-stub",
      args: ["--alias", "stub-model"],
      env: {},
      host: "127.0.0.1",
      hardware: "cpu",
      sandbox: { kind: "none" },
      auto_start: true,
      ...BUILTIN_RUNTIME_DEFAULTS,
    });
  });
});

describe("defaults merge: built-in ← file defaults ← runtime", () => {
  const text = `
defaults:
  health: { timeout: 3s, inference: { prompt: "Hello" } }
  restart_budget: { max_restarts: 5 }
  stop: { grace: 20s }
runtimes:
  - id: a
    adapter: llama-stub
  - id: b
    adapter: llama-stub
    health: { interval: 1s, inference: { enabled: true } }
    restart_budget: { window_seconds: 60 }
    backoff: { jitter: 0 }
    stop: { signal: SIGINT }
    logs: { max_bytes: 512KB }
`;

  it("a runtime without blocks gets built-in values overridden by the file's defaults", () => {
    const a = runtime(text, 0);
    expect(a.health).toEqual({
      ...BUILTIN_RUNTIME_DEFAULTS.health,
      timeout_ms: 3000,
      inference: { ...BUILTIN_RUNTIME_DEFAULTS.health.inference, prompt: "Hello" },
    });
    expect(a.restart_budget).toEqual({ max_restarts: 5, window_seconds: 600, retry_at_reset: true });
    expect(a.stop).toEqual({ signal: "SIGTERM", grace_ms: 20_000 });
    expect(a.backoff).toEqual(BUILTIN_RUNTIME_DEFAULTS.backoff);
  });

  it("per-runtime keys override key by key, nested blocks included", () => {
    const b = runtime(text, 1);
    expect(b.health).toEqual({
      ...BUILTIN_RUNTIME_DEFAULTS.health,
      interval_ms: 1000,
      timeout_ms: 3000,
      inference: { ...BUILTIN_RUNTIME_DEFAULTS.health.inference, enabled: true, prompt: "Hello" },
    });
    expect(b.restart_budget).toEqual({ max_restarts: 5, window_seconds: 60, retry_at_reset: true });
    expect(b.backoff).toEqual({ ...BUILTIN_RUNTIME_DEFAULTS.backoff, jitter: 0 });
    expect(b.stop).toEqual({ signal: "SIGINT", grace_ms: 20_000 });
    expect(b.logs).toEqual({ max_bytes: 512 * 1024, files: 5 });
  });

  it("runtimes do not share mutable blocks", () => {
    const config = parse(text);
    expect(config.runtimes[0]!.backoff).not.toBe(config.runtimes[1]!.backoff);
    expect(config.runtimes[0]!.health).not.toBe(BUILTIN_RUNTIME_DEFAULTS.health);
  });

  it("property: any duration and size written as a string reaches the resolved spec in ms / bytes", () => {
    fc.assert(
      fc.property(
        // Within the documented ranges (durations at most 24h, log files at least 64KB).
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.integer({ min: 64 * 1024, max: 2 ** 40 }),
        (ms, bytes) => {
          const spec = runtime(
            `runtimes:\n  - id: a\n    adapter: llama-stub\n    health: { interval: ${formatDuration(ms)} }\n    logs: { max_bytes: ${formatSize(bytes)} }\n`,
          );
          expect(spec.health.interval_ms).toBe(ms);
          expect(spec.logs.max_bytes).toBe(bytes);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("resolution of paths, models and sandboxes", () => {
  it("expands ~ and resolves relative paths against the config file's directory; bare binaries stay bare", () => {
    const config = parse(`
models:
  - { id: rel, path: models/a.gguf }
  - { id: home, path: ~/b.gguf }
model_dirs: ["~", ./more, /abs]  # a bare ~ is YAML null
runtimes:
  - { id: a, adapter: llama.cpp, binary: llama-server, model: ../c.gguf, cwd: work }
  - { id: b, adapter: command, binary: ./bin/run, model: rel }
  - { id: c, adapter: command, binary: ~/bin/run, model: ~/x.gguf }
  - { id: d, adapter: command, binary: x, sandbox: { kind: bwrap, ro_binds: [data] } }
`);
    expect(config.models).toEqual([
      { id: "rel", path: "/etc/rmx/models/a.gguf" },
      { id: "home", path: "/home/tester/b.gguf" },
    ]);
    expect(config.model_dirs).toEqual(["/home/tester", "/etc/rmx/more", "/abs"]);
    const [a, b, c, d] = config.runtimes;
    expect([a?.binary, a?.model, a?.cwd]).toEqual(["llama-server", "/etc/c.gguf", "/etc/rmx/work"]);
    expect([b?.binary, b?.model]).toEqual(["/etc/rmx/bin/run", "rel"]);
    expect([c?.binary, c?.model]).toEqual(["/home/tester/bin/run", "/home/tester/x.gguf"]);
    expect(d?.sandbox).toEqual({ kind: "bwrap", ro_binds: ["/etc/rmx/data"] });
  });

  it("a systemd-run sandbox mapping resolves sizes and quotas; env values become strings", () => {
    const spec = runtime(`
runtimes:
  - id: a
    adapter: command
    binary: /bin/true
    sandbox: { kind: systemd-run, memory_max: 8GB, cpu_quota: 200 }
    env: { N: 3, B: true, S: x }
`);
    expect(spec.sandbox).toEqual({
      kind: "systemd-run",
      memory_max_bytes: 8 * 1024 ** 3,
      cpu_quota_percent: 200,
    });
    expect(spec.env).toEqual({ N: "3", B: "true", S: "x" });
  });

  it("a remote runtime's model is the remote model name, not checked against models", () => {
    const spec = runtime(
      `runtimes: [{ id: r, adapter: remote, url: "http://127.0.0.1:9/v1", model: gpt-x }]`,
    );
    expect(spec.model).toBe("gpt-x");
  });

  it("schedules take the top-level timezone unless they set their own", () => {
    const config = parse(`
timezone: Europe/Paris
runtimes: [{ id: a, adapter: llama-stub }]
schedule:
  - { id: s1, cron: "0 8 * * 1-5", action: start, runtime: a }
  - { id: s2, cron: "0 20 * * *", action: stop, runtime: a, timezone: UTC }
`);
    expect(config.schedule.map((s) => s.timezone)).toEqual(["Europe/Paris", "UTC"]);
  });
});

describe("errors: schema problems, each with exact position and path", () => {
  it("a bad value inside a block points at its key", () => {
    expect(
      issuesOf(`runtimes:
  - id: a
    adapter: llama-stub
  - id: b
    adapter: llama-stub
    restart_budget:
      window_seconds: ten
`),
    ).toEqual([
      {
        line: 7,
        column: 7,
        path: "runtimes[1].restart_budget.window_seconds",
        message: 'expected a positive integer, got "ten"',
      },
    ]);
  });

  it("flow mappings point at the key inside the braces", () => {
    expect(issuesOf(`runtimes:\n  - { id: a, adapter: llama-stub, port: 70000 }\n`)).toEqual([
      {
        line: 2,
        column: 35,
        path: "runtimes[0].port",
        message: "expected a port number (1-65535), got 70000",
      },
    ]);
  });

  it("an unknown key is an error with a 'did you mean'", () => {
    expect(
      issuesOf(`runtimes:
  - id: a
    adapter: llama-stub
    restart_bugdet: { max_restarts: 3 }
    healht: { interval: 5s }
`),
    ).toEqual([
      {
        line: 4,
        column: 5,
        path: "runtimes[0].restart_bugdet",
        message: 'unknown key "restart_bugdet" (did you mean "restart_budget"?)',
      },
      {
        line: 5,
        column: 5,
        path: "runtimes[0].healht",
        message: 'unknown key "healht" (did you mean "health"?)',
      },
    ]);
  });

  it("unknown keys are caught at every level, and far-off names list the known keys", () => {
    expect(
      issuesOf(`loglevel: debug
defaults:
  backoff: { intial: 1s }
runtimes:
  - id: a
    adapter: command
    binary: /bin/true
    sandbox: { kind: systemd-run, memry_max: 1GB }
    health: { inference: { enabeld: true } }
zzz: 1
`),
    ).toEqual([
      { line: 1, column: 1, path: "loglevel", message: 'unknown key "loglevel" (did you mean "log_level"?)' },
      {
        line: 3,
        column: 14,
        path: "defaults.backoff.intial",
        message: 'unknown key "intial" (did you mean "initial"?)',
      },
      {
        line: 8,
        column: 35,
        path: "runtimes[0].sandbox.memry_max",
        message: 'unknown key "memry_max" (did you mean "memory_max"?)',
      },
      {
        line: 9,
        column: 28,
        path: "runtimes[0].health.inference.enabeld",
        message: 'unknown key "enabeld" (did you mean "enabled"?)',
      },
      {
        line: 10,
        column: 1,
        path: "zzz",
        message:
          'unknown key "zzz"; known keys: node_id, log_level, timezone, telemetry, ipc, policy, http, defaults, models, model_dirs, runtimes, schedule',
      },
    ]);
  });

  it("enums name the allowed values and suggest the closest", () => {
    expect(
      issuesOf(`log_level: verbose
runtimes:
  - { id: a, adapter: llama-cpp, model: x.gguf }
  - { id: b, adapter: llama-stub, sandbox: bwrp }
  - { id: c, adapter: llama-stub, stop: { signal: TERM } }
`),
    ).toEqual([
      {
        line: 1,
        column: 1,
        path: "log_level",
        message: 'expected one of trace, debug, info, warn, error, fatal, got "verbose"',
      },
      {
        line: 3,
        column: 14,
        path: "runtimes[0].adapter",
        message:
          'expected one of llama.cpp, llama-stub, command, remote, whisper.cpp, vllm, onnxruntime, got "llama-cpp" (did you mean "llama.cpp"?)',
      },
      {
        line: 4,
        column: 35,
        path: "runtimes[1].sandbox",
        message:
          'expected one of none, bwrap, systemd-run, or a mapping with kind, got "bwrp" (did you mean "bwrap"?)',
      },
      {
        line: 5,
        column: 43,
        path: "runtimes[2].stop.signal",
        message: 'expected one of SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGKILL, got "TERM"',
      },
    ]);
  });

  it("durations, sizes, hardware, ids and types have precise messages", () => {
    expect(
      issuesOf(`telemetry:
  health_interval: 0s
  sample_interval: 5 seconds
ipc: { max_line_bytes: 10 MiBs, max_connections: -1 }
runtimes:
  - id: -bad
    adapter: llama-stub
    hardware: tpu
    auto_start: "yes"
    args: -t 8
    backoff: { jitter: 2, factor: 0.5 }
`),
    ).toEqual([
      {
        line: 2,
        column: 3,
        path: "telemetry.health_interval",
        message:
          'expected a positive duration (milliseconds, or a string like 250ms, 5s, 10m, 2h, 1d), got "0s"',
      },
      {
        line: 3,
        column: 3,
        path: "telemetry.sample_interval",
        message:
          'expected a positive duration (milliseconds, or a string like 250ms, 5s, 10m, 2h, 1d), got "5 seconds"',
      },
      {
        line: 4,
        column: 8,
        path: "ipc.max_line_bytes",
        message: 'expected a size (bytes, or a 1024-based string like 512KB, 10MB, 8GB), got "10 MiBs"',
      },
      { line: 4, column: 33, path: "ipc.max_connections", message: "expected a positive integer, got -1" },
      {
        line: 6,
        column: 5,
        path: "runtimes[0].id",
        message: `expected an id (letters, digits, '.', '_', '-'; at most 63; starting alphanumeric), got "-bad"`,
      },
      { line: 8, column: 5, path: "runtimes[0].hardware", message: 'expected cpu or gpu:N, got "tpu"' },
      { line: 9, column: 5, path: "runtimes[0].auto_start", message: 'expected true or false, got "yes"' },
      { line: 10, column: 5, path: "runtimes[0].args", message: 'expected a list, got "-t 8"' },
      {
        line: 11,
        column: 16,
        path: "runtimes[0].backoff.jitter",
        message: "expected a number between 0 and 1, got 2",
      },
      {
        line: 11,
        column: 27,
        path: "runtimes[0].backoff.factor",
        message: "expected a number >= 1, got 0.5",
      },
    ]);
  });

  it("a missing required key points at the nearest existing parent", () => {
    expect(
      issuesOf(`runtimes:
  - id: a
    adapter: llama-stub
  - adapter: llama-stub
    port: 9000
models:
  - id: m
`),
    ).toEqual([
      { line: 4, column: 5, path: "runtimes[1].id", message: 'missing required key "id"' },
      { line: 7, column: 5, path: "models[0].path", message: 'missing required key "path"' },
    ]);
  });

  it("wrong shapes at the top level and for lists", () => {
    expect(issuesOf("- a\n- b\n")).toEqual([
      { line: 1, column: 1, path: "(top level)", message: "expected a mapping, got a list" },
    ]);
    expect(issuesOf("runtimes:\n  id: a\n")).toEqual([
      { line: 1, column: 1, path: "runtimes", message: "expected a list, got a mapping" },
    ]);
    expect(issuesOf("runtimes:\n  - ~\n")).toEqual([
      { line: 2, column: 5, path: "runtimes[0]", message: "expected a mapping, got null" },
    ]);
  });

  it("env names are checked and quoted in paths when they are not identifiers", () => {
    expect(
      issuesOf(`runtimes:\n  - id: a\n    adapter: llama-stub\n    env: { "A.B": x, OK: [1] }\n`),
    ).toEqual([
      {
        line: 4,
        column: 12,
        path: 'runtimes[0].env["A.B"]',
        message: 'expected an environment variable name, got "A.B"',
      },
      {
        line: 4,
        column: 22,
        path: "runtimes[0].env.OK",
        message: "expected a string, number or boolean, got a list",
      },
    ]);
  });
});

describe("errors: YAML syntax", () => {
  it("names line and column", () => {
    expect(issuesOf("runtimes:\n  - id: a\n    adapter: [llama-stub\n")).toEqual([
      expect.objectContaining({ line: 4, column: 1, path: "" }),
    ]);
    // "1\n  b: 2" continues the plain scalar of `a`, which cannot hold a mapping: YAML blames column 4.
    expect(issuesOf("a: 1\n  b: 2\n")).toEqual([
      {
        line: 1,
        column: 4,
        path: "",
        message: "YAML syntax: Nested mappings are not allowed in compact mappings",
      },
      { line: 1, column: 4, path: "", message: "YAML syntax: Implicit keys need to be on a single line" },
    ]);
  });

  it("a key written twice is an error at the second one", () => {
    expect(issuesOf("log_level: info\nlog_level: debug\n")).toEqual([
      { line: 2, column: 1, path: "", message: "YAML syntax: Map keys must be unique" },
    ]);
  });
});

describe("errors: cross-field checks", () => {
  it("duplicate ids point at the duplicate", () => {
    expect(
      issuesOf(`models:
  - { id: m, path: /m.gguf }
  - { id: M, path: /n.gguf }
runtimes:
  - id: a
    adapter: llama-stub
  - id: b
    adapter: llama-stub
  - id: a
    adapter: llama-stub
schedule:
  - { id: s, cron: "0 8 * * *", action: start, runtime: a }
  - { id: s, cron: "0 9 * * *", action: stop, runtime: a }
`),
    ).toEqual([
      { line: 3, column: 7, path: "models[1].id", message: 'duplicate id "M" (already used by models[0])' },
      {
        line: 9,
        column: 5,
        path: "runtimes[2].id",
        message: 'duplicate id "a" (already used by runtimes[0])',
      },
      {
        line: 13,
        column: 7,
        path: "schedule[1].id",
        message: 'duplicate id "s" (already used by schedule[0])',
      },
    ]);
  });

  it("adapter requirements and model references", () => {
    expect(
      issuesOf(`models:
  - { id: llama-8b, path: /m.gguf }
runtimes:
  - id: a
    adapter: llama.cpp
  - id: b
    adapter: llama.cpp
    model: llama-7b
  - id: c
    adapter: command
  - id: d
    adapter: remote
  - { id: e, adapter: remote, url: "ftp://x" }
  - { id: f, adapter: llama-stub, url: "http://x", api_key_env: KEY }
  - { id: g, adapter: command, binary: /bin/x, api_key_env: KEY }
`),
    ).toEqual([
      {
        line: 4,
        column: 5,
        path: "runtimes[0].model",
        message: "adapter llama.cpp needs model (a models[].id or a path to a GGUF file)",
      },
      {
        line: 8,
        column: 5,
        path: "runtimes[1].model",
        message: `"llama-7b" is neither a models[].id (did you mean "llama-8b"?) nor a path (a path contains '/' or ends in .gguf)`,
      },
      {
        line: 9,
        column: 5,
        path: "runtimes[2].binary",
        message: "adapter command needs binary (the executable to run)",
      },
      {
        line: 11,
        column: 5,
        path: "runtimes[3].url",
        message: "adapter remote needs url (base URL of the endpoint)",
      },
      { line: 13, column: 31, path: "runtimes[4].url", message: 'expected an http(s) URL, got "ftp://x"' },
      { line: 14, column: 35, path: "runtimes[5].url", message: "url applies only to adapter remote" },
      {
        line: 15,
        column: 48,
        path: "runtimes[6].api_key_env",
        message: "api_key_env applies only to adapters llama.cpp, llama-stub, remote and vllm",
      },
    ]);
  });

  it("sandbox options must match the kind", () => {
    expect(
      issuesOf(`runtimes:
  - id: a
    adapter: llama-stub
    sandbox:
      kind: bwrap
      memory_max: 1GB
      cpu_quota: 50
  - id: b
    adapter: llama-stub
    sandbox: { kind: systemd-run, ro_binds: [/data] }
`),
    ).toEqual([
      {
        line: 6,
        column: 7,
        path: "runtimes[0].sandbox.memory_max",
        message: "memory_max applies only to kind systemd-run",
      },
      {
        line: 7,
        column: 7,
        path: "runtimes[0].sandbox.cpu_quota",
        message: "cpu_quota applies only to kind systemd-run",
      },
      {
        line: 10,
        column: 35,
        path: "runtimes[1].sandbox.ro_binds",
        message: "ro_binds applies only to kind bwrap",
      },
    ]);
  });

  it("schedules: runtime exists, cron valid, time zones valid", () => {
    expect(
      issuesOf(`timezone: Nowhere/City
runtimes: [{ id: llama, adapter: llama-stub }]
schedule:
  - { id: a, cron: "0 8 * * *", action: start, runtime: lama }
  - { id: b, cron: "99 * * * *", action: start, runtime: llama }
  - { id: c, cron: "0 8 * * *", action: stop, runtime: llama, timezone: Mars/Olympus }
`),
    ).toEqual([
      {
        line: 1,
        column: 1,
        path: "timezone",
        message: 'unknown time zone "Nowhere/City" (expected an IANA name like Europe/Paris)',
      },
      {
        line: 4,
        column: 48,
        path: "schedule[0].runtime",
        message: 'no runtime with id "lama" (did you mean "llama"?)',
      },
      {
        line: 5,
        column: 14,
        path: "schedule[1].cron",
        message: expect.stringMatching(/^invalid cron expression "99 \* \* \* \*": .+/),
      },
      { line: 6, column: 63, path: "schedule[2].timezone", message: 'unknown time zone "Mars/Olympus"' },
    ]);
  });

  it("orderings: a bad `defaults:` is reported once there; a runtime is blamed only for its own override", () => {
    expect(
      issuesOf(`defaults:
  backoff: { initial: 1m, max: 30s }
runtimes:
  - id: a
    adapter: llama-stub
  - id: b
    adapter: llama-stub
    backoff: { factor: 3 }
    health: { start_poll_initial: 5s, start_poll_max: 1s }
  - id: c
    adapter: llama-stub
    backoff: { max: 100ms }
`),
    ).toEqual([
      {
        line: 2,
        column: 14,
        path: "defaults.backoff.initial",
        message: "backoff.initial (1m) exceeds backoff.max (30s)",
      },
      {
        line: 9,
        column: 15,
        path: "runtimes[1].health.start_poll_initial",
        message: "health.start_poll_initial (5s) exceeds health.start_poll_max (1s)",
      },
      {
        line: 12,
        column: 16,
        path: "runtimes[2].backoff.max",
        message: "backoff.initial (1m) exceeds backoff.max (100ms)",
      },
    ]);
  });
});
