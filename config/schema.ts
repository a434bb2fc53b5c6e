/**
 * The rmx.yaml file format. Every object is strict: an unknown key is an error (with a "did you mean").
 *
 * ```yaml
 * node_id: my-box            # optional; else RMX_NODE_ID / ARW_NODE_ID / hostname
 * log_level: info            # trace | debug | info | warn | error | fatal
 * timezone: Europe/Paris     # IANA zone for schedules; default: the system's
 * telemetry: { health_interval: 5s, sample_interval: 5s }
 * ipc: { max_connections: 2048, max_line_bytes: 1MB, subscriber_queue: 1000, socket_group: rmx,
 *        max_unsent_per_connection: 8MB, max_unsent_total: 64MB, line_timeout: 10s, idle_timeout: 10m,
 *        max_batch: 100, max_json_depth: 64 }
 * policy: { allow_fallback: true, allow_remote: false, allow_cpu: true, required_sandbox: bwrap, restore_after: 30s }
 * http: { listen: 127.0.0.1:8765, auth: token, metrics_auth: token, allowed_hosts: [], cors_origins: [], max_body: 4MB,
 *         max_upload: 25MB, headers_timeout: 10s, body_timeout: 10s, start_timeout: 120s, queue: 64, upstream_timeout: 5m }
 * defaults:                  # daemon-wide defaults for every runtime; per-runtime keys override (deep merge)
 *   health: { path: /health, interval: 5s, timeout: 2s, failure_threshold: 3, start_timeout: 120s,
 *             start_poll_initial: 10ms, start_poll_max: 50ms,
 *             inference: { enabled: false, interval: 30s, timeout: 10s, prompt: "Hi" } }
 *   restart_budget: { max_restarts: 3, window_seconds: 600, retry_at_reset: true }
 *   backoff: { initial: 500ms, max: 30s, factor: 2, jitter: 0.2, reset_after: 60s }
 *   stop: { signal: SIGTERM, grace: 10s }
 *   logs: { max_bytes: 10MB, files: 5 }
 * models:
 *   - { id: llama-8b, path: /models/llama-8b-q4.gguf }
 * model_dirs: [ ~/models ]
 * runtimes:
 *   - id: llama-8b-gpu
 *     adapter: llama.cpp            # llama.cpp | llama-stub | command | remote
 *     binary: /opt/llama/llama-server   # llama.cpp: default LLAMA_SERVER_BIN, else llama-server on PATH
 *     model: llama-8b               # a models[].id or a path (required for llama.cpp)
 *     args: ["-t", "8"]
 *     env: { FOO: bar }
 *     cwd: /tmp
 *     host: 127.0.0.1               # default 127.0.0.1
 *     port: 8081                    # omitted → allocated at each start
 *     hardware: gpu:0               # cpu | gpu:N | gpu:N,M (vllm only) (default cpu)
 *     sandbox: none                 # none | bwrap | systemd-run, or { kind: systemd-run, memory_max: 8GB, cpu_quota: 200 }
 *                                   #   bwrap also takes { kind: bwrap, ro_binds: [/data] }
 *     auto_start: true              # default true: started with the daemon
 *     api_key_env: LLAMA_KEY        # llama.cpp, llama-stub, remote: the variable holding the backend's key
 *     context: 4096                 # -c
 *     gpu_layers: 99                # -ngl on gpu:N (default all)
 *     slots: 2                      # -np; also the cell's lease capacity
 *     idle_ttl: 15m                 # stop when idle this long; started again on demand
 *                                   #   (with auto_start: false, a runtime that only runs on demand)
 *     health: { ... }  restart_budget: { ... }  backoff: { ... }  stop: { ... }  logs: { ... }
 *   - { id: cloud, adapter: remote, url: "https://api.example/v1", api_key_env: OPENAI_API_KEY }
 * schedule:
 *   - { id: warm, cron: "0 8 * * 1-5", action: start, runtime: llama-8b-gpu }   # action: start | stop | restart
 * ```
 *
 * Durations: a number (milliseconds) or a string with one unit: `250ms`, `5s`, `1.5m`, `2h`, `1d`.
 * Sizes: a number (bytes) or a string `100B`, `512KB`, `10MB`, `8GB`, `1TB`; units are 1024-based
 * (`1KB` = 1024 bytes; `KiB`, `MiB`, `GiB` are accepted too) and case-insensitive.
 * `window_seconds` stays in seconds. Paths: `~` expands to the home directory; relative paths resolve against
 * the directory of the config file. A bare `binary` name (no `/`) is looked up on PATH at start.
 * Ids (runtimes, models, schedules) match `^[a-z0-9][a-z0-9._-]{0,62}$` (case-insensitive).
 *
 * Ranges (inclusive; out of range is a `file:line:col: key` error, and `rmx config schema` carries them as
 * minimum/maximum). Every duration feeds a timer and is at most 24h (Node runs a longer delay after 1 ms):
 * - durations: `telemetry.*_interval`, `health.interval|timeout|start_timeout|start_poll_initial|start_poll_max`,
 *   `health.inference.interval|timeout`, `backoff.max`, `idle_ttl`: 1ms to 24h; `backoff.initial`,
 *   `backoff.reset_after`, `stop.grace`, `policy.restore_after`: 0ms to 24h; `ipc.line_timeout`,
 *   `ipc.idle_timeout`: 100ms to 24h; `http.start_timeout`, `http.upstream_timeout`: 1ms to 24h;
 *   `http.headers_timeout`, `http.body_timeout`: 100ms to 10m.
 * - sizes: `ipc.max_line_bytes` 1KB to 256MB; `ipc.max_unsent_per_connection` 64KB to 1GB;
 *   `ipc.max_unsent_total` 64KB to 16GB; `http.max_body` 1KB to 256MB; `logs.max_bytes` 64KB to 1TB;
 *   `http.max_upload` 1KB to 1GB; `sandbox.memory_max` 1MB to 1024TB.
 * - counts: `http.queue` 1 to 100000; `ipc.max_connections` 1 to 65536; `ipc.subscriber_queue` 1 to 1000000;
 *   `ipc.max_batch` 1 to 100000; `ipc.max_json_depth` 8 to 1000; `health.failure_threshold`
 *   1 to 1000000; `restart_budget.max_restarts` 0 to 10000; `restart_budget.window_seconds` 1 to 86400;
 *   `logs.files` 1 to 100; `context` 1 to 16777216; `gpu_layers` 0 to 100000; `slots` 1 to 1024;
 *   `threads` 1 to 1024.
 * - others: `port` 1 to 65535; `http.listen`'s port 0 (any free port) to 65535; `backoff.factor` 1 to 100; `backoff.jitter` 0 to 1; `sandbox.cpu_quota` above 0,
 *   at most 100000.
 */
