/**
 * Quick actions: reload a runtime on another model, switch it to other hardware or another sandbox. The
 * checks (quick-checks.ts) run before the runtime is touched; a runtime that serves is then changed as a
 * transaction (reload-transaction.ts): the old process serves until the new spec is proven, a failure
 * leaves (or brings back) the old one, and no restart budget is spent. A runtime that does not serve
 * (stopped, idle, failed, starting) takes the new spec for its next start, as before.
 */
import type { Logger } from "pino";
import { getAdapter } from "../../adapters/registry.js";
import type { HardwareTarget } from "../../adapters/types.js";
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import type { QuickActionResult } from "../../ipc/protocol/policy.js";
import type { ReloadParams, SwitchParams } from "../../ipc/protocol/policy.schema.js";
import type { EventBus } from "../events.js";
import type { SandboxDetection } from "../sandbox/detect.js";
import type { RuntimeDeps, RuntimeSupervisor } from "../supervise/runtime.js";
import { awaitSettled, SETTLED_STATES } from "../supervise/settle.js";
import type { Candidate } from "./candidate.js";
import {
  checkHardware,
  checkModel,
  checkSandbox,
  freeMemoryReader,
  keepsServing,
  type ModelCheck,
  planTakeover,
  type QuickActionHost,
} from "./quick-checks.js";
import { runTransaction, type TransactionOutcome } from "./reload-transaction.js";

export { checkHardware, checkModel, checkSandbox, keepsServing, type ModelCheck } from "./quick-checks.js";

const DEFAULT_QUICK_WAIT_MS = 120_000;
const OVERRIDE_NOTE =
  "the new spec is kept in memory until the next config reload; edit the config file to make it permanent";

/** What `runtime.reload` / `runtime.switch` need of the daemon. */
export interface QuickActionsHost {
  readonly bus: Pick<EventBus, "publish" | "waitFor">;
  readonly runtimes: ReadonlyMap<string, RuntimeSupervisor>;
  /** Throws RmxError RUNTIME_NOT_FOUND. */
  getRuntime(id: string): RuntimeSupervisor;
  resolveModelPath(model: string | undefined): string | undefined;
  /** Throws RmxError HARDWARE_UNKNOWN. */
  resolveHardware(id: string): HardwareTarget;
  inventory(): HardwareInventory | undefined;
  sandboxes(): readonly SandboxDetection[];
  /** The deps the daemon builds every supervisor of a runtime with (for a reload's candidate). */
  runtimeDeps(spec: RuntimeSpec): RuntimeDeps;
  /** Makes `rt` the runtime of its id (a reload's candidate taking over). */
  adopt(rt: RuntimeSupervisor): void;
  /** True once every request to `id` open now has ended; false after `timeoutMs`. */
  drained(id: string, timeoutMs: number): Promise<boolean>;
  now(): number;
}

/** A runtime took a new spec (its idle TTL may have changed; a model check read its parameter count). */
export type OnApplied = (rt: RuntimeSupervisor, next: RuntimeSpec, check: ModelCheck | undefined) => void;

type Action = "reload" | "switch";
type WaitParams = { wait?: boolean; timeout_ms?: number };

/**
 * Reload and switch: the new spec is kept in memory only (not written to the config file) and lasts until
 * the next config reload, which puts every overridden runtime back on its file spec.
 */
export class QuickActions {
  private readonly overridden = new Set<string>();
  /** Transactions in flight, by runtime id: a second reload of the same runtime is RUNTIME_BUSY. */
  private readonly inFlight = new Map<string, { action: Action; next: RuntimeSpec }>();
  /** Candidates starting now, stopped if the daemon stops first. */
  private readonly candidates = new Map<string, Candidate>();
  private stopped = false;
  /** Transactions running now, awaited by a daemon shutdown (one may still hold an old process). */
  private readonly running = new Set<Promise<unknown>>();
  private readonly stopSignal: Promise<void>;
  private signalStop: () => void = () => {};
  private readonly freeMemory = freeMemoryReader();

  constructor(
    private readonly host: QuickActionsHost,
    private readonly logger: Pick<Logger, "info" | "warn" | "error">,
    private readonly onApplied: OnApplied,
  ) {
    this.stopSignal = new Promise((resolve) => {
      this.signalStop = resolve;
    });
  }

  /** The checks' view of the daemon, taken now. */
  private checks(): QuickActionHost {
    const { host } = this;
    return {
      resolveModelPath: (m) => host.resolveModelPath(m),
      resolveHardware: (id) => host.resolveHardware(id),
      inventory: host.inventory(),
      sandboxes: host.sandboxes(),
      freeMemory: this.freeMemory,
    };
  }

  async reload(p: ReloadParams): Promise<QuickActionResult> {
    const rt = this.host.getRuntime(p.id);
    this.refuseIfBusy(rt.id, "reload");
    const spec = rt.spec;
    const keeps = keepsServing(spec, rt.state);
    const model = p.model ?? spec.model;
    let check: ModelCheck | undefined;
    if (getAdapter(spec.adapter).modelFormat === "gguf" && model !== undefined) {
      check = await checkModel(this.checks(), spec, model, spec.hardware, keeps);
    }
    const next: RuntimeSpec = model === undefined ? { ...spec } : { ...spec, model };
    return this.applySpec(rt, spec, next, "reload", p, check);
  }

