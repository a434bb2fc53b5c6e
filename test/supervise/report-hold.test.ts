/**
 * The respawn path's two small helpers: the report hold (events and log lines after the held work, in
 * order, its persists as one — property-tested over any sequence of calls) and the retry timer's at-once
 * firing (never twice: the queued microtask stands down).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { ReportHold } from "../../daemon/supervise/report-hold.js";
import { RetryTimer } from "../../daemon/supervise/retry-timer.js";

type Call = "report" | "persist" | "nest";

describe("the report hold", () => {
  it("property: reports run after the work, in the order made; persists asked for become exactly one", async () => {
    const calls = fc.array(fc.constantFrom<Call>("report", "persist", "nest"), { maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(calls, async (script) => {
        const hold = new ReportHold();
        const trail: string[] = [];
        let persists = 0;
        const answers: Promise<void>[] = [];
        const persist = () => {
          persists++;
          trail.push("persist");
          return Promise.resolve();
        };
        let n = 0;
        const play = (steps: readonly Call[]) => {
          for (const step of steps) {
            if (step === "report") {
              const id = n++;
              hold.report(() => trail.push(`report ${id}`));
            } else if (step === "persist") {
              answers.push(hold.persistLater() ?? Promise.reject(new Error("not held")));
            } else hold.run(() => trail.push("nested"), persist);
          }
        };
        hold.run(() => {
          play(script);
          trail.push("work done");
        }, persist);
        const asked = script.includes("persist");
        const reports = script.filter((s) => s === "report").length;
        const nests = script.filter((s) => s === "nest").length;
        expect(persists).toBe(asked ? 1 : 0);
        expect(trail.slice(0, nests + 1)).toEqual([...Array(nests).fill("nested"), "work done"]);
        expect(trail.slice(nests + 1)).toEqual([
          ...(asked ? ["persist"] : []),
          ...Array.from({ length: reports }, (_, i) => `report ${i}`),
        ]);
        await Promise.all(answers); // each held persist's promise is the one made after
        // Not held any more: reports run at once, persists are not taken.
        hold.report(() => trail.push("later"));
        expect(trail.at(-1)).toBe("later");
        expect(hold.persistLater()).toBeUndefined();
      }),
    );
  });

  it("a report that throws still lets the persist be made first", () => {
    const hold = new ReportHold();
    let persisted = false;
    expect(() =>
      hold.run(
        () => {
          hold.persistLater();
          hold.report(() => {
            throw new Error("listener failed");
          });
        },
        () => {
          persisted = true;
          return Promise.resolve();
        },
      ),
    ).toThrow("listener failed");
    expect(persisted).toBe(true);
  });
});

describe("the report hold's quiet (the new process's start, after a fork)", () => {
  it("lasts on until the quiet ends: what comes meanwhile joins it, in order, and one persist", async () => {
    const hold = new ReportHold();
    const trail: string[] = [];
    let persists = 0;
    const persist = () => {
      persists++;
      trail.push("persist");
      return Promise.resolve();
    };
    let endQuiet!: () => void;
    const quiet = new Promise<void>((resolve) => {
      endQuiet = resolve;
    });
    const released = hold.run(
      () => {
        hold.report(() => trail.push("exit event"));
        void hold.persistLater();
      },
      persist,
      () => quiet,
    );
    expect(released).toBeInstanceOf(Promise);
    // The fork's aftermath, while the new process starts: held like the work's own.
    hold.report(() => trail.push("spawned event"));
    const written = hold.persistLater();
    expect(written).toBeInstanceOf(Promise);
    hold.run(() => trail.push("nested work"), persist);
    expect(trail).toEqual(["nested work"]);
    endQuiet();
    await released;
    await written;
    expect(trail).toEqual(["nested work", "persist", "exit event", "spawned event"]);
    expect(persists).toBe(1);
    hold.report(() => trail.push("later"));
    expect(trail.at(-1)).toBe("later");
  });

  it("no quiet asked (no fork in the work): released at once, nothing returned", () => {
    const hold = new ReportHold();
    const trail: string[] = [];
    const released = hold.run(
      () => hold.report(() => trail.push("report")),
      () => Promise.resolve(),
      () => undefined,
    );
    expect(released).toBeUndefined();
    expect(trail).toEqual(["report"]);
  });

  it("a report that throws after the quiet rejects the release, the persist made first", async () => {
    const hold = new ReportHold();
    let persisted = false;
    const released = hold.run(
      () => {
        void hold.persistLater();
        hold.report(() => {
          throw new Error("listener failed");
        });
      },
      () => {
        persisted = true;
        return Promise.resolve();
      },
      () => Promise.resolve(),
    );
    await expect(released).rejects.toThrow("listener failed");
    expect(persisted).toBe(true);
  });
});

describe("the retry timer", () => {
  it("a retry due now fires once: at once when asked, its microtask then stands down", async () => {
    const clock = new ManualClock(1_000);
    let fired = 0;
    const timer = new RetryTimer(clock, () => fired++);
    timer.arm(1_000);
    expect(timer.fireIfDueNow()).toBe(true);
    expect(fired).toBe(1);
    await Promise.resolve();
    await Promise.resolve();
    expect(fired).toBe(1);
    expect(timer.fireIfDueNow()).toBe(false);
    // Not asked: the microtask fires it, once; a cancelled one never fires.
    timer.arm(500);
    await Promise.resolve();
    expect(fired).toBe(2);
    timer.arm(1_000);
    timer.cancel();
    await Promise.resolve();
    expect(fired).toBe(2);
    // One in the future is a timer: not due now.
    timer.arm(60_000);
    expect(timer.fireIfDueNow()).toBe(false);
    timer.cancel();
    expect(fired).toBe(2);
  });
});
