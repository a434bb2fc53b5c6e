/**
 * rmxd: wires configuration, persistence, supervisors, telemetry and the socket together, and owns
 * the daemon's lifecycle (start, reload, shutdown).
 */

import os from "node:os";
import path from "node:path";
import type { Logger } from "pino";
import { stubEntryPath } from "../adapters/llama-stub/stub-path.js";
import { getAdapter } from "../adapters/registry.js";
import type { HardwareTarget, LaunchPlan } from "../adapters/types.js";
import type { Clock } from "../base/clock.js";
import { formatLocalTime, rfc3339, systemClock } from "../base/clock.js";
import { randomUnit } from "../base/entropy.js";
import { RmxError } from "../base/errors.js";
import { ensureTrustedDir, trustPolicyFor } from "../base/fs-trust.js";
import { looksLikePath } from "../base/model-ref.js";
import type { DaemonConfig, RuntimeSpec } from "../base/spec.js";
import { loadConfigApart } from "../config/load-apart.js";
import type { ConfigLocation } from "../config/locate.js";
import type { HardwareInventory } from "../ipc/protocol/hardware.js";
import { PRODUCT, PROTOCOL_VERSION } from "../ipc/protocol/jsonrpc.js";
import type { NodeEntry, ReloadResult, RuntimeStatusResult } from "../ipc/protocol/runtime.js";
import type { MethodTable } from "../ipc/server/types.js";
import { PreEncoded, RpcServer } from "../ipc/server.js";
import { startBusySwitch } from "./busy-switch.js";
import { applyConfig, type ConfigReloadHost } from "./config-reload.js";
import { EventBus } from "./events.js";
import { collectInventory } from "./hardware/inventory.js";
import { hardwareTarget } from "./hardware/placement.js";
import { observabilityHost } from "./http/daemon-host.js";
import { HttpFace, withHttpListen } from "./http/face.js";
import { type DaemonMetrics, metricsForRuntimes } from "./http/metrics.js";
import type { ObservabilityHost } from "./http/observability-host.js";
import { DashboardSessions } from "./http/session.js";
import { acquireDaemonLock, type DaemonLock } from "./lock.js";
import { modelIdOf } from "./matrix/keys.js";
import { createMatrix, type MatrixService } from "./matrix/service.js";
import { ModelCatalog } from "./models/catalog.js";
import { createNotifier } from "./notify/sd-notify.js";
import { StateStore } from "./persist/state-store.js";
import { emptyState, type PersistedState, parsePersistedState, persistedRuntime } from "./persisted.js";
import { attachPolicy, type Policy } from "./policy/service.js";
import { ProblemBoard } from "./problems.js";
import { logReap, reapOrphans } from "./process/identity.js";
import { buildMethods } from "./rpc/methods.js";
import { detectSandboxes, type SandboxDetection } from "./sandbox/detect.js";
import { wrapCommand } from "./sandbox/wrap.js";
import { composeNodeEntry, nodeTarget } from "./status/compose.js";
import { summarize } from "./status/summary.js";
import { type RuntimeDeps, RuntimeSupervisor } from "./supervise/runtime.js";
import { NodeHealthPublisher } from "./telemetry/node-health.js";
import type { Optimizers } from "./v8-optimizers.js";

export interface DaemonOptions {
  config: ConfigLocation;
  socketPath: string;
  stateDir: string;
  system: boolean;
  logger: Logger;
  version: string;
  clock?: Clock;
  /** `rmxd --http HOST:PORT|off` (or RMX_HTTP): replaces `http.listen` of the config. */
  httpListen?: string;
  /** V8's optimizing compilers, to turn on once the daemon is busy (rmxd's own; none in-process tests). */
  optimizers?: Optimizers;
}

export type { ReloadResult };

const STATUS_CACHE_MS = 200;

function httpBlock(policy: Policy | undefined, gateway: HttpFace["gateway"]): { http?: NodeEntry["http"] } {
  const http = policy?.http();
  if (!http) return {};
  return gateway ? { http: { ...http, gateway: gateway.view() } } : { http };
}

