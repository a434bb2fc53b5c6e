import { Cron } from "croner";
import { ADAPTER_KINDS, adaptersAccepting, getAdapter } from "../adapters/registry.js";
import type { Adapter, AdapterKey } from "../adapters/types.js";
import { looksLikePath } from "../base/model-ref.js";
import type {
  BackoffSpec,
  DaemonConfig,
  HealthSpec,
  LogSpec,
  ModelSpec,
  RestartBudgetSpec,
  RuntimeSpec,
  SandboxSpec,
  ScheduleSpec,
  StopSpec,
} from "../base/spec.js";
import { formatDuration } from "../base/units.js";
import {
  BUILTIN_DAEMON_DEFAULTS,
  BUILTIN_RUNTIME_DEFAULTS,
  BUILTIN_RUNTIME_SCALARS,
  type DeepPartial,
  deepMerge,
  type RuntimeDefaults,
} from "./defaults.js";
import { expandPath } from "./expand-path.js";
import { httpExposure } from "./http-exposure.js";
import { parseListen } from "./http-listen.js";
import { describeValue, type PathIssue, suggest } from "./issues.js";
import type { ConfigPath } from "./positions.js";
import type {
  BackoffFile,
  ConfigFile,
  HealthFile,
  LogsFile,
  RestartBudgetFile,
  RuntimeFile,
  StopFile,
} from "./schema.js";