  async switchRuntime(p: SwitchParams): Promise<QuickActionResult> {
    const rt = this.host.getRuntime(p.id);
    const spec = rt.spec;
    const keeps = keepsServing(spec, rt.state);
    if (p.sandbox === undefined && p.hardware === undefined) {
      throw new RmxError(
        "CONFIG_INVALID",
        `runtime.switch ${spec.id}: give a sandbox, a hardware id, or both`,
        {
          id: spec.id,
        },
      );
    }
    if (!getAdapter(spec.adapter).spawns) {
      throw new RmxError(
        "CONFIG_INVALID",
        `runtime ${spec.id} is remote: it has no hardware or sandbox to switch`,
        {
          id: spec.id,
        },
      );
    }
    this.refuseIfBusy(rt.id, "switch");
    const host = this.checks();
    const hardware = p.hardware === undefined ? spec.hardware : checkHardware(host, p.hardware, keeps);
    const adapter = getAdapter(spec.adapter);
    if (hardware.includes(",") && adapter.multiGpu !== true) {
      throw new RmxError(
        "CONFIG_INVALID",
        `hardware ${hardware} is a GPU list, which adapter ${spec.adapter} cannot use (name one GPU, gpu:N); ${keeps}`,
        { id: spec.id, hardware },
      );
    }
    const sandbox = p.sandbox === undefined ? spec.sandbox.kind : checkSandbox(host, p.sandbox, keeps);
    let check: ModelCheck | undefined;
    // The GGUF check, as reload's: other formats are checked by the backend's launch (assertModel, its loader).
    if (spec.model !== undefined && hardware !== spec.hardware && adapter.modelFormat === "gguf") {
      check = await checkModel(host, spec, spec.model, hardware, keeps);
    }
    const next: RuntimeSpec = { ...spec, hardware, sandbox: { ...spec.sandbox, kind: sandbox } };
    return this.applySpec(rt, spec, next, "switch", p, check);
  }

  /** A config reload: each overridden runtime the reload left alone goes back to its file spec. */
  restoreFileSpecs(fileSpecs: readonly RuntimeSpec[]): void {
    for (const id of this.overridden) {
      const rt = this.host.runtimes.get(id);
      const fileSpec = fileSpecs.find((s) => s.id === id);
      // A runtime the reload rebuilt already runs its file spec; one it left alone goes back to it.
      if (rt !== undefined && fileSpec !== undefined && rt.spec !== fileSpec) rt.reconfigure(fileSpec);
    }
    this.overridden.clear();
  }