export class Daemon {
  readonly clock: Clock;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly runtimes = new Map<string, RuntimeSupervisor>();
  readonly startedAt: number;
  config!: DaemonConfig;
  inventory!: HardwareInventory;
  sandboxes: SandboxDetection[] = [{ kind: "none", available: true }];
  models!: ModelCatalog;
  nodeId!: string;
  /** Persisted state (budgets, desired states, children, leases, pins); written atomically. */
  store!: StateStore<PersistedState>;
  matrix: MatrixService | undefined;
  policy: Policy | undefined;
  readonly http: HttpFace;
  private server: RpcServer | undefined;
  /** The socket's method table; the dashboard's quick actions run through the same entries. */
  methods: MethodTable = {};
  /** Prometheus metrics; counters and histograms fed from start, gauges set per scrape. */
  metrics!: DaemonMetrics;
  readonly sessions: DashboardSessions;
  private lock: DaemonLock | undefined;
  private telemetry: NodeHealthPublisher | undefined;
  private readonly notifier;
  private stopWatchdog: (() => void) | undefined;
  private stopBusySwitch: (() => void) | undefined;
  private shuttingDown: Promise<void> | undefined;
  private reloads: Promise<unknown> = Promise.resolve();
  readonly logsDir: string;
  /** Daemon-level problems (state or log writes failing) shown in `runtime.status`. */
  readonly problems: ProblemBoard;

  constructor(readonly opts: DaemonOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger;
    this.bus = new EventBus(this.clock, (error, event) =>
      this.logger.error({ err: error, topic: event.topic }, "event listener failed"),
    );
    this.startedAt = this.clock.now();
    this.logsDir = path.join(opts.stateDir, "logs");
    this.problems = new ProblemBoard(this.clock, () =>
      this.bus.publish("daemon.problems", { problems: this.problems.list() }),
    );
    this.sessions = new DashboardSessions(this.clock);
    const daemon = this;
    this.http = new HttpFace({
      logger: this.logger,
      stateDir: opts.stateDir,
      get metrics() {
        return daemon.metrics;
      },
      sessions: this.sessions,
      config: () => this.config,
      policy: () => this.policy,
      models: () => this.models,
      observabilityHost: () => this.observabilityHost(),
      formatTime: formatLocalTime,
      noteChange: () => this.noteChange(),
    });
    this.notifier = createNotifier(process.env, { onProblem: (m: string) => this.logger.warn(m) });
  }

  get socketPath(): string {
    return this.opts.socketPath;
  }

  /** Start-up; throws RmxError (CONFIG_INVALID, ALREADY_RUNNING, SOCKET_UNSAFE, …) without side effects left behind. */
  async start(): Promise<void> {
    this.config = withHttpListen(await loadConfigApart(this.opts.config), this.opts.httpListen);
    this.nodeId = this.config.node_id ?? nodeTarget(process.env, os.hostname());
    this.metrics = metricsForRuntimes(this.nodeId, this.runtimes, this.bus);
    const trust = trustPolicyFor(this.opts.system ? this.config.ipc.socket_group : undefined);
    await ensureTrustedDir("state dir", this.opts.stateDir, trust);
    await ensureTrustedDir("logs dir", this.logsDir, trust);
    this.lock = await acquireDaemonLock(this.opts.stateDir);

    this.store = new StateStore(
      path.join(this.opts.stateDir, "state.json"),
      parsePersistedState,
      emptyState,
      {
        onWrite: (error) => this.problems.report("state", error),
      },
    );
    const loaded = await this.store.load();
    if (loaded.warning) {
      this.logger.warn({ quarantined_to: loaded.quarantinedTo }, loaded.warning);
    }
    await this.reapPreviousChildren();

    const [inventory, sandboxes] = await Promise.all([
      collectInventory({ timeoutMs: 5000 }),
      detectSandboxes(),
    ]);
    this.inventory = inventory;
    this.sandboxes = sandboxes;
    for (const note of inventory.notes) this.logger.info({ note }, "hardware inventory");

    this.models = this.createCatalog(this.config);
    await this.models.start();

    this.server = new RpcServer({
      socketPath: this.opts.socketPath,
      system: this.opts.system,
      ...(this.config.ipc.socket_group !== undefined ? { socketGroup: this.config.ipc.socket_group } : {}),
      maxConnections: this.config.ipc.max_connections,
      maxLineBytes: this.config.ipc.max_line_bytes,
      subscriberQueue: this.config.ipc.subscriber_queue,
      maxOutboundBytes: this.config.ipc.max_unsent_per_connection,
      maxTotalOutboundBytes: this.config.ipc.max_unsent_total,
      partialLineTimeoutMs: this.config.ipc.line_timeout_ms,
      idleTimeoutMs: this.config.ipc.idle_timeout_ms,
      maxBatch: this.config.ipc.max_batch,
      maxJsonDepth: this.config.ipc.max_json_depth,
      methods: {
        ...this.http.methods(),
        ...this.buildMethodTable({
          bus: this.bus,
          getRuntime: (id) => this.getRuntime(id),
          statusEncoded: () => this.statusEncoded(),
          committed: () => this.store.committed(),
          reload: () => this.reload(),
          hello: () => this.hello(),
          matrix: () => this.matrix,
          policy: () => this.policy,
        }),
      },
      bus: this.bus,
      logger: this.logger.child({ component: "ipc" }),
    });
    await this.server.listen();

    for (const spec of this.config.runtimes) this.addRuntime(spec);
    this.wireServices();
    await this.http.start();

    this.telemetry = new NodeHealthPublisher(
      { bus: this.bus, logger: this.logger, status: () => this.status() },
      this.config.telemetry.health_interval_ms,
    );
    this.telemetry.start();

    await this.notifier.ready(`${this.runtimes.size} runtime(s) configured; socket ${this.opts.socketPath}`);
    this.stopWatchdog = this.notifier.startWatchdog();
    if (this.opts.optimizers !== undefined)
      this.stopBusySwitch = startBusySwitch({ optimizers: this.opts.optimizers, logger: this.logger });
    this.logger.info(
      {
        socket: this.opts.socketPath,
        state_dir: this.opts.stateDir,
        config: this.config.source,
        runtimes: [...this.runtimes.keys()],
        node_id: this.nodeId,
      },
      "rmxd ready",
    );
  }

