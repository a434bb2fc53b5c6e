/**
 * Quick actions: reload a runtime on another model, switch it to other hardware or another sandbox. Each
 * checks everything it can BEFORE touching the runtime (file exists, GGUF readable, fits the hardware,
 * hardware known, sandbox usable), so a bad request leaves the old process serving and says why.
 */
import { stat } from "node:fs/promises";
import type { HardwareTarget } from "../../adapters/types.js";
import { isRmxError, RmxError } from "../../base/errors.js";
import type { HardwareInventory } from "../hardware/types.js";
import { estimateMemory, type FitTarget, fitOn, type MemoryEstimate } from "../models/estimate.js";
import { readGguf } from "../models/gguf.js";
import type { FitVerdict, RuntimeSpec, SandboxKind } from "../types.js";
import type { SandboxAvailability } from "./candidates.js";

export interface QuickActionHost {
  resolveModelPath(model: string | undefined): string | undefined;
  /** Throws RmxError HARDWARE_UNKNOWN. */
  resolveHardware(id: string): HardwareTarget;
  inventory: HardwareInventory | undefined;
  sandboxes: readonly SandboxAvailability[];
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