import * as z from "zod";
import { ADAPTER_KINDS } from "../adapters/registry.js";
import {
  DURATION_PATTERN,
  formatDuration,
  formatSize,
  parseDuration,
  parseSize,
  SIZE_PATTERN,
} from "../base/units.js";
import { LISTEN_PATTERN } from "./http-listen.js";

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** `gpu:0,1` is a GPU list (tensor parallelism); only adapters with `multiGpu` accept one (config/resolve.ts). */
export const HARDWARE_PATTERN = /^(cpu|gpu:\d{1,3}(,\d{1,3})*)$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `adapter:` values: the registry's (adapters/registry.ts). */
export const ADAPTERS = ADAPTER_KINDS;
export const SANDBOXES = ["none", "bwrap", "systemd-run"] as const;
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export const STOP_SIGNALS = [
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGHUP",
  "SIGUSR1",
  "SIGUSR2",
  "SIGKILL",
] as const;
export const SCHEDULE_ACTIONS = ["start", "stop", "restart"] as const;
export const HTTP_AUTH = ["token", "none"] as const;

// ─── Leaf builders: every leaf carries the message a user sees ("expected …"); the formatter adds "got …". ───

function bool(description: string) {
  return z.boolean({ error: "expected true or false" }).describe(description);
}

function text(description: string) {
  return z
    .string({ error: "expected a string" })
    .min(1, { error: "expected a non-empty string" })
    .describe(description);
}

function matching(pattern: RegExp, expected: string, description: string) {
  return z
    .string({ error: `expected ${expected}` })
    .regex(pattern, { error: `expected ${expected}` })
    .describe(description);
}

function id(description: string) {
  return matching(
    ID_PATTERN,
    "an id (letters, digits, '.', '_', '-'; at most 63; starting alphanumeric)",
    description,
  );
}

/** Inclusive bounds of a number, documented in the JSON Schema (minimum/maximum) and enforced here. */
interface Range {
  min: number;
  max: number;
}

