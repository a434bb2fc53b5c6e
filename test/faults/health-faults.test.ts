/**
 * Backends that stop answering: one frozen with SIGSTOP (hung), one whose /health is fine while inference
 * fails (wedged), both restarted once the configured number of consecutive probes has failed; and one
 * that ignores SIGTERM, killed with its grandchild once the stop grace has run out.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PROBE_EARLY_SHARE } from "../../daemon/supervise/probe-wheel.js";
import { stopAll, until } from "../support/daemon-harness.js";
import {
  alive,
  configText,
  grandchildPids,
  killQuietly,
  logLines,
  record,
  removeDaemonDirs,
  report,
  type StateChange,
  startFaultDaemon,
  stubRuntime,
  toState,
} from "./fault-support.js";

const INTERVAL_MS = 200;
const TIMEOUT_MS = 300;
const THRESHOLD = 3;
const GRACE_MS = 500;
/** Timers and event delivery on a loaded 2-core machine; generous on purpose. */
const SCHEDULING_SLACK_MS = 1500;

const leftovers = new Set<number>();

afterEach(async () => {
  killQuietly(leftovers);
  leftovers.clear();
  await stopAll();
  await removeDaemonDirs();
});

interface ProbeFailed {
  id: string;
  probe: "health" | "inference";
  count: number;
  threshold: number;
  outcome: { kind: string };
}

