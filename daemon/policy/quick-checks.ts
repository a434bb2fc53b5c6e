/**
 * The checks of the quick actions (reload, switch), made BEFORE the runtime is touched: file exists, GGUF
 * readable and loadable, fits the hardware, hardware known, sandbox usable; so a bad request leaves the old
 * process serving and says why. Also which way the new process takes over (beside the old one or after it).
 */

import os from "node:os";
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
import { stat } from "../../base/fs-async.js";
import type { RuntimeSpec, SandboxKind } from "../../base/spec.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import type { SandboxDetection } from "../sandbox/detect.js";
import { chooseTakeover, type TakeoverChoice } from "./takeover.js";

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
    // A file llama.cpp refuses fits nowhere: say what it lacks, not a memory figure.
    const what =
      estimate.load_problems !== undefined && estimate.load_problems.length > 0
        ? `cannot run on ${hardware}: ${fit.reason} (llama.cpp's loader refuses it)`
        : `does not fit ${hardware}: ${fit.reason}`;
    throw new RmxError("MODEL_DOES_NOT_FIT", `model ${file} ${what}; ${keeps}`, {
      ...where,
      path: file,
      hardware,
      fit,
    });
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

/**
 * Free memory as the fit checks read it: `os.freemem()`, or `RMX_FREE_MEMORY_BYTES` when set (a what-if
 * knob for tests and for trying a tighter machine; it changes no other reading).
 */
export function freeMemoryReader(env: NodeJS.ProcessEnv = process.env): () => number {
  const raw = env.RMX_FREE_MEMORY_BYTES;
  const forced = raw !== undefined && /^\d+$/.test(raw.trim()) ? Number(raw) : undefined;
  return forced !== undefined ? () => forced : () => os.freemem();
}

/** The memory estimate of `spec`'s model, or undefined when it has none or it cannot be read. */
async function specNeed(host: QuickActionHost, spec: RuntimeSpec): Promise<number | undefined> {
  const file = currentModelPath(host, spec);
  if (file === undefined) return undefined;
  try {
    const info = await readGguf(file);
    return estimateMemory(info, {
      ...(spec.context !== undefined ? { context: spec.context } : {}),
      ...(spec.slots !== undefined ? { slots: spec.slots } : {}),
    }).total_bytes;
  } catch {
    return undefined;
  }
}

/** Whether `next` can start beside `previous` (both fit at once) or must replace it. */
export async function planTakeover(
  host: QuickActionHost,
  previous: RuntimeSpec,
  next: RuntimeSpec,
  check: ModelCheck | undefined,
): Promise<TakeoverChoice> {
  const newNeed = check?.estimate.total_bytes ?? (await specNeed(host, next));
  const target = host.resolveHardware(next.hardware);
  if (target.kind !== "gpu") {
    return chooseTakeover({
      newNeedBytes: newNeed,
      oldNeedBytes: undefined,
      target: { kind: "cpu", free_bytes: host.freeMemory() },
    });
  }
  const shared = previous.hardware === next.hardware;
  return chooseTakeover({
    newNeedBytes: newNeed,
    oldNeedBytes: shared ? await specNeed(host, previous) : undefined,
    target: {
      kind: "gpu",
      vram_bytes: host.inventory?.gpus.find((g) => g.id === next.hardware)?.vram_bytes,
      shared,
    },
  });
}
