/**
 * The launch pipeline for one spawn: resolve hardware, model, port and binary into a plan, wrap it in the
 * sandbox, then spawn it with its output going to the runtime's log. Throws RmxError (HARDWARE_UNKNOWN,
 * MODEL_MISSING, PORT_IN_USE, BINARY_NOT_FOUND, SANDBOX_UNAVAILABLE, …); the supervisor turns that into
 * a `spawn_failed` input.
 */

import { getAdapter } from "../../adapters/registry.js";
import { launchContext } from "../../adapters/shared/gguf/estimate.js";
import { readGguf } from "../../adapters/shared/gguf/reader.js";
import type { Adapter, HardwareTarget, LaunchPlan } from "../../adapters/types.js";
import { stat } from "../../base/fs-async.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { assertModelReadable, resolveBinary } from "../process/binary.js";
import { containment } from "../process/cgroup.js";
import { type ChildHandle, forkChild, type SpawnOptions } from "../process/child.js";
import { environmentSnapshot } from "../process/env-snapshot.js";
import type { RotatingLog } from "../process/logs.js";
import { allocatePort, assertPortFree } from "../process/port.js";

export interface LaunchDeps {
  adapter: Adapter;
  stubEntry: string;
  resolveHardware: (id: string) => HardwareTarget;
  resolveModelPath: (model: string | undefined) => string | undefined;
  wrapSandbox: (plan: LaunchPlan, spec: RuntimeSpec, modelPath: string | undefined) => LaunchPlan;
  /** Position of the runtime in the config's `runtimes:` list, for messages that name the key to set. */
  configIndex?: (id: string) => number | undefined;
  /** The matrix's model id for a spec: the launch context's `modelId` (the name a backend serves it under). */
  modelId?: (spec: RuntimeSpec) => string | undefined;
}

export interface PreparedLaunch {
  plan: LaunchPlan;
  port: number;
  /** `process.env` as it was at the preparation (shared, see env-snapshot.ts): what the plan's env is merged onto at the spawn. */
  baseEnv: Readonly<NodeJS.ProcessEnv>;
}

/** Training context by model file (path, size, mtime): a GGUF header is read once, not on every respawn. */
const trainedContexts = new Map<string, number | undefined>();

/**
 * The context the runtime is launched with: the configured `context`, else the model's training context
 * capped at DEFAULT_CONTEXT — the same rule the memory estimate uses, so the estimate is what runs.
 */
async function contextFor(
  spec: RuntimeSpec,
  adapter: Adapter,
  modelPath: string | undefined,
): Promise<number | undefined> {
  if (spec.context !== undefined) return spec.context;
  if (adapter.modelFormat !== "gguf" || modelPath === undefined) return undefined;
  let key: string;
  try {
    const s = await stat(modelPath);
    key = `${modelPath}\0${s.size}\0${s.mtimeMs}`;
  } catch {
    return undefined;
  }
  if (!trainedContexts.has(key)) {
    let trained: number | undefined;
    try {
      trained = (await readGguf(modelPath)).context_length;
    } catch {
      trained = undefined; // not our failure to report: the backend names what is wrong with the file
    }
    trainedContexts.set(key, trained);
  }
  return launchContext({ context_length: trainedContexts.get(key) });
}

/** Everything up to the spawn: a plan with a resolved binary and a port that was free a moment ago. */
export async function prepareLaunch(spec: RuntimeSpec, deps: LaunchDeps): Promise<PreparedLaunch> {
  const hardware = deps.resolveHardware(spec.hardware);
  const modelPath = deps.resolveModelPath(spec.model);
  if (modelPath !== undefined) await (deps.adapter.assertModel ?? assertModelReadable)(modelPath);
  let port: number;
  if (spec.port !== undefined) {
    await assertPortFree(spec.host, spec.port);
    port = spec.port;
  } else {
    port = await allocatePort(spec.host);
  }
  const context = await contextFor(spec, deps.adapter, modelPath);
  const modelId = deps.modelId?.(spec);
  let plan = deps.adapter.plan(spec, {
    port,
    host: spec.host,
    ...(modelPath !== undefined ? { modelPath } : {}),
    ...(context !== undefined ? { context } : {}),
    ...(modelId !== undefined ? { modelId } : {}),
    hardware,
    stubEntry: deps.stubEntry,
  });
  const hint = binaryHint(spec, deps.configIndex?.(spec.id));
  const baseEnv = environmentSnapshot();
  plan = {
    ...plan,
    command: await resolveBinary(plan.command, { ...baseEnv, ...plan.env }, hint ? { hint } : {}),
  };
  return { plan: deps.wrapSandbox(plan, spec, modelPath), port, baseEnv };
}

/** Where a spawn's child goes and how it is made durable (see SpawnOptions). */
export interface SpawnTarget {
  log: RotatingLog;
  unit: SpawnOptions["unit"];
  recordSpawn: SpawnOptions["recordSpawn"];
}

/** Spawns the plan in its own process group, its output into `log` (after a line saying what starts). */
export async function spawnPlan(prepared: PreparedLaunch, target: SpawnTarget): Promise<ChildHandle> {
  const cgroupBase = target.unit === undefined ? undefined : (await containment()).dir;
  return forkPlan(prepared, target, cgroupBase);
}

/**
 * spawnPlan with the containment known (`containmentKnown()`): the fork happens in this call, the
 * promise is the rest (see forkChild). A spawn() that throws throws here.
 */
export function forkPlan(
  { plan, baseEnv }: PreparedLaunch,
  { log, unit, recordSpawn }: SpawnTarget,
  cgroupBase: string | undefined,
): Promise<ChildHandle> {
  // Before the fork: nothing the new process writes can reach the log before this line.
  log.write(`--- rmxd: starting ${plan.command} ${plan.args.join(" ")}\n`);
  const options: SpawnOptions = {
    command: plan.command,
    args: plan.args,
    env: plan.env,
    baseEnv,
    ...(plan.cwd !== undefined ? { cwd: plan.cwd } : {}),
    log,
    ...(unit !== undefined ? { unit } : {}),
    ...(recordSpawn !== undefined ? { recordSpawn } : {}),
  };
  return forkChild(options, cgroupBase);
}

/** What a user can set when the binary is not found: the adapter knows (the config key, an env variable). */
function binaryHint(spec: RuntimeSpec, index: number | undefined): string | undefined {
  return getAdapter(spec.adapter).binaryHint(`runtimes[${index ?? "?"}].binary`);
}

/** Sandbox wrappers are spared the stop signal so the backend inside gets its grace (see stopProcessGroup). */
export function stopOptions(spec: RuntimeSpec) {
  const { signal, grace_ms } = spec.stop;
  return spec.sandbox.kind === "bwrap" ? { signal, grace_ms, spare: ["bwrap"] } : { signal, grace_ms };
}

/** SIGCONT to a process group (a no-op for one that runs); none on Windows, gone is fine. */
export function resumeGroup(pgid: number): void {
  if (process.platform === "win32") return;
  try {
    process.kill(-pgid, "SIGCONT");
  } catch {
    // ESRCH: already gone
  }
}
