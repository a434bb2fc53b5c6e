/**
 * The GET client's one deadline timer (adapters/shared/http-lite-deadlines.ts) on simulated time: every
 * entry that is not removed expires at its deadline (at most 1 ms before it, never later than the timer's
 * own lateness), a removed one never does, sequential exchanges arm few timers, and the timer holds the
 * process open only while something is pending. Then liteGet's timeouts on real sockets with it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { closeKeptSockets, exchangeDeadlines, liteGet } from "../../adapters/shared/http-lite.js";
import { Deadlines, type Expiring } from "../../adapters/shared/http-lite-deadlines.js";
import { SimTimers } from "../support/sim-timers.js";

class Entry implements Expiring {
  expiredAt: number | undefined;
  constructor(
    readonly deadline: number,
    private readonly timers: SimTimers,
  ) {}
  expire(): void {
    expect(this.expiredAt, "expired once").toBeUndefined();
    this.expiredAt = this.timers.now();
  }
}

describe("Deadlines (one timer for every exchange)", () => {
  it("every entry not removed expires at its deadline; a removed one never; the timer holds only while pending", () => {
    const op = fc.record({
      dt: fc.integer({ min: 0, max: 1500 }),
      timeout: fc.constantFrom(150, 1000, 2000, 2000, 2000),
      /** How long until the exchange ends on its own; past its timeout: it never does. */
      answersIn: fc.option(fc.integer({ min: 0, max: 2500 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 50 }), (ops) => {
        const timers = new SimTimers();
        const deadlines = new Deadlines(timers);
        const all: { entry: Entry; endsAt: number }[] = [];
        /** Ends the exchanges that answer by `to`, in time order with the timer's firings. */
        const step = (to: number) => {
          for (;;) {
            const next = all
              .filter((e) => e.endsAt <= to && e.endsAt < e.entry.deadline)
              .sort((a, b) => a.endsAt - b.endsAt)[0];
            if (next === undefined) break;
            timers.advanceTo(next.endsAt);
            // Up to EARLY_MS (1 ms) before its deadline an entry counts as due: it may have expired first.
            if (next.entry.expiredAt === undefined) deadlines.remove(next.entry);
            next.endsAt = next.entry.expiredAt === undefined ? Number.NaN : Number.POSITIVE_INFINITY;
          }
          timers.advanceTo(to);
        };
        for (const { dt, timeout, answersIn } of ops) {
          step(timers.t + dt);
          const entry = new Entry(timers.t + timeout, timers);
          deadlines.add(entry);
          all.push({
            entry,
            endsAt: answersIn === undefined ? Number.POSITIVE_INFINITY : timers.t + answersIn,
          });
          expect(timers.holding(), "something pending holds the process").toBe(true);
        }
        step(timers.t + 5000);
        for (const { entry, endsAt } of all) {
          if (Number.isNaN(endsAt)) expect(entry.expiredAt, "ended before its deadline").toBeUndefined();
          else {
            // Never later than its deadline (the timers here are never late), at most 1 ms before it.
            expect(entry.expiredAt).toBeLessThanOrEqual(entry.deadline);
            expect(entry.expiredAt).toBeGreaterThanOrEqual(entry.deadline - 1);
          }
        }
        expect(deadlines.size).toBe(0);
        expect(timers.holding(), "nothing pending: nothing held").toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("sequential exchanges that end early arm one timer per timeout period, not one each", () => {
    const timers = new SimTimers();
    const deadlines = new Deadlines(timers);
    // 10 probes a second for 20 s, each answered in 2 ms, with a 2 s timeout.
    for (let i = 0; i < 200; i++) {
      timers.advanceTo(i * 100);
      const entry = new Entry(timers.t + 2000, timers);
      deadlines.add(entry);
      timers.advanceTo(i * 100 + 2);
      deadlines.remove(entry);
      expect(timers.holding()).toBe(false);
    }
    expect(deadlines.arms).toBeLessThanOrEqual(11);
  });
});

describe("liteGet's timeouts on the shared deadline timer", () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    closeKeptSockets();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  const serve = async (handler: http.RequestListener) => {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it("a backend that accepts and never answers still times out, after answered exchanges left the timer armed", async () => {
    const answering = await serve((_req, res) => res.end("ok"));
    const silent = await serve(() => {});
    for (let i = 0; i < 5; i++)
      expect((await liteGet(`${answering}/health`, { timeoutMs: 5000 })).kind).toBe("response");
    // The timer is armed for the first answered exchange's deadline, ~5 s out: this one's is sooner.
    const hung = await liteGet(`${silent}/health`, { timeoutMs: 200 });
    expect(hung).toMatchObject({
      kind: "timeout",
      message: `no answer from GET ${silent}/health within 200 ms`,
    });
    expect(hung.ms).toBeGreaterThanOrEqual(199);
    expect(exchangeDeadlines.size).toBe(0);
  });

  it("concurrent exchanges with different timeouts each end at their own; an answered one is not timed out", async () => {
    const silent = await serve(() => {});
    const slow = await serve((_req, res) => {
      setTimeout(() => res.end("late but in time"), 150);
    });
    const [long, short, answered] = await Promise.all([
      liteGet(`${silent}/a`, { timeoutMs: 600 }),
      liteGet(`${silent}/b`, { timeoutMs: 200 }),
      liteGet(`${slow}/c`, { timeoutMs: 1000 }),
    ]);
    expect(short).toMatchObject({ kind: "timeout" });
    expect(long).toMatchObject({ kind: "timeout" });
    expect(short.ms).toBeGreaterThanOrEqual(199);
    expect(long.ms).toBeGreaterThanOrEqual(599);
    expect(long.ms).toBeGreaterThan(short.ms);
    expect(answered).toMatchObject({ kind: "response", status: 200, body: "late but in time" });
    expect(exchangeDeadlines.size).toBe(0);
  });
});
