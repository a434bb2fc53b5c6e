/**
 * Quick actions: reload a runtime on another model, switch it to other hardware or another sandbox. Each
 * checks everything it can BEFORE touching the runtime (file exists, GGUF readable, fits the hardware,
 * hardware known, sandbox usable), so a bad request leaves the old process serving and says why.
 */

import { stat } from "node:fs/promises";
import os from "node:os";
import type { Logger } from "pino";
import { getAdapter } from "../../adapters/registry.js";
import {
  estimateMemory,
  type FitTarget,
  fitOn,
  type MemoryEstimate,
} from "../../adapters/shared/gguf/estimate.js";
import { readGguf } from "../../adapters/shared/gguf/reader.js";
import type { HardwareTarget } from "../../adapters/types.js";
import { isRmxError, RmxError } from "../../base/errors.js";
import type { FitVerdict } from "../../base/fit.js";
import type { RuntimeSpec, SandboxKind } from "../../base/spec.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import type { QuickActionResult, ReloadParams, SwitchParams } from "../../ipc/protocol/policy.js";
import type { SandboxDetection } from "../sandbox/detect.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import { awaitSettled, SETTLED_STATES, type SettleBus } from "../supervise/settle.js";

export interface QuickActionHost {
  resolveModelPath(model: string | undefined): string | undefined;
  /** Throws RmxError HARDWARE_UNKNOWN. */
  resolveHardware(id: string): HardwareTarget;
  inventory: HardwareInventory | undefined;
  sandboxes: readonly SandboxDetection[];
  /** Free system memory now, in bytes. */
  freeMemory(): number;
}

export interface ModelCheck {
  path: string;
  parameter_count: number;
  estimate: MemoryEstimate;
  fit: FitVerdict;
}

const SANDBOX_KINDS: readonly SandboxKind[] = ["none", "bwrap", "systemd-run"];