export interface ResolveContext {
  /** File path, or "<embedded default>". */
  source: string;
  /** Relative paths resolve against this directory. */
  baseDir: string;
  /** `~` expands to this directory. */
  home: string;
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// ─── File blocks → partial resolved blocks (renaming duration keys to *_ms) ───

function ipcSpec(file: NonNullable<ConfigFile["ipc"]>): Partial<DaemonConfig["ipc"]> {
  const { line_timeout, idle_timeout, ...rest } = file;
  return compact({ ...rest, line_timeout_ms: line_timeout, idle_timeout_ms: idle_timeout });
}

function healthPart(file: HealthFile | undefined): DeepPartial<HealthSpec> | undefined {
  if (!file) return undefined;
  return compact({
    path: file.path,
    interval_ms: file.interval,
    timeout_ms: file.timeout,
    failure_threshold: file.failure_threshold,
    start_timeout_ms: file.start_timeout,
    start_poll_initial_ms: file.start_poll_initial,
    start_poll_max_ms: file.start_poll_max,
    inference: file.inference
      ? compact({
          enabled: file.inference.enabled,
          interval_ms: file.inference.interval,
          timeout_ms: file.inference.timeout,
          prompt: file.inference.prompt,
        })
      : undefined,
  });
}

function budgetPart(file: RestartBudgetFile | undefined): DeepPartial<RestartBudgetSpec> | undefined {
  return file ? compact({ ...file }) : undefined;
}

function backoffPart(file: BackoffFile | undefined): DeepPartial<BackoffSpec> | undefined {
  if (!file) return undefined;
  return compact({
    initial_ms: file.initial,
    max_ms: file.max,
    factor: file.factor,
    jitter: file.jitter,
    reset_after_ms: file.reset_after,
  });
}

function stopPart(file: StopFile | undefined): DeepPartial<StopSpec> | undefined {
  return file ? compact({ signal: file.signal, grace_ms: file.grace }) : undefined;
}

function logsPart(file: LogsFile | undefined): DeepPartial<LogSpec> | undefined {
  return file ? compact({ max_bytes: file.max_bytes, files: file.files }) : undefined;
}

type BlockFiles = Partial<{
  health: HealthFile;
  restart_budget: RestartBudgetFile;
  backoff: BackoffFile;
  stop: StopFile;
  logs: LogsFile;
}>;

function blocksPart(file: BlockFiles | undefined): DeepPartial<RuntimeDefaults> | undefined {
  if (!file) return undefined;
  return compact({
    health: healthPart(file.health),
    restart_budget: budgetPart(file.restart_budget),
    backoff: backoffPart(file.backoff),
    stop: stopPart(file.stop),
    logs: logsPart(file.logs),
  });
}

function isValidTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Builds the resolved config and collects every cross-field problem (ids, references, adapter needs). */
export function resolveConfig(
  file: ConfigFile,
  ctx: ResolveContext,
): { config: DaemonConfig; issues: PathIssue[] } {
  const issues: PathIssue[] = [];
  const problem = (p: ConfigPath, message: string) => issues.push({ path: p, message });

  const uniqueIds = (section: string, items: ReadonlyArray<{ id: string }>) => {
    const first = new Map<string, number>();
    items.forEach((item, index) => {
      const key = item.id.toLowerCase();
      const earlier = first.get(key);
      if (earlier === undefined) first.set(key, index);
      else
        problem([section, index, "id"], `duplicate id "${item.id}" (already used by ${section}[${earlier}])`);
    });
  };

  if (file.timezone !== undefined && !isValidTimezone(file.timezone)) {
    problem(
      ["timezone"],
      `unknown time zone ${describeValue(file.timezone)} (expected an IANA name like Europe/Paris)`,
    );
  }

  const models: ModelSpec[] = (file.models ?? []).map((m) => ({ id: m.id, path: expandPath(m.path, ctx) }));
  uniqueIds("models", models);
  const modelIds = new Set(models.map((m) => m.id));

  const fileDefaults = blocksPart(file.defaults);
  const defaults = deepMerge<RuntimeDefaults>(BUILTIN_RUNTIME_DEFAULTS, fileDefaults);
  for (const { block, low, message } of orderingProblems(defaults)) {
    problem(["defaults", block, low[0]], message);
  }

  const runtimes = (file.runtimes ?? []).map((rt, index) =>
    resolveRuntime(rt, index, { ctx, defaults, fileDefaults, modelIds, problem }),
  );
  uniqueIds("runtimes", runtimes);
  const runtimeIds = new Set(runtimes.map((r) => r.id));

  const schedule: ScheduleSpec[] = (file.schedule ?? []).map((entry, index) => {
    const at: ConfigPath = ["schedule", index];
    if (!runtimeIds.has(entry.runtime)) {
      const guess = suggest(entry.runtime, runtimeIds);
      problem(
        [...at, "runtime"],
        `no runtime with id "${entry.runtime}"${guess ? ` (did you mean "${guess}"?)` : ""}`,
      );
    }
    const timezone = entry.timezone ?? file.timezone;
    if (entry.timezone !== undefined && !isValidTimezone(entry.timezone)) {
      problem([...at, "timezone"], `unknown time zone ${describeValue(entry.timezone)}`);
    } else {
      try {
        new Cron(entry.cron, {
          paused: true,
          timezone: timezone !== undefined && isValidTimezone(timezone) ? timezone : undefined,
        });
      } catch (err) {
        problem(
          [...at, "cron"],
          `invalid cron expression ${describeValue(entry.cron)}: ${(err as Error).message}`,
        );
      }
    }
    return compact({
      id: entry.id,
      cron: entry.cron,
      action: entry.action,
      runtime: entry.runtime,
      timezone,
    });
  });
  uniqueIds("schedule", schedule);

  const config: DaemonConfig = compact({
    source: ctx.source,
    node_id: file.node_id,
    log_level: file.log_level ?? BUILTIN_DAEMON_DEFAULTS.log_level,
    timezone: file.timezone,
    telemetry: deepMerge<DaemonConfig["telemetry"]>(
      BUILTIN_DAEMON_DEFAULTS.telemetry,
      file.telemetry &&
        compact({
          health_interval_ms: file.telemetry.health_interval,
          sample_interval_ms: file.telemetry.sample_interval,
        }),
    ),
    ipc: deepMerge<DaemonConfig["ipc"]>(BUILTIN_DAEMON_DEFAULTS.ipc, file.ipc && ipcSpec(file.ipc)),
    policy: deepMerge<DaemonConfig["policy"]>(
      BUILTIN_DAEMON_DEFAULTS.policy,
      file.policy &&
        compact({
          allow_fallback: file.policy.allow_fallback,
          allow_remote: file.policy.allow_remote,
          allow_cpu: file.policy.allow_cpu,
          required_sandbox: file.policy.required_sandbox,
          restore_after_ms: file.policy.restore_after,
        }),
    ),
    http: resolveHttp(file.http, (at, message) => problem(["http", ...at], message)),
    models,
    model_dirs: (file.model_dirs ?? []).map((d) => expandPath(d, ctx)),
    runtimes,
    schedule,
  });
  return { config, issues };
}

/** `http:` over the defaults; a listen address beyond loopback with `auth: none` is an error. */
function resolveHttp(
  file: ConfigFile["http"],
  problem: (at: ConfigPath, message: string) => void,
): DaemonConfig["http"] {
  const base = BUILTIN_DAEMON_DEFAULTS.http;
  const spec: DaemonConfig["http"] = deepMerge<DaemonConfig["http"]>(
    base,
    file &&
      compact({
        auth: file.auth,
        metrics_auth: file.metrics_auth,
        allowed_hosts: file.allowed_hosts,
        cors_origins: file.cors_origins,
        max_body_bytes: file.max_body,
        max_upload_bytes: file.max_upload,
        headers_timeout_ms: file.headers_timeout,
        body_timeout_ms: file.body_timeout,
        start_timeout_ms: file.start_timeout,
        queue: file.queue,
        upstream_timeout_ms: file.upstream_timeout,
      }),
  );
  if (file?.listen !== undefined) {
    const listen = parseListen(file.listen);
    if (listen === undefined) {
      problem(
        ["listen"],
        `expected HOST:PORT (port 0 to 65535), [IPv6]:PORT or off, got ${describeValue(file.listen)}`,
      );
    } else if (listen === null) {
      delete spec.listen;
    } else {
      spec.listen = listen;
    }
  }
  const issue = httpExposure(spec);
  if (issue !== undefined) problem(["auth"], issue);
  return spec;
}

/** Pairs of keys in a merged block where the first must not exceed the second. */
const ORDERINGS = [
  { block: "backoff", low: ["initial", "initial_ms"], high: ["max", "max_ms"] },
  {
    block: "health",
    low: ["start_poll_initial", "start_poll_initial_ms"],
    high: ["start_poll_max", "start_poll_max_ms"],
  },
] as const;

interface OrderingProblem {
  block: (typeof ORDERINGS)[number]["block"];
  /** File keys and resolved keys of the pair. */
  low: readonly [string, string];
  high: readonly [string, string];
  message: string;
}

function orderingProblems(blocks: DeepPartial<RuntimeDefaults>): OrderingProblem[] {
  const out: OrderingProblem[] = [];
  for (const { block, low, high } of ORDERINGS) {
    const values = blocks[block] as Record<string, number | undefined> | undefined;
    const lo = values?.[low[1]];
    const hi = values?.[high[1]];
    if (lo !== undefined && hi !== undefined && lo > hi) {
      const message = `${block}.${low[0]} (${formatDuration(lo)}) exceeds ${block}.${high[0]} (${formatDuration(hi)})`;
      out.push({ block, low, high, message });
    }
  }
  return out;
}

function resolveSandbox(
  file: RuntimeFile["sandbox"],
  at: ConfigPath,
  ctx: ResolveContext,
  problem: (p: ConfigPath, message: string) => void,
): SandboxSpec {
  if (file === undefined) return { kind: "none" };
  if (typeof file === "string") return { kind: file };
  if (file.kind !== "systemd-run") {
    if (file.memory_max !== undefined)
      problem([...at, "memory_max"], "memory_max applies only to kind systemd-run");
    if (file.cpu_quota !== undefined)
      problem([...at, "cpu_quota"], "cpu_quota applies only to kind systemd-run");
  }
  if (file.kind !== "bwrap" && file.ro_binds !== undefined) {
    problem([...at, "ro_binds"], "ro_binds applies only to kind bwrap");
  }
  return compact({
    kind: file.kind,
    memory_max_bytes: file.memory_max,
    cpu_quota_percent: file.cpu_quota,
    ro_binds: file.ro_binds?.map((p) => expandPath(p, ctx)),
  });
}

/** "url applies only to adapter remote": the adapters that accept the key, from the registry. */
function onlyFor(key: AdapterKey): string {
  const kinds = adaptersAccepting(key);
  const list = kinds.length <= 1 ? kinds.join("") : `${kinds.slice(0, -1).join(", ")} and ${kinds.at(-1)}`;
  return `${key} applies only to ${kinds.length === 1 ? "adapter" : "adapters"} ${list}`;
}

/** Built-in defaults, then the adapter's own (vLLM's long start-up), then the file's `defaults:`. */
function adapterDefaults(
  adapter: Adapter,
  defaults: RuntimeDefaults,
  fileDefaults: DeepPartial<RuntimeDefaults> | undefined,
): RuntimeDefaults {
  const own = adapter.defaults;
  if (own === undefined) return defaults;
  const layer: DeepPartial<RuntimeDefaults> = compact({
    health: own.startTimeoutMs !== undefined ? { start_timeout_ms: own.startTimeoutMs } : undefined,
    stop: own.stopGraceMs !== undefined ? { grace_ms: own.stopGraceMs } : undefined,
  });
  return deepMerge<RuntimeDefaults>(BUILTIN_RUNTIME_DEFAULTS, layer, fileDefaults);
}

function multiGpuAdapters(): string {
  return ADAPTER_KINDS.filter((kind) => getAdapter(kind).multiGpu === true).join(", ");
}

function resolveRuntime(
  rt: RuntimeFile,
  index: number,
  env: {
    ctx: ResolveContext;
    defaults: RuntimeDefaults;
    /** The file's own `defaults:`, laid over an adapter's defaults (`defaults` has them over the built-in ones). */
    fileDefaults: DeepPartial<RuntimeDefaults> | undefined;
    modelIds: ReadonlySet<string>;
    problem: (p: ConfigPath, message: string) => void;
  },
): RuntimeSpec {
  const { ctx, defaults, modelIds, problem } = env;
  const at: ConfigPath = ["runtimes", index];

  let model = rt.model;
  const adapter = getAdapter(rt.adapter);
  if (model !== undefined && adapter.modelFormat !== "name" && !modelIds.has(model)) {
    if (looksLikePath(model)) model = expandPath(model, ctx);
    else {
      const guess = suggest(model, modelIds);
      problem(
        [...at, "model"],
        `"${model}" is neither a models[].id${guess ? ` (did you mean "${guess}"?)` : ""} nor a path (a path contains '/' or ends in .gguf)`,
      );
    }
  }
  for (const [key, what] of Object.entries(adapter.config.requires)) {
    if (rt[key as AdapterKey] === undefined)
      problem([...at, key], `adapter ${rt.adapter} needs ${key} (${what})`);
  }
  if (rt.url !== undefined) {
    let ok = false;
    try {
      ok = ["http:", "https:"].includes(new URL(rt.url).protocol);
    } catch {}
    if (!ok) problem([...at, "url"], `expected an http(s) URL, got ${describeValue(rt.url)}`);
    else if (!adapter.config.accepts.includes("url")) problem([...at, "url"], onlyFor("url"));
  }
  if (rt.api_key_env !== undefined && !adapter.config.accepts.includes("api_key_env")) {
    problem([...at, "api_key_env"], onlyFor("api_key_env"));
  }
  if (rt.threads !== undefined && !adapter.config.accepts.includes("threads")) {
    problem([...at, "threads"], onlyFor("threads"));
  }

  if (rt.hardware?.includes(",") && adapter.multiGpu !== true) {
    problem(
      [...at, "hardware"],
      `hardware ${describeValue(rt.hardware)} is a GPU list, which adapter ${rt.adapter} cannot use (only ${multiGpuAdapters()}); name one GPU (gpu:N)`,
    );
  }

  const ownBlocks = blocksPart(rt);
  const blocks = deepMerge<RuntimeDefaults>(adapterDefaults(adapter, defaults, env.fileDefaults), ownBlocks);
  // Blame the runtime only for a pair it sets itself; a bad `defaults:` is reported once, there.
  for (const { block, low, high, message } of orderingProblems(blocks)) {
    const own = ownBlocks?.[block] as Record<string, unknown> | undefined;
    if (own?.[low[1]] !== undefined) problem([...at, block, low[0]], message);
    else if (own?.[high[1]] !== undefined) problem([...at, block, high[0]], message);
  }

  const binary =
    rt.binary !== undefined && (rt.binary.includes("/") || rt.binary.startsWith("~"))
      ? expandPath(rt.binary, ctx)
      : rt.binary;

  return compact({
    id: rt.id,
    adapter: rt.adapter,
    binary,
    model,
    args: rt.args ?? [],
    env: Object.fromEntries(Object.entries(rt.env ?? {}).map(([k, v]) => [k, String(v)])),
    cwd: rt.cwd !== undefined ? expandPath(rt.cwd, ctx) : undefined,
    host: rt.host ?? BUILTIN_RUNTIME_SCALARS.host,
    port: rt.port,
    hardware: rt.hardware ?? BUILTIN_RUNTIME_SCALARS.hardware,
    sandbox: resolveSandbox(rt.sandbox, [...at, "sandbox"], ctx, problem),
    auto_start: rt.auto_start ?? BUILTIN_RUNTIME_SCALARS.auto_start,
    context: rt.context,
    gpu_layers: rt.gpu_layers,
    threads: rt.threads,
    slots: rt.slots,
    ...blocks,
    idle_ttl_ms: rt.idle_ttl,
    url: rt.url,
    api_key_env: rt.api_key_env,
  });
}
