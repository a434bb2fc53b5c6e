/**
 * The policy service: pins and fallback, leases, idle stop and on-demand start, schedules, quick actions
 * (reload / switch) and chat routed through the matrix, wired onto the host's runtimes, store and bus.
 * Each part lives in its own module; this one builds them and connects them to each other.
 *
 * Runtime overrides that are NOT written to the configuration file and last until the next config reload:
 * `policy.set` (the switches go back to `policy:` in the file) and `runtime.reload` / `runtime.switch` (the
 * runtime goes back to its spec in the file). Pins and leases are persisted in the state file.
 */
import type { Logger } from "pino";
import type { DaemonConfig } from "../../base/spec.js";
import type { GatewaySeriesView } from "../../ipc/protocol/gateway.js";
import type { InferResult } from "../../ipc/protocol/infer.js";
import type { CellRequestTelemetry } from "../../ipc/protocol/matrix.js";
import type * as Wire from "../../ipc/protocol/policy.js";
import type { PinRecord } from "../../ipc/protocol/policy.js";
import type { NodeEntry, RuntimeState } from "../../ipc/protocol/runtime.js";
import type { TranscribeResult } from "../../ipc/protocol/transcribe.js";
import type { LeaseCount } from "../matrix/compose.js";
import { ParameterCache } from "../models/parameter-cache.js";
import { placeOf } from "./candidates.js";
import { CHAT_ROUTE, type ChatHost, respondChat } from "./chat.js";
import type { PolicyHost } from "./host.js";
import { RuntimeActivity } from "./idle.js";
import { InFlightRequests } from "./in-flight.js";
import { type InferInput, infer } from "./infer.js";
import { LeaseManager } from "./lease.js";
import { LeaseBookMemo } from "./lease-book-memo.js";
import { isStoredLease, LeaseDesk } from "./lease-desk.js";
import { clearPin, PinStore, readablePins, setPin } from "./pins.js";
import { QuickActions } from "./quick-actions.js";
import { modelOfCell, type ObservedRequest, RequestStats } from "./request-stats.js";
import type { Candidate } from "./resolve.js";
import { Router } from "./routing.js";
import { ScheduleRunner } from "./schedule.js";
import { SwapGroups } from "./swap-groups.js";
import { PolicySwitches } from "./switches.js";
import { type TranscribeInput, transcribe } from "./transcribe.js";

export type { PolicyHost } from "./host.js";

/** Window of the node entry's `http` block. */
const HTTP_WINDOW_MS = 300_000;

const CODE_LABELS = new Map<number, string>();
/** Status codes as Prometheus label text, converted once per code. */
function codeLabel(code: number): string {
  let text = CODE_LABELS.get(code);
  if (text === undefined) {
    text = String(code);
    if (CODE_LABELS.size < 64) CODE_LABELS.set(code, text);
  }
  return text;
}

export class Policy {
  readonly pins: PinStore;
  readonly leases: LeaseManager;
  readonly router: Router;
  /** The matrix's compose asks once per cell: one book per turn (lease-book-memo.ts). */
  private readonly composeBook = new LeaseBookMemo(() => this.router.leaseBook());
  private readonly switches: PolicySwitches;
  private readonly activity: RuntimeActivity;
  private readonly schedules: ScheduleRunner;
  /** `runtime.reload` / `runtime.switch`. */
  readonly quick: QuickActions;
  /** `lease.acquire` / `lease.release`. */
  readonly desk: LeaseDesk;
  private readonly parameters: ParameterCache;
  private readonly requests: RequestStats;
  /** Chat requests open per runtime: a reload waits for those that may still reach the old process. */
  private readonly inFlight = new InFlightRequests();
  private readonly logger: Logger;
  private offBus: (() => void) | undefined;
  private stopped = false;
  private quiesced: Promise<void> = Promise.resolve();