  private buildMethodTable(host: Parameters<typeof buildMethods>[0]): MethodTable {
    const table = buildMethods(host);
    this.methods = table;
    return table;
  }

  /** What the observability routes (mounted on the gateway's listener) need of the daemon. */
  observabilityHost(): ObservabilityHost {
    return observabilityHost(this);
  }

  /**
   * The matrix and policy services, each on a host naming only what it uses. The matrix owns the
   * inventory once started (a refresh publishes `hardware.inventory`); policy's leases show in the matrix
   * through `cellLeases`, read when the matrix composes.
   */
  private wireServices(): void {
    const daemon = this;
    this.bus.subscribe(["hardware.inventory"], (event) => {
      this.inventory = event.payload as HardwareInventory;
    });
    this.matrix = createMatrix({
      clock: this.clock,
      bus: this.bus,
      config: this.config,
      inventory: this.inventory,
      sandboxes: this.sandboxes,
      get models() {
        return daemon.models;
      },
      runtimes: this.runtimes,
      cellLeases: (key) => this.policy?.cellLeases(key),
      cellRequests: (key) => this.policy?.cellRequests(key),
    });
    this.policy = attachPolicy({
      clock: this.clock,
      bus: this.bus,
      logger: this.logger,
      runtimes: this.runtimes,
      config: () => this.config,
      models: () => this.models,
      sandboxes: () => this.sandboxes,
      inventory: () => this.inventory,
      matrixCells: () => this.matrix?.cells() ?? [],
      getRuntime: (id) => this.getRuntime(id),
      resolveModelPath: (model) => this.resolveModelPath(model),
      resolveHardware: (id) => this.resolveHardware(id),
      stored: () => this.store.get(),
      savePins: (all) =>
        this.store.update((draft) => {
          draft.pins = all;
        }),
      saveLeases: (leases) =>
        this.store.update((draft) => {
          draft.leases = leases;
        }),
      onRouted: (request) => {
        this.noteChange();
        if (request !== undefined) this.metrics.record(request);
      },
      runtimeDeps: (spec) => this.runtimeDeps(spec),
      adopt: (rt) => this.adoptRuntime(rt),
    });
  }

  /** Children of a previous daemon that died without stopping them (SIGKILL, OOM): stop them first. */
  private async reapPreviousChildren(): Promise<void> {
    const records = Object.values(this.store.get().runtimes).flatMap((r) => (r.child ? [r.child] : []));
    // Always: a child whose record never reached the disk is found by its tag (and cgroup) alone.
    logReap(this.logger, await reapOrphans(records, { grace_ms: 5000, stateDir: this.opts.stateDir }));
    await this.store.update((draft) => {
      for (const rec of Object.values(draft.runtimes)) delete rec.child;
    });
  }

