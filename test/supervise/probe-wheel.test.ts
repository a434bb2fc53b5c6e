/**
 * The shared probe wheel (daemon/supervise/probe-wheel.ts) on simulated time: every job runs once, at most
 * its slack early and never late; and the real Prober on it keeps each runtime's cadence (the next probe
 * begins within its interval of the previous one, or as soon as a slow one ends), never two at once.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Adapter, ProbeOutcome } from "../../adapters/types.js";
import { ProbeWheel, type WheelJob, type WheelTimers } from "../../daemon/supervise/probe-wheel.js";
import { Prober } from "../../daemon/supervise/probes.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";
import { SimTimers } from "../support/sim-timers.js";

/** A prober's callbacks that these tests do not watch; an error fails the test. */
const QUIET_CALLBACKS = {
  onReady: () => {},
  onStartTimeout: () => {},
  onWrongBackend: () => {},
  onSteady: () => {},
  onError: (error: unknown) => {
    throw error;
  },
};

/** Simulated time: timers fire exactly when due, in order; microtasks drain between them. */
class SimTime extends SimTimers implements WheelTimers {}

describe("ProbeWheel", () => {
  it("runs every job once, within its slack before its due time, never late; cancelled ones never", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat(20_000), delay: fc.nat(10_000), cancel: fc.boolean() }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 50 }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        async (plan, earlyMs, share) => {
          const time = new SimTime();
          const wheel = new ProbeWheel(time, earlyMs, share);
          const ran: { i: number; t: number }[] = [];
          const due: number[] = [];
          // Each job is scheduled at its own moment (a timer of the simulation), and some are cancelled
          // halfway to their due time.
          plan.forEach((p, i) => {
            time.set(() => {
              due[i] = time.now() + p.delay;
              const job = wheel.schedule(p.delay, () => ran.push({ i, t: time.now() }));
              if (p.cancel) time.set(() => job.cancel(), p.delay / 2);
            }, p.at);
          });
          await time.runUntil(40_000);
          const runsOf = (i: number) => ran.filter((r) => r.i === i).length;
          plan.forEach((p, i) => {
            if (!p.cancel) expect(runsOf(i)).toBe(1);
            // Cancelled before it could run even early: never runs. Cancelled later: it may have run, once.
            else if (p.delay / 2 < p.delay - wheel.slack(p.delay)) expect(runsOf(i)).toBe(0);
          });
          for (const r of ran) {
            const d = due[r.i] as number;
            expect(r.t).toBeLessThanOrEqual(d);
            expect(r.t).toBeGreaterThanOrEqual(d - wheel.slack((plan[r.i] as { delay: number }).delay));
          }
          expect(new Set(ran.map((r) => r.i)).size).toBe(ran.length);
          expect(wheel.size).toBe(0);
          expect(time.pending).toBe(0); // nothing left armed once every job ran or was cancelled
        },
      ),
      { numRuns: 150 },
    );
  });

  it("wakes half a slack before the earliest due job and runs every job whose slack has begun", async () => {
    const time = new SimTime();
    const wheel = new ProbeWheel(time, 10, 0.01); // 10 ms slack for 5 s delays
    const ran: number[] = [];
    for (const delay of [5000, 5003, 5009, 5011, 5030]) wheel.schedule(delay, () => ran.push(time.now()));
    await time.runUntil(10_000);
    expect(ran).toEqual([4995, 4995, 5004, 5004, 5025]);
    expect(wheel.wakes).toBe(3);
  });

  it("a job that throws does not keep the others of its wake from running", async () => {
    const time = new SimTime();
    const wheel = new ProbeWheel(time, 10, 0.01);
    const ran: string[] = [];
    wheel.schedule(100, () => {
      throw new Error("boom");
    });
    wheel.schedule(101, () => ran.push("second"));
    await time.runUntil(1000);
    expect(ran).toEqual(["second"]);
  });

  it("a job cancelled by another job of its own wake does not run", async () => {
    const time = new SimTime();
    const wheel = new ProbeWheel(time, 10, 0.01);
    const ran: string[] = [];
    let second: { cancel(): void } | undefined;
    wheel.schedule(100, () => {
      ran.push("first");
      second?.cancel();
    });
    second = wheel.schedule(100, () => ran.push("second"));
    wheel.schedule(5000, () => ran.push("later"));
    await time.runUntil(10_000);
    expect(ran).toEqual(["first", "later"]);
    expect(wheel.size).toBe(0);
  });
});

describe("ProbeWheel's spare jobs", () => {
  it("a job that ran, or was cancelled, is scheduled again as itself; a pending one or another wheel's is not", async () => {
    const time = new SimTime();
    const wheel = new ProbeWheel(time, 10, 0.01);
    const other = new ProbeWheel(time, 10, 0.01);
    const ran: string[] = [];
    const first = wheel.schedule(100, () => ran.push("first"));
    await time.runUntil(200);
    const again = wheel.schedule(100, () => ran.push("again"), first);
    expect(again).toBe(first);
    // Still pending: a spare only once it is done, so this one is a new job and both run.
    const beside = wheel.schedule(50, () => ran.push("beside"), again);
    expect(beside).not.toBe(again);
    const foreign = other.schedule(10, () => ran.push("foreign"), first);
    expect(foreign).not.toBe(first);
    await time.runUntil(400);
    expect(ran).toEqual(["first", "foreign", "beside", "again"]);
    // Cancelled, then reused: runs once more, and cancelling the old handle afterwards is the new run's.
    const later = wheel.schedule(100, () => ran.push("cancelled"), again);
    later.cancel();
    const revived = wheel.schedule(100, () => ran.push("revived"), later);
    expect(revived).toBe(first);
    await time.runUntil(600);
    expect(ran.slice(4)).toEqual(["revived"]);
    expect(wheel.size).toBe(0);
    expect(time.pending).toBe(0);
  });
});