function integer(description: string, range: Range, base: { error: string; min: number }) {
  const { error } = base;
  const outside = `expected an integer from ${range.min} to ${range.max}`;
  const checked = z.number({ error }).int({ error }).min(base.min, { error });
  return (range.min > base.min ? checked.min(range.min, { error: outside }) : checked)
    .max(range.max, { error: outside })
    .describe(`${description} (${range.min} to ${range.max})`);
}

function positiveInt(description: string, range: Range) {
  return integer(description, range, { error: "expected a positive integer", min: 1 });
}

function nonNegativeInt(description: string, range: Range) {
  return integer(description, range, { error: "expected an integer >= 0", min: 0 });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, description: string) {
  return z.enum(values, { error: `expected one of ${values.join(", ")}` }).describe(description);
}

/** Durations feed timers, and Node turns a delay over 2^31-1 ms into 1 ms: nothing may exceed a day. */
export const MAX_DURATION_MS = 86_400_000;
const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

function duration(description: string, opts: { positive?: boolean; min?: number; max?: number } = {}) {
  const error = opts.positive
    ? "expected a positive duration (milliseconds, or a string like 250ms, 5s, 10m, 2h, 1d)"
    : "expected a duration (milliseconds, or a string like 250ms, 5s, 10m, 2h, 1d)";
  const base = opts.positive ? 1 : 0;
  const min = opts.min ?? base;
  const max = opts.max ?? MAX_DURATION_MS;
  const outside = `expected a duration from ${formatDuration(min)} to ${formatDuration(max)}`;
  const bounded = (n: z.ZodNumber) => {
    const low = n.min(base, { error });
    return (min > base ? low.min(min, { error: outside }) : low).max(max, { error: outside });
  };
  return z
    .union([bounded(z.number({ error })), z.string({ error }).regex(DURATION_PATTERN, { error })], { error })
    .transform((value) => parseDuration(value) ?? Number.NaN)
    .pipe(bounded(z.number({ error }).int({ error })))
    .describe(`${description} (${formatDuration(min)} to ${formatDuration(max)})`);
}

function size(description: string, range: Range) {
  const error = "expected a size (bytes, or a 1024-based string like 512KB, 10MB, 8GB)";
  const outside = `expected a size from ${formatSize(range.min)} to ${formatSize(range.max)}`;
  const bounded = (n: z.ZodNumber) => {
    const low = n.min(0, { error });
    return (range.min > 0 ? low.min(range.min, { error: outside }) : low).max(range.max, { error: outside });
  };
  return z
    .union([bounded(z.number({ error })), z.string({ error }).regex(SIZE_PATTERN, { error })], { error })
    .transform((value) => parseSize(value) ?? Number.NaN)
    .pipe(bounded(z.number({ error }).int({ error })))
    .describe(`${description} (${formatSize(range.min)} to ${formatSize(range.max)})`);
}

function list<T extends z.ZodType>(item: T, description: string) {
  return z.array(item, { error: "expected a list" }).describe(description);
}

function mapping<S extends z.core.$ZodLooseShape>(shape: S, description: string) {
  return z.strictObject(shape, { error: "expected a mapping" }).describe(description);
}

/**
 * Builds the rmx.yaml schema, fresh at each call. The daemon validates its configuration at start and on
 * reload only; a schema kept in a module constant would stay resident for the daemon's life (about 3.5 MiB of
 * zod objects, closures and compiled fast paths with 50 runtimes), so each parse builds one and lets it go
 * (a few ms, next to reading and resolving the file).
 */