  /**
   * Daemon shutdown: a candidate still starting is stopped (it is in no runtime map the shutdown sees), an
   * old process waiting for its requests is stopped now; resolves once every transaction has ended.
   */
  stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    const all = [...this.candidates.values()];
    this.candidates.clear();
    return Promise.allSettled([...all.map((c) => c.discard()), ...this.running]).then(() => undefined);
  }

  private refuseIfBusy(id: string, action: Action): void {
    const busy = this.inFlight.get(id);
    if (busy === undefined) return;
    const to = busy.next.model !== undefined ? ` to ${busy.next.model} on ${busy.next.hardware}` : "";
    throw new RmxError(
      "RUNTIME_BUSY",
      `runtime ${id} is in a ${busy.action}${to} already; ${action} it again once that one has finished`,
      { id, action: busy.action },
    );
  }

  private async applySpec(
    rt: RuntimeSupervisor,
    previous: RuntimeSpec,
    next: RuntimeSpec,
    action: Action,
    p: WaitParams,
    check: ModelCheck | undefined,
  ): Promise<QuickActionResult> {
    if (this.host.runtimes.get(rt.id) !== rt || rt.spec !== previous) {
      throw new RmxError(
        "RUNTIME_BUSY",
        `runtime ${rt.id} changed while ${action} was being checked; try again`,
        {
          id: rt.id,
        },
      );
    }
    this.refuseIfBusy(rt.id, action);
    if (this.stopped)
      throw new RmxError("RUNTIME_BUSY", `rmxd is stopping; ${action} of ${rt.id} not started`);
    const serving =
      rt.desired === "running" &&
      (rt.state === "ready" || rt.state === "degraded") &&
      getAdapter(previous.adapter).spawns;
    const result = baseResult(rt, previous, next, action, check);
    if (serving) return this.transaction(rt, previous, next, action, p, check, result);

    // Not serving: nothing to keep up; the new spec applies now (a restart) or at the next start.
    const willRestart = rt.desired === "running" && rt.state !== "idle";
    const timeoutMs = p.timeout_ms ?? DEFAULT_QUICK_WAIT_MS;
    // Armed before the restart, so its first settled state is not missed.
    const settled =
      p.wait === true && willRestart
        ? awaitSettled(rt, this.host.bus, { states: SETTLED_STATES, timeoutMs, next: true })
        : undefined;
    rt.reconfigure(next);
    this.applied(rt, next, action, check);
    result.restarted = willRestart;
    result.state = rt.state;
    if (!willRestart)
      result.note = `${rt.id} is ${rt.state}: the change applies at its next start; ${OVERRIDE_NOTE}`;
    if (settled !== undefined) {
      const s = await settled;
      result.outcome = s.timedOut ? "timeout" : (s.state as QuickActionResult["outcome"]);
      const reason = rt.view().reason;
      if (s.timedOut) result.detail = `not settled within ${timeoutMs} ms (state ${s.state})`;
      else if (reason !== undefined && s.state !== "ready") result.detail = reason;
      result.state = rt.state;
      result.restart_budget = rt.budget();
    }
    return result;
  }

  /** The serving runtime: a transaction; with `wait`, its outcome (or RELOAD_FAILED). */
  private async transaction(
    rt: RuntimeSupervisor,
    previous: RuntimeSpec,
    next: RuntimeSpec,
    action: Action,
    p: WaitParams,
    check: ModelCheck | undefined,
    result: QuickActionResult,
  ): Promise<QuickActionResult> {
    const choice = await planTakeover(this.checks(), previous, next, check);
    this.refuseIfBusy(rt.id, action); // the plan read files: another request may have come in meanwhile
    this.inFlight.set(rt.id, { action, next });
    this.logger.info(
      {
        runtime: rt.id,
        action,
        model: next.model,
        hardware: next.hardware,
        sandbox: next.sandbox.kind,
        path: choice.path,
      },
      `runtime ${action} (${choice.path}: ${choice.reason}): ${OVERRIDE_NOTE}`,
    );
    const track = (c: Candidate | undefined) => {
      if (c === undefined) this.candidates.delete(rt.id);
      else if (this.stopped) void c.discard();
      else this.candidates.set(rt.id, c);
    };
    const host = {
      ...this.host,
      bus: this.host.bus,
      runtimes: this.host.runtimes,
      stopping: () => this.stopped,
      drained: (id: string, ms: number) =>
        Promise.race([this.host.drained(id, ms), this.stopSignal.then(() => false)]),
    };
    const run = runTransaction(
      host,
      rt,
      { action, previous, next, path: choice.path, pathReason: choice.reason },
      this.logger,
      track,
    )
      .then((outcome) => {
        this.applied(outcome.rt, next, action, check);
        return outcome;
      })
      .finally(() => {
        this.inFlight.delete(rt.id);
        this.running.delete(run);
      });
    this.running.add(run);
    run.catch((error) => this.logger.warn({ runtime: rt.id, err: error }, `runtime ${action} failed`));
    result.restarted = true;
    result.takeover = { path: choice.path, reason: choice.reason };
    if (p.wait !== true) return result;

    const timeoutMs = p.timeout_ms ?? DEFAULT_QUICK_WAIT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    let outcome: TransactionOutcome | undefined;
    try {
      outcome = await Promise.race([run, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    if (outcome === undefined) {
      result.outcome = "timeout";
      result.detail = `not settled within ${timeoutMs} ms (the ${action} goes on; state ${rt.state})`;
      return result;
    }
    const now = outcome.rt;
    result.outcome = "ready";
    result.state = now.state;
    result.restart_budget = now.budget();
    result.takeover.took_over_ms = outcome.took_over_ms;
    if (outcome.old_pid !== undefined) result.takeover.old_pid = outcome.old_pid;
    if (outcome.new_pid !== undefined) result.takeover.new_pid = outcome.new_pid;
    return result;
  }

  private applied(
    rt: RuntimeSupervisor,
    next: RuntimeSpec,
    action: Action,
    check: ModelCheck | undefined,
  ): void {
    this.overridden.add(rt.id);
    this.logger.info(
      { runtime: rt.id, action, model: next.model, hardware: next.hardware, sandbox: next.sandbox.kind },
      `runtime ${action} applied`,
    );
    this.onApplied(rt, next, check);
  }
}

function baseResult(
  rt: RuntimeSupervisor,
  previous: RuntimeSpec,
  next: RuntimeSpec,
  action: Action,
  check: ModelCheck | undefined,
): QuickActionResult {
  const result: QuickActionResult = {
    id: rt.id,
    action,
    hardware: next.hardware,
    previous_hardware: previous.hardware,
    sandbox: next.sandbox.kind,
    previous_sandbox: previous.sandbox.kind,
    restarted: false,
    state: rt.state,
    restart_budget: rt.budget(),
    note: OVERRIDE_NOTE,
  };
  if (next.model !== undefined) result.model = next.model;
  if (previous.model !== undefined) result.previous_model = previous.model;
  if (check !== undefined) {
    const { fits, reason } = check.fit;
    result.fit = { fits, reason };
    if (check.fit.need_bytes !== undefined) result.fit.need_bytes = check.fit.need_bytes;
    if (check.fit.available_bytes !== undefined) result.fit.available_bytes = check.fit.available_bytes;
  }
  return result;
}
