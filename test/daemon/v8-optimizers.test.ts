/**
 * V8's optimizing compilers off while quiet, on once busy (daemon/v8-optimizers.ts, busy-switch.ts):
 * the flags really stop and restart tier-up in this V8 (a child process with natives syntax asks V8
 * whether a hot function is optimized), the modes parse, and a real rmxd turns them on when a client
 * keeps it busy, saying so in its log.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { optimizerOffFlags, optimizerOnFlags, optimizersSetting } from "../../daemon/v8-optimizers.js";
import { DAEMON_NODE_OPTIONS } from "../../packaging/node-options.js";
import { REPO, startDaemon, stopAll, until } from "../support/daemon-harness.js";

const OPTIMIZERS = path.join(REPO, "dist/daemon/v8-optimizers.js");

// Calls a small hot function in batches until V8 reports it optimized (status bit 16) or the calls run
// out; prints how many batches it took (or "never"), before and after enable().
const HOT = `
const { takeOptimizers } = await import(${JSON.stringify(OPTIMIZERS)});
const o = takeOptimizers();
function hot(a) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 2; return s; }
const arr = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const optimized = () => (%GetOptimizationStatus(hot) & 16) !== 0;
const batches = () => {
  for (let b = 1; b <= 400; b++) {
    for (let i = 0; i < 1000; i++) hot(arr);
    if (optimized()) return b;
  }
  return "never";
};
const before = batches();
// V8's status bit 15 (kBaseline): the function has Sparkplug code, as it would after these calls with
// Sparkplug on and TurboFan off.
const baselineBefore = (%GetOptimizationStatus(hot) & 32768) !== 0;
const enabled = o.enable();
const after = optimized() ? "already" : batches();
process.stdout.write(JSON.stringify({ mode: o.setting.mode, before, baselineBefore, enabled, after, again: o.enable() }));
`;

function hotChild(
  env: Record<string, string>,
  nodeOptions: readonly string[] = [],
): Promise<{
  mode: string;
  before: number | "never";
  baselineBefore: boolean;
  enabled: boolean;
  after: number | "never" | "already";
  again: boolean;
}> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...nodeOptions, "--allow-natives-syntax", "--input-type=module", "-e", HOT],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(JSON.parse(out))),
    );
  });
}

afterEach(stopAll);

describe("V8's optimizing compilers", () => {
  it("off (auto): a hot function stays interpreted (no Sparkplug code either) until enable(), then V8 optimizes it", async () => {
    const r = await hotChild({ RMX_V8_OPTIMIZERS: "" });
    expect(r).toMatchObject({
      mode: "auto",
      before: "never",
      baselineBefore: false,
      enabled: true,
      again: false,
    });
    expect(typeof r.after).toBe("number");
  });

  it("on: V8's own behaviour from the start", async () => {
    const r = await hotChild({ RMX_V8_OPTIMIZERS: "on" });
    expect(r.mode).toBe("on");
    expect(typeof r.before).toBe("number");
    expect(r.enabled).toBe(false);
  });

  it("started as the launchers start rmxd (compilers off on the command line): auto turns them on when asked, on at once", async () => {
    expect(DAEMON_NODE_OPTIONS).toEqual(expect.arrayContaining(["--no-turbofan", "--no-sparkplug"]));
    const auto = await hotChild({ RMX_V8_OPTIMIZERS: "" }, DAEMON_NODE_OPTIONS);
    expect(auto).toMatchObject({ mode: "auto", before: "never", baselineBefore: false, enabled: true });
    expect(typeof auto.after).toBe("number");
    const on = await hotChild({ RMX_V8_OPTIMIZERS: "on" }, DAEMON_NODE_OPTIONS);
    expect(on.mode).toBe("on");
    expect(typeof on.before).toBe("number");
    expect(on.enabled).toBe(false);
  });

  it("modes and flags: auto, on, off; anything else is auto with a message naming the variable", () => {
    expect(optimizersSetting({})).toEqual({ mode: "auto" });
    expect(optimizersSetting({ RMX_V8_OPTIMIZERS: " OFF " })).toEqual({ mode: "off" });
    expect(optimizersSetting({ RMX_V8_OPTIMIZERS: "fast" })).toEqual({
      mode: "auto",
      problem: 'RMX_V8_OPTIMIZERS="fast" is not one of auto, on, off: using auto',
    });
    expect(optimizerOffFlags("11.3.244.8-node.33")).toEqual(["--no-turbofan", "--no-sparkplug"]);
    expect(optimizerOnFlags("11.3.244.8-node.33")).toEqual(["--turbofan", "--sparkplug"]);
    expect(optimizerOffFlags("13.6.233.17-node.27")).toEqual([
      "--no-turbofan",
      "--no-maglev",
      "--no-sparkplug",
    ]);
    expect(optimizerOnFlags("13.6.233.17-node.27")).toEqual(["--turbofan", "--maglev", "--sparkplug"]);
  });

  it("a real rmxd kept busy turns them on after its grace period and logs it once; a bad mode is logged", async () => {
    const h = await startDaemon({ env: { RMX_V8_OPTIMIZERS: "sometimes" } });
    await until(
      () => h.stderr().includes('RMX_V8_OPTIMIZERS=\\"sometimes\\" is not one of auto, on, off: using auto'),
      10_000,
      "the warning",
    );
    const c = await h.client();
    try {
      // Status calls back to back keep it well above 15 % of a core; the switch samples once a second
      // and counts only after 5 s.
      let on = false;
      const load = (async () => {
        while (!on) await c.call("runtime.status");
      })();
      await until(() => h.stderr().includes("busy: V8's JIT compilers on"), 40_000, "the busy line");
      on = true;
      await load;
      const lines = h
        .stderr()
        .split("\n")
        .filter((l) => l.includes("JIT compilers on"));
      expect(lines).toHaveLength(1);
      const entry = JSON.parse(lines[0] ?? "{}");
      expect(entry.cpu_percent).toBeGreaterThanOrEqual(15);
      expect(entry.interval_ms).toBeGreaterThan(0);
    } finally {
      await c.close();
    }
  }, 60_000);
});