describe("Prober on the wheel", () => {
  it("each runtime's next probe begins within its interval of the previous (or when a slow one ends), never two at once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            interval: fc.integer({ min: 50, max: 10_000 }),
            // Probe durations cycle through this list; some exceed the interval.
            durations: fc.array(fc.integer({ min: 0, max: 12_000 }), { minLength: 1, maxLength: 6 }),
            readyAt: fc.nat(3000),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (runtimes) => {
          const time = new SimTime();
          const wheel = new ProbeWheel(time, 50, 0.01);
          const clock = { now: () => time.now() };
          const runs = runtimes.map(() => [] as { began: number; ended?: number }[]);
          const probers = runtimes.map((r, i) => {
            const spec = defaultRuntimeSpec(`rt-${i}`, {}, { health: { interval_ms: r.interval } });
            let n = 0;
            const adapter = {
              probeHealth: () => {
                const own = runs[i] as { began: number; ended?: number }[];
                const run: { began: number; ended?: number } = { began: time.now() };
                own.push(run);
                const ms = own.length === 1 ? 0 : (r.durations[n++ % r.durations.length] as number);
                return new Promise<ProbeOutcome>((resolve) => {
                  time.set(() => {
                    run.ended = time.now();
                    resolve({ kind: "ok", ms, status: 200 });
                  }, ms);
                });
              },
            } as unknown as Adapter;
            const prober = new Prober({
              clock,
              adapter,
              spec: () => spec,
              endpoint: () => "http://127.0.0.1:1",
              starting: () => true,
              steady: () => true,
              ...QUIET_CALLBACKS,
              wheel,
            });
            time.set(() => prober.startUp(0), r.readyAt);
            return prober;
          });
          await time.runUntil(60_000);
          for (const p of probers) p.stop();
          runtimes.forEach((r, i) => {
            const own = runs[i] as { began: number; ended?: number }[];
            expect(own.length).toBeGreaterThan(1);
            for (let k = 1; k < own.length; k++) {
              const prev = own[k - 1] as { began: number; ended?: number };
              const cur = own[k] as { began: number; ended?: number };
              expect(prev.ended, "the previous probe had ended").toBeDefined();
              const ended = prev.ended as number;
              expect(cur.began).toBeGreaterThanOrEqual(ended); // never two at once
              const due = Math.max(ended, prev.began + r.interval);
              expect(cur.began).toBeLessThanOrEqual(due); // within its interval, or right after a slow one
              // At most its slack early: 1 % of the wait, ≤ 50 ms.
              expect(cur.began).toBeGreaterThanOrEqual(due - wheel.slack(due - ended));
            }
          });
          expect(wheel.size).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a runtime's steady probes reuse one job body per generation; a new generation gets its own", async () => {
    const time = new SimTime();
    const wheel = new ProbeWheel(time, 50, 0.01);
    const bodies: (() => void)[] = [];
    const jobs: WheelJob[] = [];
    const schedule = wheel.schedule.bind(wheel);
    wheel.schedule = (delayMs, run, spare) => {
      bodies.push(run);
      const job = schedule(delayMs, run, spare);
      jobs.push(job);
      return job;
    };
    const spec = defaultRuntimeSpec("rt", {}, { health: { interval_ms: 1000 } });
    let generation = 0;
    const probed: number[] = [];
    const adapter = {
      probeHealth: async () => {
        probed.push(generation);
        return { kind: "ok", ms: 1, status: 200 } as ProbeOutcome;
      },
    } as unknown as Adapter;
    const prober = new Prober({
      clock: { now: () => time.now() },
      adapter,
      spec: () => spec,
      endpoint: () => "http://127.0.0.1:1",
      starting: (g) => g === generation,
      steady: (g) => g === generation,
      ...QUIET_CALLBACKS,
      wheel,
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    prober.startUp(0);
    await settle(); // the start-up probe's answer, then its first steady job
    await time.runUntil(5_500);
    expect(bodies.length).toBeGreaterThanOrEqual(5);
    expect(new Set(bodies).size).toBe(1);
    expect(new Set(jobs).size, "the job that ran is scheduled again").toBe(1);
    prober.stop();
    generation = 1;
    bodies.length = 0;
    prober.startUp(1);
    await settle();
    await time.runUntil(11_000);
    expect(bodies.length).toBeGreaterThanOrEqual(5);
    expect(new Set(bodies).size).toBe(1);
    // Every probe ran for the generation that was current: none of generation 0's outlived its stop.
    expect(probed.filter((g, i) => i > 0 && g < (probed[i - 1] as number))).toEqual([]);
    prober.stop();
    expect(wheel.size).toBe(0);
  });
});