  private createCatalog(config: DaemonConfig): ModelCatalog {
    return new ModelCatalog({
      models: config.models,
      dirs: config.model_dirs,
      onChange: (change) => this.bus.publish("models.changed", change),
    });
  }

  /** What every supervisor of a runtime is built with (the daemon's own and a reload's candidate). */
  runtimeDeps(spec: RuntimeSpec): RuntimeDeps {
    return {
      clock: this.clock,
      bus: this.bus,
      logger: this.logger.child({ runtime: spec.id }),
      logsDir: this.logsDir,
      stateDir: this.opts.stateDir,
      random: randomUnit,
      adapter: getAdapter(spec.adapter),
      stubEntry: stubEntryPath(),
      persist: (id, record) => {
        const written = this.store.update((draft) => {
          draft.runtimes[id] = record;
        });
        written.catch((error) =>
          this.logger.error({ err: error, runtime: id }, "could not persist runtime state"),
        );
        return written;
      },
      resolveHardware: (id) => this.resolveHardware(id),
      resolveModelPath: (model) => this.resolveModelPath(model),
      wrapSandbox: (plan, s, modelPath) => this.wrapSandbox(plan, s, modelPath),
      formatTime: formatLocalTime,
      onObserved: (probe, outcome) => {
        this.noteChange();
        if (probe !== undefined && outcome !== undefined) this.metrics.probe(spec.id, probe, outcome.ms);
      },
      configIndex: (id) => {
        const index = this.config.runtimes.findIndex((r) => r.id === id);
        return index < 0 ? undefined : index;
      },
      modelId: (s) => modelIdOf(s, (m) => this.models.get(m)),
    };
  }

  /** `rt` is the runtime of its id from now on (a reload's candidate took over from the old supervisor). */
  adoptRuntime(rt: RuntimeSupervisor): void {
    this.runtimes.set(rt.id, rt);
    rt.log.onDiskState((error) => this.problems.report(`log:${rt.id}`, error));
    this.noteChange();
  }

  private addRuntime(spec: RuntimeSpec): RuntimeSupervisor {
    const persisted = persistedRuntime(this.store.get(), spec.id);
    const supervisor = new RuntimeSupervisor(
      spec,
      this.runtimeDeps(spec),
      persisted ? { budget: persisted.budget, desired: persisted.desired } : undefined,
    );
    this.runtimes.set(spec.id, supervisor);
    supervisor.log.onDiskState((error) => this.problems.report(`log:${spec.id}`, error));
    const shouldRun = persisted ? persisted.desired === "running" : spec.auto_start;
    if (shouldRun) supervisor.start();
    return supervisor;
  }

  resolveHardware(id: string): HardwareTarget {
    return hardwareTarget(id, this.inventory);
  }

  resolveModelPath(model: string | undefined): string | undefined {
    if (model === undefined) return undefined;
    const entry = this.models.get(model);
    if (entry) return entry.path;
    if (looksLikePath(model)) return model;
    throw new RmxError("MODEL_MISSING", `model "${model}" is neither a configured model id nor a file path`, {
      model,
    });
  }

  wrapSandbox(plan: LaunchPlan, spec: RuntimeSpec, modelPath: string | undefined): LaunchPlan {
    return wrapCommand(
      plan,
      spec.sandbox,
      { runtimeId: spec.id, stateDir: this.opts.stateDir, ...(modelPath !== undefined ? { modelPath } : {}) },
      this.sandboxes,
    );
  }

  getRuntime(id: string): RuntimeSupervisor {
    const rt = this.runtimes.get(id);
    if (!rt) {
      const known = [...this.runtimes.keys()];
      throw new RmxError(
        "RUNTIME_NOT_FOUND",
        `unknown runtime "${id}"; known: ${known.join(", ") || "(none)"}`,
        {
          id,
          known,
        },
      );
    }
    return rt;
  }

  private statusCache: { version: string; at: number; encoded: PreEncoded } | undefined;
  private changes = 0;

  /** Something `runtime.status` shows changed without an event (a probe result, a routed request). */
  noteChange(): void {
    this.changes += 1;
  }