  constructor(private readonly host: PolicyHost) {
    const { clock, bus, runtimes } = host;
    const logger = host.logger.child({ component: "policy" });
    this.logger = logger;
    const config = host.config();
    this.switches = new PolicySwitches(config.policy);
    this.requests = new RequestStats(clock);
    this.parameters = new ParameterCache(() => host.models());
    const pins = readablePins(host.stored().pins, (error, record) =>
      logger.warn({ err: error, scope: record.scope }, "ignoring an unreadable stored pin"),
    );
    this.pins = new PinStore(pins, (all) => host.savePins(all), clock);
    this.router = new Router({
      clock,
      bus,
      runtimes: () => runtimes.values(),
      lookupModel: (m) => host.models().get(m),
      sandboxes: () => host.sandboxes(),
      matrixCells: () => host.matrixCells(),
      leasesHeld: (target) => this.leases.held(target),
      routedP95: (key) => this.requests.p95(key),
      parameterCount: (spec) => this.parameters.count(spec),
      pins: this.pins,
      policy: () => this.switches.current,
    });
    this.leases = new LeaseManager({
      clock,
      capacityOf: (target) => this.router.leaseBook().capacityOf(target),
      capabilitiesOf: (target) => this.router.capabilitiesOfTarget(target),
      persist: (leases) => host.saveLeases(leases),
      emit: (topic, lease) => {
        bus.publish(topic, lease);
        this.activity.sync();
      },
      onPersistError: (error) => logger.error({ err: error }, "could not persist leases"),
    });
    this.activity = new RuntimeActivity({
      clock,
      bus,
      logger,
      runtimes,
      busyLeases: (id) => this.router.leaseBook().busyLeases(id),
    });
    this.activity.useRoomMaker(
      new SwapGroups({
        clock,
        bus,
        logger,
        runtimes,
        inventory: () => host.inventory(),
        resolveModelPath: (m) => host.resolveModelPath(m),
        busy: (id) => this.activity.busy(id),
        lastRequestAt: (id) => this.activity.lastRequestAt(id),
      }),
    );
    this.schedules = new ScheduleRunner({ runtimes, bus, logger }, config.timezone);
    this.desk = new LeaseDesk({
      leases: this.leases,
      leaseBook: () => this.router.leaseBook(),
      runtime: (id) => runtimes.get(id),
      ensureReady: (rt, deadline) => this.activity.ensureReady(rt, deadline),
      now: () => clock.now(),
      stopped: () => this.stopped,
    });
    this.quick = new QuickActions(
      {
        bus,
        runtimes,
        getRuntime: (id) => host.getRuntime(id),
        resolveModelPath: (m) => host.resolveModelPath(m),
        resolveHardware: (id) => host.resolveHardware(id),
        inventory: () => host.inventory(),
        sandboxes: () => host.sandboxes(),
        runtimeDeps: (spec) => host.runtimeDeps(spec),
        adopt: (rt) => host.adopt(rt),
        drained: (id, timeoutMs) => this.inFlight.drained(id, timeoutMs),
        now: () => clock.now(),
      },
      logger,
      (rt, next, check) => {
        this.activity.configure(rt.id, next.idle_ttl_ms);
        if (check !== undefined && next.model !== undefined)
          this.parameters.learn(check.path, check.parameter_count);
      },
    );
  }

  /** Restores leases, arms idle timers and schedules, and starts following runtime state. */
  start(): void {
    const config = this.host.config();
    const kept = this.leases.restore(this.host.stored().leases.filter(isStoredLease));
    if (kept.length > 0)
      this.logger.info({ leases: kept.length }, "leases restored with their remaining time");
    this.activity.configureAll();
    this.activity.sync();
    this.schedules.apply(config.schedule, config.timezone);
    this.offBus = this.host.bus.subscribe(["runtime.state.changed"], (event) => {
      const p = event.payload as { id: string; to: RuntimeState };
      // The idle period starts when the runtime is ready, not when it was asked to start.
      if (p.to === "ready") this.activity.touch(p.id);
      this.router.scheduleEvaluation();
    });
    void this.parameters.warm(this.host.runtimes.values());
  }

  /** Held leases on a cell and its capacity, for the matrix's load; undefined for a cell no runtime serves. */
  cellLeases(key: string): LeaseCount | undefined {
    const book = this.composeBook.get();
    const capacity = book.cellSlots(key);
    return capacity === 0 ? undefined : { held: book.cellHeld(key), capacity };
  }

  /** A matrix cell's request telemetry (matrix.get); undefined before its first request. */
  cellRequests(key: string): CellRequestTelemetry | undefined {
    return this.requests.cellTelemetry(key);
  }

  /** Routed-request statistics for the node entry's `http` block. */
  http(): NodeEntry["http"] {
    return this.requests.http(HTTP_WINDOW_MS);
  }

