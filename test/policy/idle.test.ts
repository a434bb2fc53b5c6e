import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, systemClock } from "../../base/clock.js";
import { IdleTracker } from "../../daemon/policy/idle.js";
import { MAX_TIMER_MS } from "../../daemon/policy/timers.js";
import { FakeTimers } from "./fixtures.js";

function setup() {
  const clock = new ManualClock();
  const timers = new FakeTimers(clock);
  const fired: { id: string; at: number }[] = [];
  const idle = new IdleTracker({ clock, timers, onIdle: (id) => fired.push({ id, at: clock.now() }) });
  return { clock, timers, fired, idle };
}

describe("IdleTracker", () => {
  it("fires once, exactly when the TTL has passed without requests", () => {
    const { clock, timers, fired, idle } = setup();
    const start = clock.now();
    idle.configure("rt", 10_000);
    timers.advance(9_999);
    expect(fired).toEqual([]);
    expect(idle.idleFor("rt")).toBe(9_999);
    timers.advance(1);
    expect(fired).toEqual([{ id: "rt", at: start + 10_000 }]);
    timers.advance(100_000);
    expect(fired).toHaveLength(1);
    expect(timers.size).toBe(0);
  });

  it("touch re-arms the timer from the last request, and re-enables firing after an idle", () => {
    const { clock, timers, fired, idle } = setup();
    idle.configure("rt", 10_000);
    timers.advance(6_000);
    idle.touch("rt");
    const touched = clock.now();
    timers.advance(9_999);
    expect(fired).toEqual([]);
    expect(timers.size).toBe(1);
    timers.advance(1);
    expect(fired).toEqual([{ id: "rt", at: touched + 10_000 }]);
    idle.touch("rt");
    timers.advance(10_000);
    expect(fired).toHaveLength(2);
  });

  it("never idles while leases are held; the idle period starts when the last lease goes", () => {
    const { clock, timers, fired, idle } = setup();
    idle.configure("rt", 5_000);
    idle.setLeases("rt", 2);
    timers.advance(60_000);
    expect(fired).toEqual([]);
    expect(idle.idleFor("rt")).toBe(0);
    expect(timers.size).toBe(0);
    idle.setLeases("rt", 1);
    timers.advance(60_000);
    expect(fired).toEqual([]);
    idle.setLeases("rt", 0);
    const released = clock.now();
    timers.advance(5_000);
    expect(fired).toEqual([{ id: "rt", at: released + 5_000 }]);
  });

  it("does nothing without a TTL, and stops on remove, disable and stop", () => {
    const { timers, fired, idle } = setup();
    idle.touch("untimed");
    idle.configure("a", 1_000);
    idle.configure("b", 1_000);
    idle.configure("c", 1_000);
    idle.remove("a");
    idle.configure("b", undefined);
    expect(idle.idleFor("a")).toBeUndefined();
    timers.advance(500);
    idle.stop();
    timers.advance(10_000);
    expect(fired).toEqual([]);
    expect(idle.idleFor("untimed")).toBe(10_500);
  });

  it("reconfiguring keeps counting from the last activity; long TTLs respect the timer limit", () => {
    const { clock, timers, fired, idle } = setup();
    const start = clock.now();
    idle.configure("rt", 60_000);
    timers.advance(30_000);
    idle.configure("rt", 40_000);
    timers.advance(10_000);
    expect(fired).toEqual([{ id: "rt", at: start + 40_000 }]);
    const days30 = 30 * 24 * 3600 * 1000;
    idle.configure("long", days30);
    const from = clock.now();
    timers.advance(days30);
    expect(fired.at(-1)).toEqual({ id: "long", at: from + days30 });
    expect(timers.requested.every((ms) => ms <= MAX_TIMER_MS)).toBe(true);
  });

  describe("with real timers", () => {
    let idle: IdleTracker | undefined;
    afterEach(() => idle?.stop());
    it("fires on its own", async () => {
      const fired = new Promise<string>((resolve) => {
        idle = new IdleTracker({ clock: systemClock, onIdle: resolve });
      });
      idle!.configure("real", 40);
      expect(await fired).toBe("real");
    });
  });
});
