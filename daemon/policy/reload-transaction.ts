/**
 * A reload or switch as a transaction: the serving process keeps serving until the new spec is proven.
 *
 * - `beside` (both fit): a candidate starts next to the old process on its own port; once ready it becomes
 *   the runtime, requests that were already on their way to the old process finish, then the old one stops.
 * - `replace` (they do not both fit): the old process stops, the candidate gets its `start_timeout`; if it
 *   fails, the old spec is started again (rollback).
 *
 * Neither spends restart budget: the candidate's start and the rollback's are fresh starts, and the
 * runtime's budget log is carried over unchanged. A failure is RELOAD_FAILED with the backend's own last
 * lines, and a `runtime.reload.failed` event.
 */
import type { Logger } from "pino";
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";
import type { RuntimeDeps, RuntimeSupervisor } from "../supervise/runtime.js";
import { awaitSettled, SETTLED_STATES } from "../supervise/settle.js";
import { Candidate } from "./candidate.js";
import { backendErrorLines, type TakeoverPath } from "./takeover.js";

/** Longest wait for requests already sent to the old process before it is stopped anyway. */
export const DRAIN_MAX_MS = 30_000;
/** On top of start_timeout (and a stop's grace): the supervisor's own timeout decides, this only bounds the wait. */
const WAIT_SLACK_MS = 5_000;

export interface TransactionHost {
  readonly bus: Pick<EventBus, "publish" | "waitFor">;
  readonly runtimes: ReadonlyMap<string, RuntimeSupervisor>;
  /** The deps the daemon builds every supervisor of this runtime with. */
  runtimeDeps(spec: RuntimeSpec): RuntimeDeps;
  /** Makes `rt` the runtime of its id: status, matrix and routing see it from now on. */
  adopt(rt: RuntimeSupervisor): void;
  /** True once every request to `id` open now has ended; false after `timeoutMs`. */
  drained(id: string, timeoutMs: number): Promise<boolean>;
  /** The daemon is stopping: no rollback start (the shutdown stops everything). */
  stopping(): boolean;
  now(): number;
}

export interface TransactionPlan {
  action: "reload" | "switch";
  previous: RuntimeSpec;
  next: RuntimeSpec;
  path: TakeoverPath;
  /** Why this path (the memory figures). */
  pathReason: string;
}

export interface TransactionOutcome {
  /** The runtime now: the new supervisor. */
  rt: RuntimeSupervisor;
  path: TakeoverPath;
  /** From the request to the moment the new process became the runtime. */
  took_over_ms: number;
  old_pid?: number;
  new_pid?: number;
}

/** Registers the candidate of a transaction in flight, so a daemon shutdown can stop it. */
export type TrackCandidate = (candidate: Candidate | undefined) => void;

function describe(spec: RuntimeSpec): string {
  const parts = [spec.model ?? "(no model)", `on ${spec.hardware}`];
  if (spec.sandbox.kind !== "none") parts.push(`in ${spec.sandbox.kind}`);
  return parts.join(" ");
}

function startWaitMs(spec: RuntimeSpec): number {
  return spec.health.start_timeout_ms + spec.stop.grace_ms + WAIT_SLACK_MS;
}