  onConfig(config: DaemonConfig): void {
    this.switches.reset(config.policy);
    this.quick.restoreFileSpecs(config.runtimes);
    this.activity.configureAll(new Set(config.runtimes.map((s) => s.id)));
    this.schedules.apply(config.schedule, config.timezone);
    this.leases.capacityChanged();
    this.activity.sync();
    void this.parameters.warm(this.host.runtimes.values());
    this.router.scheduleEvaluation();
  }

  stop(): void {
    this.stopped = true;
    this.offBus?.();
    this.router.stop();
    this.leases.stop();
    this.activity.stop();
    this.schedules.stop();
    this.quiesced = this.quick.stop();
  }

  /** Resolves once reloads in flight at `stop` have ended (the daemon's shutdown waits for it). */
  settled(): Promise<void> {
    return this.quiesced;
  }

  view(): Wire.PolicyView {
    return this.switches.view({ fallback: this.router.fallback.list(), schedules: this.schedules.list() });
  }

  setSwitches(patch: Wire.PolicySetParams): Wire.PolicyView {
    const next = this.switches.set(patch);
    this.logger.info(
      { policy: next },
      "policy switches changed over the socket (not written to the config file)",
    );
    this.router.evaluateAll();
    return this.view();
  }

  setPin(p: Wire.PinSetParams): Promise<PinRecord> {
    return setPin(this.pins, this.router, p);
  }

  clearPin(p: Wire.PinScopeParams): Promise<{ scope: string; removed: boolean }> {
    return clearPin(this.pins, this.router, p);
  }

  resolve(p: Wire.ResolveParams): Wire.ResolveResult {
    return this.router.resolve(p);
  }

  chat(
    p: Wire.ChatParams,
    notify?: (method: string, payload: unknown) => void,
    signal?: AbortSignal,
  ): Promise<Wire.ChatResult> {
    return respondChat(this.serving(), p, notify, signal);
  }

  /** Audio to a cell that serves transcription, with the same routing, waking and counting as chat. */
  transcribe(input: TranscribeInput): Promise<TranscribeResult> {
    return transcribe(this.serving(), input);
  }

  /** KServe v2 tensors to a cell that serves `infer` (onnxruntime), routed, woken and counted like chat. */
  infer(input: InferInput): Promise<InferResult> {
    return infer(this.serving(), input);
  }

  /**
   * Routing, waking and counting as `chat.respond` uses them, for requests that arrive another way (the
   * HTTP gateway): one machinery, so pins, fallback, modes, leases, on-demand start and idle_ttl agree.
   */
  serving(): ChatHost & {
    candidates(): Candidate[];
    observe(r: ObservedRequest): void;
    telemetry(): GatewaySeriesView[];
  } {
    const { host } = this;
    return {
      route: (req) => this.router.route(req),
      candidates: () => this.router.candidates(),
      stickyNote: (routed) => this.router.stickyNote(routed),
      runtime: (id) => host.runtimes.get(id),
      placeOf: (rt) => placeOf(rt.spec, (m) => host.models().get(m)),
      ensureReady: (rt, deadline, startStopped) => this.activity.ensureReady(rt, deadline, startStopped),
      begin: (id) => {
        const idle = this.activity.begin(id);
        const open = this.inFlight.begin(id);
        return () => {
          open();
          idle();
        };
      },
      record: (key, ms, ok, route = CHAT_ROUTE) => {
        this.requests.record(key, route, ms, ok);
        host.onRouted({ model: modelOfCell(key), cell: key, code: ok ? "200" : "502", seconds: ms / 1000 });
      },
      // The gateway's one record per request: telemetry, routing's p95 and the Prometheus series alike.
      observe: (r) => {
        this.requests.observe(r);
        const seconds = r.ms / 1000;
        host.onRouted(
          r.ttftMs === undefined
            ? { model: r.model, cell: r.cell, code: codeLabel(r.code), seconds }
            : {
                model: r.model,
                cell: r.cell,
                code: codeLabel(r.code),
                seconds,
                ttft_seconds: r.ttftMs / 1000,
              },
        );
      },
      telemetry: () => this.requests.view(),
      now: () => host.clock.now(),
    };
  }
}

/** Creates and starts the policy service on its host. */
export function attachPolicy(host: PolicyHost): Policy {
  const policy = new Policy(host);
  policy.start();
  return policy;
}
