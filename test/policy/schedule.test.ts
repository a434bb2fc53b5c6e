import { afterEach, describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import type { ScheduleSpec } from "../../base/spec.js";
import { Scheduler } from "../../daemon/policy/schedule.js";

const nightly: ScheduleSpec = {
  id: "nightly",
  cron: "0 3 * * *",
  action: "stop",
  runtime: "llama",
  timezone: "UTC",
};

describe("Scheduler", () => {
  let scheduler: Scheduler | undefined;
  afterEach(() => scheduler?.stop());

  it("fires for real on a seconds-level cron, passing the entry and its scheduled time", async () => {
    const firings: { entry: ScheduleSpec; at: Date }[] = [];
    const twice = new Promise<void>((resolve) => {
      scheduler = new Scheduler({
        onFire: (entry, at) => {
          firings.push({ entry, at });
          if (firings.length === 2) resolve();
        },
      });
    });
    const every = { id: "tick", cron: "* * * * * *", action: "restart" as const, runtime: "llama" };
    const before = Date.now();
    scheduler!.set([every]);
    await twice;
    expect(firings[0]!.entry).toEqual(every);
    expect(firings[0]!.at.getTime()).toBeGreaterThan(before - 1000);
    expect(firings[0]!.at.getMilliseconds()).toBe(0);
    // Whole seconds apart: one second, or a multiple when a loaded machine held the event loop past a tick.
    const gap = firings[1]!.at.getTime() - firings[0]!.at.getTime();
    expect(gap % 1000, `gap ${gap} ms`).toBe(0);
    expect(gap).toBeGreaterThanOrEqual(1000);
  });

  it("lists jobs with their next run, honouring per-entry and default timezones", () => {
    scheduler = new Scheduler({ timezone: "America/New_York", onFire: () => {} });
    scheduler.set([nightly, { id: "morning", cron: "0 8 * * 1-5", action: "start", runtime: "llama" }]);
    const list = scheduler.list();
    expect(list.map((j) => [j.id, j.timezone])).toEqual([
      ["nightly", "UTC"],
      ["morning", "America/New_York"],
    ]);
    const next = new Date(list[0]!.next!);
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([3, 0, 0]);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000);
    // 08:00 in New York is 12:00 or 13:00 UTC depending on daylight saving.
    expect([12, 13]).toContain(scheduler.next("morning")!.getUTCHours());
    expect(scheduler.next("missing")).toBeUndefined();
  });

  it("rejects bad entries with CONFIG_INVALID naming the entry, keeping the old jobs", () => {
    scheduler = new Scheduler({ onFire: () => {} });
    scheduler.set([nightly]);
    const attempt = (entries: ScheduleSpec[]) => {
      try {
        scheduler!.set(entries);
      } catch (error) {
        expect(isRmxError(error, "CONFIG_INVALID")).toBe(true);
        return (error as Error).message;
      }
      throw new Error("expected set to throw");
    };
    expect(attempt([{ ...nightly, id: "bad", cron: "* * *" }])).toMatch(
      /^schedule "bad": cron "\* \* \*" is invalid/,
    );
    expect(attempt([{ ...nightly, id: "tz", timezone: "Mars/Olympus" }])).toContain(
      'unknown timezone "Mars/Olympus"',
    );
    expect(attempt([nightly, nightly])).toBe('schedule "nightly": duplicate id');
    expect(attempt([{ ...nightly, action: "reload" as ScheduleSpec["action"] }])).toContain(
      'unknown action "reload"',
    );
    expect(scheduler.list().map((j) => j.id)).toEqual(["nightly"]);
    scheduler.set([]);
    expect(scheduler.list()).toEqual([]);
  });
});