function buildSchemas() {
  // ─── Runtime blocks (all keys optional: they are merged over the defaults) ───

  const inferenceProbeFileSchema = mapping(
    {
      enabled: bool("Also send a one-token completion to check that inference works.").optional(),
      interval: duration("Time between inference probes.", { positive: true }).optional(),
      timeout: duration("Timeout of one inference probe.", { positive: true }).optional(),
      prompt: text("Prompt of the one-token completion.").optional(),
    },
    "Inference probe: a real one-token completion, since /health may answer 200 while inference fails.",
  );

  const healthFileSchema = mapping(
    {
      path: matching(/^\//, "an HTTP path starting with '/'", "Path probed on the backend.").optional(),
      interval: duration("Time between health probes once ready.", { positive: true }).optional(),
      timeout: duration("Timeout of one health probe.", { positive: true }).optional(),
      failure_threshold: positiveInt("Consecutive failed probes before the runtime is restarted.", {
        min: 1,
        max: 1_000_000,
      }).optional(),
      start_timeout: duration("Longest a start-up (model load) may take.", { positive: true }).optional(),
      start_poll_initial: duration("First polling interval during start-up; grows by 1.5x.", {
        positive: true,
      }).optional(),
      start_poll_max: duration("Largest polling interval during start-up.", { positive: true }).optional(),
      inference: inferenceProbeFileSchema.optional(),
    },
    "Health checking.",
  );

  const restartBudgetFileSchema = mapping(
    {
      max_restarts: nonNegativeInt("Automatic restarts allowed within the window.", {
        min: 0,
        max: 10_000,
      }).optional(),
      window_seconds: positiveInt("Length of the sliding window, in seconds.", {
        min: 1,
        max: 86_400,
      }).optional(),
      retry_at_reset: bool(
        "When exhausted, retry once when the oldest restart leaves the window.",
      ).optional(),
    },
    "Restart budget: at most max_restarts automatic restarts per window_seconds.",
  );

  const backoffFileSchema = mapping(
    {
      initial: duration("Delay before the first restart.").optional(),
      max: duration("Largest delay between restarts.", { positive: true }).optional(),
      factor: z
        .number({ error: "expected a number >= 1" })
        .min(1, { error: "expected a number >= 1" })
        .max(100, { error: "expected a number from 1 to 100" })
        .describe("Growth factor of the delay after each restart (1 to 100).")
        .optional(),
      jitter: z
        .number({ error: "expected a number between 0 and 1" })
        .min(0, { error: "expected a number between 0 and 1" })
        .max(1, { error: "expected a number between 0 and 1" })
        .describe("Random spread: the delay is multiplied by a factor in [1 - jitter, 1 + jitter] (0 to 1).")
        .optional(),
      reset_after: duration("Uptime after which the delay resets to initial.").optional(),
    },
    "Exponential backoff between restarts.",
  );

  const stopFileSchema = mapping(
    {
      signal: oneOf(STOP_SIGNALS, "Signal sent to the process group to stop it.").optional(),
      grace: duration("Time allowed to exit before SIGKILL.").optional(),
    },
    "How a runtime is stopped.",
  );

  const logsFileSchema = mapping(
    {
      max_bytes: size("Size at which a log file is rotated.", { min: 64 * KiB, max: TiB }).optional(),
      files: positiveInt("Rotated files kept.", { min: 1, max: 100 }).optional(),
    },
    "Log capture and rotation.",
  );

  const sandboxKind = oneOf(SANDBOXES, "Sandbox kind.");

  const sandboxFileSchema = z
    .union(
      [
        sandboxKind,
        mapping(
          {
            kind: sandboxKind,
            memory_max: size("systemd-run only: MemoryMax.", { min: MiB, max: 1024 * TiB }).optional(),
            cpu_quota: z
              .number({ error: "expected a positive number (percent of one core)" })
              .positive({ error: "expected a positive number (percent of one core)" })
              .max(100_000, { error: "expected a percentage above 0 and at most 100000 (1000 cores)" })
              .describe("systemd-run only: CPUQuota in percent (100 = one core; above 0, at most 100000).")
              .optional(),
            ro_binds: list(text("A path."), "bwrap only: extra read-only bind mounts.").optional(),
          },
          "Sandbox with options.",
        ),
      ],
      { error: `expected one of ${SANDBOXES.join(", ")}, or a mapping with kind` },
    )
    .describe("Sandbox the runtime runs in: none | bwrap | systemd-run, or a mapping with kind and options.");

  const runtimeFileSchema = mapping(
    {
      id: id("Unique runtime id."),
      adapter: oneOf(ADAPTERS, "Backend adapter."),
      binary: text("Executable: a path, or a bare name looked up on PATH.").optional(),
      model: text("Model: the id of an entry in models, or a path to a GGUF file.").optional(),
      args: list(z.string({ error: "expected a string" }), "Extra command-line arguments.").optional(),
      env: z
        .record(
          matching(ENV_NAME_PATTERN, "an environment variable name", "Variable name."),
          z.union([z.string(), z.number(), z.boolean()], { error: "expected a string, number or boolean" }),
          { error: "expected a mapping" },
        )
        .describe("Extra environment variables.")
        .optional(),
      cwd: text("Working directory.").optional(),
      host: text("Address the backend listens on.").optional(),
      port: z
        .number({ error: "expected a port number (1-65535)" })
        .int({ error: "expected a port number (1-65535)" })
        .min(1, { error: "expected a port number (1-65535)" })
        .max(65535, { error: "expected a port number (1-65535)" })
        .describe("Fixed port (1 to 65535); omitted: allocated at each start.")
        .optional(),
      hardware: matching(
        HARDWARE_PATTERN,
        "cpu or gpu:N",
        "Hardware: cpu or gpu:N (vllm: also a GPU list gpu:N,M).",
      ).optional(),
      sandbox: sandboxFileSchema.optional(),
      auto_start: bool("Start when the daemon starts (default true).").optional(),
      context: positiveInt("Context size (-c).", { min: 1, max: 16_777_216 }).optional(),
      gpu_layers: nonNegativeInt("Layers offloaded on gpu:N (-ngl).", { min: 0, max: 100_000 }).optional(),
      slots: positiveInt("Parallel slots (-np); also the lease capacity.", { min: 1, max: 1024 }).optional(),
      threads: positiveInt("whisper.cpp: compute threads (-t).", { min: 1, max: 1024 }).optional(),
      idle_ttl: duration("Stop after this long without requests or leases.", { positive: true }).optional(),
      url: text("remote: base URL of an OpenAI-compatible endpoint.").optional(),
      api_key_env: matching(
        ENV_NAME_PATTERN,
        "an environment variable name",
        "remote, llama.cpp, llama-stub: environment variable holding the backend's API key (sent as Bearer; llama-server gets it as LLAMA_API_KEY).",
      ).optional(),
      health: healthFileSchema.optional(),
      restart_budget: restartBudgetFileSchema.optional(),
      backoff: backoffFileSchema.optional(),
      stop: stopFileSchema.optional(),
      logs: logsFileSchema.optional(),
    },
    "A supervised runtime.",
  );

  const configFileSchema = mapping(
    {
      node_id: text("Node id; default RMX_NODE_ID, ARW_NODE_ID, or the hostname.").optional(),
      log_level: oneOf(LOG_LEVELS, "Daemon log level.").optional(),
      timezone: text("IANA time zone for schedules, e.g. Europe/Paris.").optional(),
      telemetry: mapping(
        {
          health_interval: duration("Interval of runtime.health publications.", {
            positive: true,
          }).optional(),
          sample_interval: duration("Interval of resource sampling.", { positive: true }).optional(),
        },
        "Telemetry intervals.",
      ).optional(),
      ipc: mapping(
        {
          max_connections: positiveInt("Concurrent socket connections accepted.", {
            min: 1,
            max: 65_536,
          }).optional(),
          max_line_bytes: size("Largest JSON-RPC line accepted.", { min: KiB, max: 256 * MiB }).optional(),
          subscriber_queue: positiveInt("Events queued per subscriber before the oldest are dropped.", {
            min: 1,
            max: 1_000_000,
          }).optional(),
          socket_group: text("System mode: group given access to the socket (mode 0660).").optional(),
          max_unsent_per_connection: size(
            "Unsent output one connection may hold beyond the message in flight before it is cut off (OUTPUT_BACKLOG).",
            { min: 64 * KiB, max: GiB },
          ).optional(),
          max_unsent_total: size(
            "Unsent output across all connections; past it the connection holding the most is cut off.",
            { min: 64 * KiB, max: 16 * GiB },
          ).optional(),
          line_timeout: duration("A line begun must end within this (LINE_TIMEOUT).", {
            min: 100,
          }).optional(),
          idle_timeout: duration(
            "A connection with nothing in flight, no subscription and nothing pending is closed after this (IDLE_TIMEOUT).",
            { min: 100 },
          ).optional(),
          max_batch: positiveInt("Calls run from one batch; the rest get BATCH_TOO_LARGE.", {
            min: 1,
            max: 100_000,
          }).optional(),
          max_json_depth: positiveInt(
            "Arrays/objects nested inside one another in one message (JSON_TOO_DEEP).",
            {
              min: 8,
              max: 1000,
            },
          ).optional(),
        },
        "Control socket limits.",
      ).optional(),
      policy: mapping(
        {
          allow_fallback: bool("Allow leases to fall back to another cell.").optional(),
          allow_remote: bool("Allow remote runtimes to serve leases.").optional(),
          allow_cpu: bool("Allow CPU runtimes to serve leases.").optional(),
          required_sandbox: oneOf(SANDBOXES, "Only cells with this sandbox are eligible.").optional(),
          restore_after: duration(
            "A pinned cell must be healthy this long before users move back to it.",
          ).optional(),
        },
        "Placement policy.",
      ).optional(),
      http: mapping(
        {
          listen: matching(
            LISTEN_PATTERN,
            "HOST:PORT, [IPv6]:PORT or off",
            "Where the OpenAI-compatible gateway listens (default 127.0.0.1:8765), or off.",
          ).optional(),
          auth: oneOf(
            HTTP_AUTH,
            "token: a bearer token from the state dir; none: no auth (loopback only).",
          ).optional(),
          metrics_auth: oneOf(
            HTTP_AUTH,
            "none: GET /metrics without the token (a local Prometheus without credentials); default token.",
          ).optional(),
          allowed_hosts: list(
            text("A host name, or host:port."),
            "Host headers accepted besides loopback names.",
          ).optional(),
          cors_origins: list(
            text("An origin, e.g. http://localhost:3000."),
            "Origins given CORS headers.",
          ).optional(),
          max_body: size("Largest request body.", { min: KiB, max: 256 * MiB }).optional(),
          max_upload: size("Largest audio upload (multipart, POST /v1/audio/transcriptions).", {
            min: KiB,
            max: 1024 * MiB,
          }).optional(),
          headers_timeout: duration("Longest time to receive a request's headers.", {
            min: 100,
            max: 600_000,
          }).optional(),
          body_timeout: duration("Longest gap between two chunks of a request body.", {
            min: 100,
            max: 600_000,
          }).optional(),
          start_timeout: duration("Longest wait for a stopped or idle runtime to start on demand.", {
            positive: true,
          }).optional(),
          queue: positiveInt("Requests per model waiting for its runtime to start.", {
            min: 1,
            max: 100_000,
          }).optional(),
          upstream_timeout: duration("Longest silence from a backend before the request fails.", {
            positive: true,
          }).optional(),
        },
        "The OpenAI-compatible HTTP gateway.",
      ).optional(),
      defaults: mapping(
        {
          health: healthFileSchema.optional(),
          restart_budget: restartBudgetFileSchema.optional(),
          backoff: backoffFileSchema.optional(),
          stop: stopFileSchema.optional(),
          logs: logsFileSchema.optional(),
        },
        "Defaults for every runtime; per-runtime keys override them (deep merge).",
      ).optional(),
      models: list(
        mapping({ id: id("Model id."), path: text("Path to the GGUF file.") }, "A named model."),
        "Named models.",
      ).optional(),
      model_dirs: list(text("A directory."), "Directories scanned for models.").optional(),
      runtimes: list(runtimeFileSchema, "Supervised runtimes.").optional(),
      schedule: list(
        mapping(
          {
            id: id("Unique schedule id."),
            cron: text("Cron expression (5 or 6 fields)."),
            action: oneOf(SCHEDULE_ACTIONS, "What to do."),
            runtime: id("The runtime acted on."),
            timezone: text("IANA time zone; default the top-level timezone.").optional(),
          },
          "A scheduled action.",
        ),
        "Scheduled actions.",
      ).optional(),
    },
    "runtime-matrix daemon configuration (rmx.yaml).",
  );
  return {
    inferenceProbeFileSchema,
    healthFileSchema,
    restartBudgetFileSchema,
    backoffFileSchema,
    stopFileSchema,
    logsFileSchema,
    sandboxFileSchema,
    runtimeFileSchema,
    configFileSchema,
  };
}

/** The schema of a whole rmx.yaml: a new one per call (see buildSchemas). */
export function buildConfigFileSchema(): Schemas["configFileSchema"] {
  return buildSchemas().configFileSchema;
}

type Schemas = ReturnType<typeof buildSchemas>;

/** What a user writes. */
export type ConfigFileInput = z.input<Schemas["configFileSchema"]>;
/** The file after validation: durations in ms, sizes in bytes, nothing resolved or merged yet. */
export type ConfigFile = z.output<Schemas["configFileSchema"]>;
export type RuntimeFile = z.output<Schemas["runtimeFileSchema"]>;
export type HealthFile = z.output<Schemas["healthFileSchema"]>;
export type RestartBudgetFile = z.output<Schemas["restartBudgetFileSchema"]>;
export type BackoffFile = z.output<Schemas["backoffFileSchema"]>;
export type StopFile = z.output<Schemas["stopFileSchema"]>;
export type LogsFile = z.output<Schemas["logsFileSchema"]>;
