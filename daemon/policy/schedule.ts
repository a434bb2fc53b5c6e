/**
 * Scheduled start/stop/restart of runtimes, on croner. `set` validates every entry first and replaces all
 * jobs only when all are valid; a bad entry throws CONFIG_INVALID naming the entry and leaves the old jobs.
 */

import { Cron } from "croner";
import type { Logger } from "pino";
import { rfc3339 } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { ScheduleSpec } from "../../base/spec.js";
import type { ScheduleFiredPayload } from "../../ipc/protocol/events.js";
import type { ScheduleView } from "../../ipc/protocol/policy.js";
import type { EventBus } from "../events.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";

const ACTIONS: readonly ScheduleSpec["action"][] = ["start", "stop", "restart"];

function invalid(entry: ScheduleSpec, why: string): RmxError {
  return new RmxError("CONFIG_INVALID", `schedule "${entry.id}": ${why}`, { schedule: entry.id });
}

function checkTimezone(entry: ScheduleSpec, timezone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw invalid(entry, `unknown timezone "${timezone}" (expected an IANA name such as Europe/Berlin)`);
  }
}

export class Scheduler {
  private jobs = new Map<string, { entry: ScheduleSpec; job: Cron }>();

  constructor(
    private readonly opts: {
      timezone?: string;
      onFire: (entry: ScheduleSpec, at: Date) => void;
      /** Errors thrown by onFire; croner catches them so one failing job cannot stop the others. */
      onError?: (error: unknown, entry: ScheduleSpec) => void;
    },
  ) {}

  set(entries: ScheduleSpec[]): void {
    const seen = new Set<string>();
    for (const entry of entries) {
      if (typeof entry.id !== "string" || entry.id.trim() === "") {
        throw new RmxError("CONFIG_INVALID", "schedule entry without an id");
      }
      if (seen.has(entry.id)) throw invalid(entry, "duplicate id");
      seen.add(entry.id);
      if (!ACTIONS.includes(entry.action)) {
        throw invalid(entry, `unknown action "${String(entry.action)}" (expected ${ACTIONS.join(", ")})`);
      }
      if (typeof entry.runtime !== "string" || entry.runtime === "")
        throw invalid(entry, "runtime is missing");
      const timezone = entry.timezone ?? this.opts.timezone;
      if (timezone !== undefined) checkTimezone(entry, timezone);
      try {
        // A paused probe job validates the expression without scheduling anything.
        new Cron(entry.cron, { paused: true, ...(timezone === undefined ? {} : { timezone }) }).stop();
      } catch (error) {
        throw invalid(
          entry,
          `cron "${entry.cron}" is invalid: ${error instanceof Error ? error.message : error}`,
        );
      }
    }
    this.stop();
    const next = new Map<string, { entry: ScheduleSpec; job: Cron }>();
    for (const entry of entries) {
      const timezone = entry.timezone ?? this.opts.timezone;
      const frozen = { ...entry };
      // croner's currentRun() is when the callback started; report the scheduled instant instead.
      let due: Date | null = null;
      const job = new Cron(
        entry.cron,
        {
          ...(timezone === undefined ? {} : { timezone }),
          catch: (error: unknown) => this.opts.onError?.(error, frozen),
        },
        (self: Cron) => {
          const at = due ?? self.currentRun() ?? new Date();
          // The run after this one's instant: read a few ms early, croner's next run can be this one again.
          due = self.nextRun(at);
          this.opts.onFire(frozen, at);
        },
      );
      due = job.nextRun();
      next.set(entry.id, { entry: frozen, job });
    }
    this.jobs = next;
  }

  next(id: string): Date | undefined {
    return this.jobs.get(id)?.job.nextRun() ?? undefined;
  }

  list(): ScheduleView[] {
    return [...this.jobs.values()].map(({ entry, job }) => {
      const next = job.nextRun();
      const timezone = entry.timezone ?? this.opts.timezone;
      return {
        id: entry.id,
        cron: entry.cron,
        action: entry.action,
        runtime: entry.runtime,
        ...(timezone === undefined ? {} : { timezone }),
        ...(next === null ? {} : { next: rfc3339(next.getTime()) }),
      };
    });
  }

  stop(): void {
    for (const { job } of this.jobs.values()) job.stop();
    this.jobs.clear();
  }
}

/** What running schedules needs: the runtimes they act on, and where to say that they fired. */
export interface ScheduleHost {
  readonly runtimes: ReadonlyMap<string, RuntimeSupervisor>;
  readonly bus: Pick<EventBus, "publish">;
  readonly logger: Pick<Logger, "info" | "warn" | "error">;
}

/** The configured schedules acting on runtimes; a new timezone rebuilds the scheduler. */
export class ScheduleRunner {
  private scheduler: Scheduler;

  constructor(
    private readonly host: ScheduleHost,
    private timezone: string | undefined,
  ) {
    this.scheduler = this.newScheduler(timezone);
  }

  /** Applies the entries (a bad one keeps the previous set, logged). */
  apply(entries: ScheduleSpec[], timezone: string | undefined): void {
    if (timezone !== this.timezone) {
      this.scheduler.stop();
      this.timezone = timezone;
      this.scheduler = this.newScheduler(timezone);
    }
    try {
      this.scheduler.set(entries);
    } catch (error) {
      this.host.logger.error({ err: error }, "schedules not applied; the previous ones stay");
    }
  }

  list(): ScheduleView[] {
    return this.scheduler.list();
  }

  stop(): void {
    this.scheduler.stop();
  }

  private newScheduler(timezone: string | undefined): Scheduler {
    return new Scheduler({
      ...(timezone !== undefined ? { timezone } : {}),
      onFire: (entry, at) => this.onFire(entry, at),
      onError: (error, entry) =>
        this.host.logger.error({ err: error, schedule: entry.id }, "schedule action failed"),
    });
  }

  private onFire(entry: ScheduleSpec, at: Date): void {
    const payload: ScheduleFiredPayload = {
      id: entry.id,
      action: entry.action,
      runtime: entry.runtime,
      at: rfc3339(at.getTime()),
    };
    const rt = this.host.runtimes.get(entry.runtime);
    if (rt === undefined) {
      payload.error = `runtime ${entry.runtime} is not configured`;
    } else {
      try {
        if (entry.action === "start") {
          const r = rt.start();
          if (r.effects.some((e) => e.type === "denied")) payload.error = "Restart budget exhausted";
        } else if (entry.action === "stop") {
          rt.stop();
        } else {
          rt.restore({ restart: true, reset_budget: false });
        }
      } catch (error) {
        payload.error = error instanceof Error ? error.message : String(error);
      }
      payload.state = rt.state;
    }
    this.host.bus.publish("schedule.fired", payload);
    const log = payload.error === undefined ? "info" : "warn";
    this.host.logger[log](payload, `schedule ${entry.id}: ${entry.action} ${entry.runtime}`);
  }
}