export async function runTransaction(
  host: TransactionHost,
  old: RuntimeSupervisor,
  plan: TransactionPlan,
  logger: Pick<Logger, "info" | "warn">,
  track: TrackCandidate,
): Promise<TransactionOutcome> {
  const started = host.now();
  const id = old.id;
  const oldPid = old.pid;
  const superseded = () => host.runtimes.get(id) !== old;

  if (plan.path === "replace") {
    old.log.write(
      `--- rmxd: ${plan.action}: stopping this process to start ${describe(plan.next)} (${plan.pathReason})\n`,
    );
    const stopped = awaitSettled(old, host.bus, {
      states: ["stopped", "failed", "exhausted"],
      timeoutMs: old.spec.stop.grace_ms + WAIT_SLACK_MS,
      next: true,
    });
    old.stop();
    await stopped;
  }

  const candidate = new Candidate(host.runtimeDeps(plan.next), plan.next, old.budgetLog, old.log.path);
  track(candidate);
  candidate.rt.log.write(
    `--- rmxd: ${plan.action} of ${id}: ${describe(plan.previous)} → ${describe(plan.next)} (${plan.path}: ` +
      `${plan.pathReason}); the previous process's output is in ${old.log.path}\n`,
  );
  if (plan.path === "beside") {
    old.log.write(
      `--- rmxd: ${plan.action}: starting ${describe(plan.next)} beside this process; its output goes to ${candidate.rt.log.path}\n`,
    );
  }
  let outcome: Awaited<ReturnType<Candidate["start"]>>;
  try {
    outcome = await candidate.start(startWaitMs(plan.next));
  } finally {
    track(undefined);
  }

  if (outcome.ready && !superseded()) {
    const newPid = candidate.rt.pid;
    host.adopt(candidate.rt);
    await candidate.promote();
    const tookOver = host.now() - started;
    const fromState: RuntimeState = old.state;
    const view = candidate.rt.view();
    host.bus.publish("runtime.state.changed", {
      id,
      from: fromState,
      to: view.state,
      reason: `${plan.action}ed to ${describe(plan.next)}: pid ${newPid ?? "?"} took over${oldPid !== undefined ? ` from pid ${oldPid}` : ""}`,
      status: view.status,
      restart_budget: view.restart_budget,
      pid: view.pid,
    });
    logger.info(
      {
        runtime: id,
        action: plan.action,
        path: plan.path,
        old_pid: oldPid,
        new_pid: newPid,
        took_over_ms: tookOver,
      },
      `runtime ${plan.action}: the new process took over`,
    );
    if (plan.path === "beside") {
      old.log.write(`--- rmxd: ${plan.action}: pid ${newPid ?? "?"} took over; this process stops now\n`);
      // Requests that looked the runtime up before the switch may still be on their way to the old process.
      if (!(await host.drained(id, DRAIN_MAX_MS))) {
        logger.warn(
          { runtime: id, drain_ms: DRAIN_MAX_MS },
          "requests to the old process still open; stopping it anyway",
        );
      }
    }
    await old.shutdown();
    // The old supervisor wrote its last record while stopping; the runtime's record is the new one's.
    await candidate.promote();
    const result: TransactionOutcome = { rt: candidate.rt, path: plan.path, took_over_ms: tookOver };
    if (oldPid !== undefined) result.old_pid = oldPid;
    if (newPid !== undefined) result.new_pid = newPid;
    return result;
  }

  const lines = backendErrorLines(outcome.log);
  const logPath = candidate.rt.log.path;
  await candidate.discard();
  const why = superseded()
    ? `runtime ${id} was rebuilt by a config reload meanwhile`
    : (outcome.reason ?? `the new process ended in state ${outcome.state}`);

  let rolledBack = false;
  if (plan.path === "replace" && !superseded() && !host.stopping()) {
    old.log.write(`--- rmxd: ${plan.action} failed (${why}); starting the previous spec again\n`);
    const back = awaitSettled(old, host.bus, {
      states: SETTLED_STATES,
      timeoutMs: startWaitMs(old.spec),
      next: true,
    });
    old.start(); // desired was "stopped": a fresh start, no budget
    await back;
    rolledBack = true;
  } else if (plan.path === "beside") {
    old.log.write(`--- rmxd: ${plan.action} failed (${why}); this process keeps serving\n`);
  }
  throw reloadFailed(host, old, plan, { why, lines, rolledBack, logPath });
}

function reloadFailed(
  host: TransactionHost,
  old: RuntimeSupervisor,
  plan: TransactionPlan,
  f: { why: string; lines: string[]; rolledBack: boolean; logPath: string },
): RmxError {
  const said = f.lines.length > 0 ? `; the backend said: ${f.lines.map((l) => `"${l}"`).join(" | ")}` : "";
  const pid = old.pid;
  const now =
    old.state === "ready" || old.state === "degraded"
      ? `${old.id} keeps serving ${describe(old.spec)}${pid !== undefined ? ` (pid ${pid})` : ""}`
      : `${old.id} is ${old.state}${old.view().reason ? ` (${old.view().reason})` : ""}`;
  const back = f.rolledBack ? "rolled back to the previous spec: " : "";
  const message =
    `${plan.action} of ${old.id} to ${describe(plan.next)} failed: ${f.why}${said}; ${back}${now}; ` +
    `no restart budget used; the new process's output is in ${f.logPath}`;
  const payload = {
    id: old.id,
    action: plan.action,
    path: plan.path,
    ...(plan.next.model !== undefined ? { model: plan.next.model } : {}),
    ...(plan.previous.model !== undefined ? { previous_model: plan.previous.model } : {}),
    hardware: plan.next.hardware,
    sandbox: plan.next.sandbox.kind,
    reason: f.why,
    backend_lines: f.lines,
    rolled_back: f.rolledBack,
    state: old.state,
    ...(pid !== undefined ? { pid } : {}),
    restart_budget: old.budget(),
    log: f.logPath,
  };
  host.bus.publish("runtime.reload.failed", payload);
  return new RmxError("RELOAD_FAILED", message, payload);
}