async function fileSize(file: string | undefined): Promise<number> {
  if (file === undefined) return 0;
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

function currentModelPath(host: QuickActionHost, spec: RuntimeSpec): string | undefined {
  try {
    return host.resolveModelPath(spec.model);
  } catch {
    return undefined;
  }
}

/** What the runtime's hardware offers; CPU counts the memory the current model frees when it is replaced. */
function fitTarget(host: QuickActionHost, hardware: string, freedBytes: number): FitTarget {
  const target = host.resolveHardware(hardware);
  if (target.kind === "gpu") {
    const vram = host.inventory?.gpus.find((g) => g.id === hardware)?.vram_bytes;
    return vram === undefined
      ? { kind: "gpu", id: hardware }
      : { kind: "gpu", vram_bytes: vram, id: hardware };
  }
  return { kind: "cpu", available_bytes: host.freeMemory() + freedBytes, id: "cpu" };
}

/**
 * Validates `model` for `spec` on `hardware`: MODEL_MISSING (no such id or file), MODEL_INVALID (not a
 * readable GGUF), MODEL_DOES_NOT_FIT (the estimate exceeds the hardware's memory). `keeps` is appended to
 * every message ("llama-a keeps serving llama-8b").
 */
export async function checkModel(
  host: QuickActionHost,
  spec: RuntimeSpec,
  model: string,
  hardware: string,
  keeps: string,
): Promise<ModelCheck> {
  const where = { id: spec.id, model };
  let file: string | undefined;
  try {
    file = host.resolveModelPath(model);
  } catch (error) {
    if (isRmxError(error))
      throw new RmxError(error.code, `${error.message}; ${keeps}`, { ...error.data, ...where });
    throw error;
  }
  if (file === undefined) throw new RmxError("MODEL_MISSING", `no model given; ${keeps}`, where);
  try {
    const s = await stat(file);
    if (!s.isFile())
      throw new RmxError("MODEL_MISSING", `model ${file} is not a file; ${keeps}`, { ...where, path: file });
  } catch (error) {
    if (isRmxError(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(error)})`;
    throw new RmxError("MODEL_MISSING", `model file ${file} ${why}; ${keeps}`, { ...where, path: file });
  }
  let info: Awaited<ReturnType<typeof readGguf>>;
  try {
    info = await readGguf(file);
  } catch (error) {
    const base = error instanceof Error ? error.message : String(error);
    const code = isRmxError(error) && error.code === "MODEL_MISSING" ? "MODEL_MISSING" : "MODEL_INVALID";
    throw new RmxError(code, `model ${file} is not a usable GGUF file (${base}); ${keeps}`, {
      ...where,
      path: file,
    });
  }
  const estimate = estimateMemory(info, {
    ...(spec.context !== undefined ? { context: spec.context } : {}),
    ...(spec.slots !== undefined ? { slots: spec.slots } : {}),
  });
  const freed = hardware === spec.hardware ? await fileSize(currentModelPath(host, spec)) : 0;
  const fit = fitOn(estimate, fitTarget(host, hardware, freed));
  if (fit.fits === false) {
    throw new RmxError(
      "MODEL_DOES_NOT_FIT",
      `model ${file} does not fit ${hardware}: ${fit.reason}; ${keeps}`,
      {
        ...where,
        path: file,
        hardware,
        fit,
      },
    );
  }
  return { path: file, parameter_count: info.parameter_count, estimate, fit };
}

/** SANDBOX_UNAVAILABLE unless `kind` works here. */
export function checkSandbox(host: QuickActionHost, kind: string, keeps: string): SandboxKind {
  if (!(SANDBOX_KINDS as readonly string[]).includes(kind)) {
    throw new RmxError(
      "CONFIG_INVALID",
      `unknown sandbox "${kind}" (expected ${SANDBOX_KINDS.join(", ")}); ${keeps}`,
      {
        sandbox: kind,
      },
    );
  }
  const sandbox = kind as SandboxKind;
  if (sandbox === "none") return sandbox;
  const found = host.sandboxes.find((s) => s.kind === sandbox);
  if (found === undefined || !found.available) {
    const why = found?.reason ?? "it was not detected on this machine";
    throw new RmxError("SANDBOX_UNAVAILABLE", `sandbox ${sandbox} is not available here: ${why}; ${keeps}`, {
      sandbox,
      reason: why,
    });
  }
  return sandbox;
}

/** HARDWARE_UNKNOWN unless the inventory has it. */
export function checkHardware(host: QuickActionHost, hardware: string, keeps: string): string {
  try {
    return host.resolveHardware(hardware).id;
  } catch (error) {
    if (isRmxError(error))
      throw new RmxError(error.code, `${error.message}; ${keeps}`, { ...error.data, hardware });
    throw error;
  }
}

export function keepsServing(spec: RuntimeSpec, state: string): string {
  const what = spec.model !== undefined ? ` ${spec.model}` : "";
  return state === "ready" || state === "degraded"
    ? `${spec.id} keeps serving${what} unchanged`
    : `${spec.id} is left unchanged (state ${state})`;
}

const DEFAULT_QUICK_WAIT_MS = 120_000;
const OVERRIDE_NOTE =
  "the new spec is kept in memory until the next config reload; edit the config file to make it permanent";

/** What `runtime.reload` / `runtime.switch` need of the daemon. */
export interface QuickActionsHost {
  readonly bus: SettleBus;
  readonly runtimes: ReadonlyMap<string, RuntimeSupervisor>;
  /** Throws RmxError RUNTIME_NOT_FOUND. */
  getRuntime(id: string): RuntimeSupervisor;
  resolveModelPath(model: string | undefined): string | undefined;
  /** Throws RmxError HARDWARE_UNKNOWN. */
  resolveHardware(id: string): HardwareTarget;
  inventory(): HardwareInventory | undefined;
  sandboxes(): readonly SandboxDetection[];
}

/** A runtime took a new spec (its idle TTL may have changed; a model check read its parameter count). */
export type OnApplied = (rt: RuntimeSupervisor, next: RuntimeSpec, check: ModelCheck | undefined) => void;

/**
 * Reload and switch: the new spec is kept in memory only (not written to the config file) and lasts until
 * the next config reload, which puts every overridden runtime back on its file spec.
 */
export class QuickActions {
  private readonly overridden = new Set<string>();

  constructor(
    private readonly host: QuickActionsHost,
    private readonly logger: Pick<Logger, "info">,
    private readonly onApplied: OnApplied,
  ) {}

  /** The checks' view of the daemon, taken now. */
  private checks(): QuickActionHost {
    const { host } = this;
    return {
      resolveModelPath: (m) => host.resolveModelPath(m),
      resolveHardware: (id) => host.resolveHardware(id),
      inventory: host.inventory(),
      sandboxes: host.sandboxes(),
      freeMemory: () => os.freemem(),
    };
  }

  async reload(p: ReloadParams): Promise<QuickActionResult> {
    const rt = this.host.getRuntime(p.id);
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
    const host = this.checks();
    const hardware = p.hardware === undefined ? spec.hardware : checkHardware(host, p.hardware, keeps);
    const sandbox = p.sandbox === undefined ? spec.sandbox.kind : checkSandbox(host, p.sandbox, keeps);
    let check: ModelCheck | undefined;
    if (spec.model !== undefined && hardware !== spec.hardware) {
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

  private async applySpec(
    rt: RuntimeSupervisor,
    previous: RuntimeSpec,
    next: RuntimeSpec,
    action: "reload" | "switch",
    p: { wait?: boolean; timeout_ms?: number },
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
    const willRestart = rt.desired === "running" && rt.state !== "idle";
    const timeoutMs = p.timeout_ms ?? DEFAULT_QUICK_WAIT_MS;
    // Armed before the restart, so its first settled state is not missed.
    const settled =
      p.wait === true && willRestart
        ? awaitSettled(rt, this.host.bus, { states: SETTLED_STATES, timeoutMs, next: true }).then((s) =>
            s.timedOut
              ? {
                  outcome: "timeout" as const,
                  detail: `not settled within ${timeoutMs} ms (state ${s.state})`,
                }
              : { outcome: s.state as QuickActionResult["outcome"] },
          )
        : undefined;
    rt.reconfigure(next);
    this.overridden.add(rt.id);
    this.logger.info(
      { runtime: rt.id, action, model: next.model, hardware: next.hardware, sandbox: next.sandbox.kind },
      `runtime ${action}: ${OVERRIDE_NOTE}`,
    );
    this.onApplied(rt, next, check);
    const result: QuickActionResult = {
      id: rt.id,
      action,
      hardware: next.hardware,
      previous_hardware: previous.hardware,
      sandbox: next.sandbox.kind,
      previous_sandbox: previous.sandbox.kind,
      restarted: willRestart,
      state: rt.state,
      restart_budget: rt.budget(),
      note: willRestart
        ? OVERRIDE_NOTE
        : `${rt.id} is ${rt.state}: the change applies at its next start; ${OVERRIDE_NOTE}`,
    };
    if (next.model !== undefined) result.model = next.model;
    if (previous.model !== undefined) result.previous_model = previous.model;
    if (check !== undefined) {
      const { fits, reason } = check.fit;
      result.fit = { fits, reason };
      if (check.fit.need_bytes !== undefined) result.fit.need_bytes = check.fit.need_bytes;
      if (check.fit.available_bytes !== undefined) result.fit.available_bytes = check.fit.available_bytes;
    }
    if (settled !== undefined) {
      const s = await settled;
      result.outcome = s.outcome;
      const reason = rt.view().reason;
      if ("detail" in s && s.detail !== undefined) result.detail = s.detail;
      else if (reason !== undefined && s.outcome !== "ready") result.detail = reason;
      result.state = rt.state;
      result.restart_budget = rt.budget();
    }
    return result;
  }
}