  /**
   * `runtime.status` for the socket: one serialised snapshot shared by every caller until anything is
   * published on the bus (every state change, restart, denial and sample is), anything else it shows is
   * observed (`noteChange`: probe results, routed requests), or it is 200 ms old (uptimes). Dashboards
   * polling status then cost a lookup, not a rebuild.
   */
  statusEncoded(): PreEncoded {
    const now = this.clock.now();
    const cached = this.statusCache;
    const version = `${this.bus.lastSeq}:${this.changes}`;
    if (cached && cached.version === version && now - cached.at < STATUS_CACHE_MS) return cached.encoded;
    const encoded = new PreEncoded(JSON.stringify(this.status()));
    this.statusCache = { version, at: now, encoded };
    return encoded;
  }

  status(): RuntimeStatusResult {
    const now = this.clock.now();
    const runtimes = [...this.runtimes.values()].map((r) => r.view());
    return {
      generated: rfc3339(now),
      node: composeNodeEntry({
        target: this.nodeId,
        now,
        runtimes,
        ...httpBlock(this.policy, this.http.gateway),
        formatTime: formatLocalTime,
      }),
      summary: summarize(runtimes, now),
      runtimes,
      problems: this.problems.list(),
    };
  }

  hello() {
    return {
      protocol: PROTOCOL_VERSION,
      product: PRODUCT,
      version: this.opts.version,
      node_id: this.nodeId,
      pid: process.pid,
      started_at: rfc3339(this.startedAt),
      socket: this.opts.socketPath,
    };
  }

  /**
   * SIGHUP / config.reload: apply only the difference; an invalid file changes nothing. Reloads run one
   * at a time (two quick SIGHUPs must not restart a changed runtime twice at once); none once stopping.
   */
  reload(): Promise<ReloadResult> {
    if (this.shuttingDown) {
      return Promise.reject(new RmxError("RUNTIME_BUSY", "rmxd is stopping; configuration not reloaded"));
    }
    const run = this.reloads.catch(() => undefined).then(() => this.reloadOnce());
    this.reloads = run;
    return run;
  }

  private async reloadOnce(): Promise<ReloadResult> {
    await this.notifier.reloading();
    try {
      const next = withHttpListen(await loadConfigApart(this.opts.config), this.opts.httpListen);
      return await applyConfig(this.reloadHost(), next);
    } finally {
      await this.notifier.ready();
    }
  }

  /** What applying a reloaded configuration touches, and nothing else. */
  private reloadHost(): ConfigReloadHost {
    const daemon = this;
    return {
      get config() {
        return daemon.config;
      },
      set config(next) {
        daemon.config = next;
      },
      get models() {
        return daemon.models;
      },
      set models(next) {
        daemon.models = next;
      },
      runtimes: this.runtimes,
      bus: this.bus,
      logger: this.logger,
      store: this.store,
      createCatalog: (config) => this.createCatalog(config),
      addRuntime: (spec) => this.addRuntime(spec),
      clearLogProblem: (id) => this.problems.report(`log:${id}`, undefined),
      onApplied: (next) => {
        this.telemetry?.retime(next.telemetry.health_interval_ms);
        this.matrix?.onConfig(next);
        this.policy?.onConfig(next);
      },
    };
  }

  /** Stops every child (TERM, then KILL after each runtime's grace) and the socket; idempotent. */
  shutdown(reason: string): Promise<void> {
    this.shuttingDown ??= (async () => {
      this.logger.info({ reason }, "rmxd stopping");
      this.bus.publish("daemon.stopping", { reason });
      await this.notifier.stopping();
      this.stopWatchdog?.();
      this.stopBusySwitch?.();
      await this.http.close();
      this.telemetry?.stop();
      this.policy?.stop();
      await this.policy?.settled(); // a reload in flight may hold a candidate or an old process
      this.matrix?.stop();
      this.models?.stop();
      // A reload in flight may still add runtimes: let it finish so every one of them is stopped.
      await this.reloads.catch(() => undefined);
      await Promise.allSettled([...this.runtimes.values()].map((r) => r.shutdown()));
      await this.store?.flush();
      await this.server?.close();
      await this.lock?.release();
      this.logger.info("rmxd stopped");
    })();
    return this.shuttingDown;
  }
}
