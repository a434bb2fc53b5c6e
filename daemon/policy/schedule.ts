/**
 * Scheduled start/stop/restart of runtimes, on croner. `set` validates every entry first and replaces all
 * jobs only when all are valid; a bad entry throws CONFIG_INVALID naming the entry and leaves the old jobs.
 */
import { Cron } from "croner";
import { rfc3339 } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { ScheduleSpec } from "../types.js";

export interface ScheduleView {
  id: string;
  cron: string;
  action: ScheduleSpec["action"];
  runtime: string;
  timezone?: string;
  /** Next firing, RFC 3339; absent when the expression never fires again. */
  next?: string;
}

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
          due = self.nextRun();
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
