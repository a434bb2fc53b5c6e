/**
 * A candidate runtime: a supervisor built on the new spec that is NOT yet the runtime. It is invisible
 * until promoted: its events go to a private bus (nobody outside sees its `starting`, `backoff`, …), it
 * is in no runtime map (status and matrix do not list it), its persisted record is held back (the state
 * file keeps the serving process's), and it writes its own log file. Promotion makes it the runtime:
 * events flow to the daemon's bus and its record to the state file.
 */
import path from "node:path";
import type { RuntimeSpec } from "../../base/spec.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import { EventBus } from "../events.js";
import type { PersistedRuntime } from "../persisted.js";
import type { BudgetLog } from "../supervise/budget.js";
import { type RuntimeDeps, RuntimeSupervisor } from "../supervise/runtime.js";
import { awaitSettled } from "../supervise/settle.js";

/** The states where a candidate's start has an answer: ready, or one of the ways it did not get there. */
const ANSWERED: readonly RuntimeState[] = ["ready", "degraded", "failed", "backoff", "exhausted", "stopped"];

/** Log lines of a candidate read for its failure (the last few non-empty ones are reported). */
const FAILURE_LOG_LINES = 50;

/**
 * The directory of the candidate's log: the runtime's log file alternates between `logs/<id>.log` and
 * `logs/reload/<id>.log`, so the candidate never appends to the file the serving process writes.
 */
export function candidateLogsDir(logsDir: string, servingLogPath: string): string {
  return path.dirname(servingLogPath) === path.resolve(logsDir) || path.dirname(servingLogPath) === logsDir
    ? path.join(logsDir, "reload")
    : logsDir;
}

export interface CandidateOutcome {
  ready: boolean;
  state: RuntimeState;
  /** The supervisor's reason (for a failure: why it did not become ready). */
  reason?: string;
  /** The candidate's own last log lines (raw; sanitized by the caller). */
  log: string[];
}

export class Candidate {
  readonly rt: RuntimeSupervisor;
  private readonly privateBus: EventBus;
  private promoted = false;
  /** Its latest record: held back while a candidate, written (again) at promotion. */
  private lastRecord: PersistedRuntime | undefined;
  private readonly persistReal: RuntimeDeps["persist"];
  private readonly offForward: () => void;

  /**
   * `base`: the deps the daemon gives every supervisor of this runtime; `budget`: the serving runtime's
   * budget log, carried over unchanged (the candidate starts with desired "stopped", so its first start
   * is a fresh start, not a counted restart).
   */
  constructor(base: RuntimeDeps, spec: RuntimeSpec, budget: BudgetLog, servingLogPath: string) {
    const mainBus = base.bus;
    this.privateBus = new EventBus(base.clock, (error) =>
      base.logger.error({ err: error }, "candidate event listener failed"),
    );
    this.persistReal = base.persist;
    this.offForward = this.privateBus.subscribe(["*"], (event) => {
      // Forwarded as published: the private bus is typed by the same topic map.
      if (this.promoted) mainBus.publish(event.topic, event.payload as never);
    });
    this.rt = new RuntimeSupervisor(
      spec,
      {
        ...base,
        bus: this.privateBus,
        logger: base.logger.child({ candidate: true }),
        logsDir: candidateLogsDir(base.logsDir, servingLogPath),
        // The serving runtime's record until it takes over (spawn-journal.ts).
        writeAhead: () => this.promoted,
        persist: (id, record) => {
          this.lastRecord = record;
          return this.promoted ? this.persistReal(id, record) : undefined;
        },
      },
      { budget, desired: "stopped" },
    );
  }

  /** Starts it and resolves once its start has an answer (ready, or failed/backoff/exhausted/stopped). */
  async start(timeoutMs: number): Promise<CandidateOutcome> {
    const answered = awaitSettled(this.rt, this.privateBus, { states: ANSWERED, timeoutMs, next: true });
    this.rt.start();
    const settled = await answered;
    const view = this.rt.view();
    const state = settled.timedOut ? this.rt.state : settled.state;
    const ready = !settled.timedOut && (state === "ready" || state === "degraded");
    const outcome: CandidateOutcome = { ready, state, log: this.rt.log.lastLines(FAILURE_LOG_LINES) };
    const reason = settled.timedOut
      ? `not ready within ${timeoutMs} ms (state ${state})`
      : view.reason?.replace(/; restarting in .*$/, "");
    if (reason !== undefined) outcome.reason = reason;
    return outcome;
  }

  /**
   * It is the runtime now: its events reach the daemon's bus and its record the state file (written again
   * on a second call: after the old supervisor wrote its last one).
   */
  async promote(): Promise<void> {
    this.promoted = true;
    const record = this.lastRecord;
    if (record !== undefined)
      await Promise.resolve(this.persistReal(this.rt.id, record)).catch(() => undefined);
  }

  /** Stops it for good (no retry, no budget: its budget log is dropped with it). */
  async discard(): Promise<void> {
    this.offForward();
    await this.rt.dispose();
  }
}