describe("hung and wedged backends", () => {
  it(`a SIGSTOPped backend is restarted after ${THRESHOLD} failed probes`, async () => {
    const h = await startFaultDaemon({
      config: configText({
        runtimes: [
          stubRuntime("frozen", [], {
            auto_start: true,
            health: { interval: INTERVAL_MS, timeout: TIMEOUT_MS, failure_threshold: THRESHOLD },
            stop: { grace: GRACE_MS },
            backoff: { initial: 0, jitter: 0 },
          }),
        ],
      }),
      ready: ["frozen"],
    });
    const before = await h.waitForState("frozen", ["ready"]);
    const pid = before.pid as number;
    leftovers.add(pid);
    const rec = await record(h, ["runtime.state.changed", "runtime.probe.failed", "runtime.restart"]);

    const stoppedAt = Date.now();
    process.kill(pid, "SIGSTOP");
    const detected = await rec.next(
      "runtime.probe.failed",
      (p: ProbeFailed) => p.id === "frozen" && p.count === THRESHOLD,
      15_000,
    );
    const detectMs = Date.parse(detected.time) - stoppedAt;
    const ready = await toState(rec, "frozen", ["ready"], 15_000);
    const restartMs = Date.parse(ready.time) - stoppedAt;
    const newPid = (ready.payload as StateChange).pid;
    const failures = rec.all("runtime.probe.failed", "frozen").map((e) => e.payload as ProbeFailed);
    const bound = THRESHOLD * (INTERVAL_MS + TIMEOUT_MS);
    const figures = `detected after ${detectMs} ms, ready again after ${restartMs} ms (bound ${bound} ms + ${SCHEDULING_SLACK_MS} ms slack; probes ${failures.map((f) => `${f.count}:${f.outcome.kind}`).join(",")})`;

    expect(
      failures.every((f) => f.probe === "health" && f.outcome.kind === "timeout"),
      figures,
    ).toBe(true);
    expect(detectMs, `not before ${THRESHOLD} probes could fail: ${figures}`).toBeGreaterThanOrEqual(
      (THRESHOLD - 1) * (INTERVAL_MS + TIMEOUT_MS),
    );
    expect(detectMs, figures).toBeLessThanOrEqual(bound + SCHEDULING_SLACK_MS);
    expect(restartMs, `restart also waits out the ${GRACE_MS} ms grace: ${figures}`).toBeLessThanOrEqual(
      bound + GRACE_MS + SCHEDULING_SLACK_MS + 2000,
    );
    const degraded = rec.all("runtime.state.changed", "frozen").map((e) => e.payload as StateChange);
    expect(
      degraded.some(
        (p) => p.reason?.includes(`failed ${THRESHOLD}/${THRESHOLD}`) && p.reason.includes("hung?"),
      ),
    ).toBe(true);
    expect(newPid, figures).toBeDefined();
    expect(newPid).not.toBe(pid);
    expect(alive(pid), `frozen pid ${pid} is gone (a SIGSTOPped process only dies by SIGKILL)`).toBe(false);
    const restarts = rec.all("runtime.restart", "frozen");
    expect(restarts.length, `restarts counted: ${restarts.length}`).toBe(1);
    report("hung (SIGSTOP)", {
      detect_ms: detectMs,
      ready_again_ms: restartMs,
      bound_ms: bound,
      restarts: restarts.length,
    });
    await rec.close();
  }, 30_000);

  it(`a wedged backend (/health ok, inference failing) is restarted after ${THRESHOLD} failed inference probes`, async () => {
    const inferenceTimeoutMs = 1000;
    const h = await startFaultDaemon({
      config: configText({
        runtimes: [
          stubRuntime("wedged", ["--stub-fail-inference"], {
            health: {
              interval: INTERVAL_MS,
              timeout: TIMEOUT_MS,
              failure_threshold: THRESHOLD,
              inference: { enabled: true, interval: INTERVAL_MS, timeout: inferenceTimeoutMs },
            },
            stop: { grace: GRACE_MS },
            backoff: { initial: 0, jitter: 0 },
          }),
        ],
      }),
    });
    const rec = await record(h, ["runtime.state.changed", "runtime.probe.failed", "runtime.restart"]);
    const c = await h.client();
    await c.call("runtime.start", { id: "wedged" });
    const firstReady = await toState(rec, "wedged", ["ready"], 15_000);
    const pid = (firstReady.payload as StateChange).pid as number;
    leftovers.add(pid);

    const detected = await rec.next(
      "runtime.probe.failed",
      (p: ProbeFailed) => p.id === "wedged" && p.count === THRESHOLD,
      15_000,
    );
    const detectMs = Date.parse(detected.time) - Date.parse(firstReady.time);
    const again = await toState(rec, "wedged", ["ready"], 15_000);
    const newPid = (again.payload as StateChange).pid;
    const failures = rec.all("runtime.probe.failed", "wedged").map((e) => e.payload as ProbeFailed);
    const bound = THRESHOLD * (INTERVAL_MS + inferenceTimeoutMs);
    const figures = `detected ${detectMs} ms after ready (bound ${bound} ms + ${SCHEDULING_SLACK_MS} ms slack); failures ${failures.map((f) => `${f.probe}:${f.count}:${f.outcome.kind}`).join(",")}`;

    expect(
      failures.every((f) => f.probe === "inference"),
      `only the inference probe failed (/health kept answering): ${figures}`,
    ).toBe(true);
    // Probes share one wheel and may run up to PROBE_EARLY_SHARE of their interval early (probe-wheel.ts).
    expect(detectMs, figures).toBeGreaterThanOrEqual(THRESHOLD * INTERVAL_MS * (1 - PROBE_EARLY_SHARE));
    expect(detectMs, figures).toBeLessThanOrEqual(bound + SCHEDULING_SLACK_MS);
    const reasons = rec
      .all("runtime.state.changed", "wedged")
      .map((e) => (e.payload as StateChange).reason ?? "");
    expect(
      reasons.some((r) => r.startsWith(`inference probe failed ${THRESHOLD}/${THRESHOLD}`)),
      reasons.join(" | "),
    ).toBe(true);
    expect(newPid).toBeDefined();
    expect(newPid).not.toBe(pid);
    expect(alive(pid), `wedged pid ${pid} was stopped`).toBe(false);
    report("wedged (inference failing)", {
      detect_ms: detectMs,
      bound_ms: bound,
      old_pid: pid,
      new_pid: newPid,
    });
    await c.call("runtime.stop", { id: "wedged", wait: true });
    await rec.close();
  }, 30_000);

  it(`a backend ignoring SIGTERM is SIGKILLed with its grandchild after the ${GRACE_MS} ms grace`, async () => {
    const h = await startFaultDaemon({
      config: configText({
        runtimes: [
          stubRuntime("stubborn", ["--stub-ignore-sigterm", "--stub-grandchild"], {
            auto_start: true,
            stop: { signal: "SIGTERM", grace: GRACE_MS },
          }),
        ],
      }),
      ready: ["stubborn"],
    });
    const view = await h.waitForState("stubborn", ["ready"]);
    const pid = view.pid as number;
    leftovers.add(pid);
    const grandchild = await until(
      async () => grandchildPids(await logLines(h, "stubborn")).at(-1),
      10_000,
      "the stub's 'grandchild pid N' log line",
    );
    leftovers.add(grandchild);
    expect(
      alive(pid) && alive(grandchild),
      `stub ${pid} and grandchild ${grandchild} run before the stop`,
    ).toBe(true);

    const c = await h.client();
    const started = Date.now();
    const result = await c.call("runtime.stop", { id: "stubborn", wait: true, timeout_ms: 20_000 });
    const stopMs = Date.now() - started;
    const status = await c.call("runtime.status");
    const after = status.runtimes.find((r) => r.id === "stubborn");
    const figures = `stop took ${stopMs} ms (grace ${GRACE_MS} ms); last exit ${JSON.stringify(after?.last_exit)}; stub alive ${alive(pid)}, grandchild alive ${alive(grandchild)}`;

    expect(result.outcome, figures).toBe("stopped");
    expect(stopMs, `the grace was waited out: ${figures}`).toBeGreaterThanOrEqual(GRACE_MS);
    expect(after?.last_exit?.signal, figures).toBe("SIGKILL");
    expect(alive(pid), figures).toBe(false);
    expect(alive(grandchild), figures).toBe(false);
    const lines = await logLines(h, "stubborn");
    expect(
      lines.some((l) => l.includes("ignoring SIGTERM")),
      "the stub saw and ignored SIGTERM",
    ).toBe(true);
    await until(
      () => h.stderr().includes("ignored the stop signal; killed with SIGKILL"),
      5000,
      "the escalation warning",
    );
    report("ignores SIGTERM", {
      stop_ms: stopMs,
      grace_ms: GRACE_MS,
      stub_pid: pid,
      grandchild_pid: grandchild,
    });
  }, 30_000);
});
