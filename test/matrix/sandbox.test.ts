/**
 * The sandboxes axis with real daemons: a runtime running in bwrap (its cell ready, scraped over loopback),
 * and an unavailable kind shown unavailable with the reason, a runtime asking for it failing with that reason.
 */
import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { detectSandboxes } from "../../daemon/sandbox/detect.js";
import { startDaemon, stopAll, tempDir, until } from "../support/daemon-harness.js";
import { cellIn, matrixOf } from "./support.js";

afterEach(stopAll);

describe("sandboxes in the matrix", () => {
  it("a bwrap cell running", async (ctx) => {
    const bwrap = (await detectSandboxes()).find((s) => s.kind === "bwrap");
    if (!bwrap?.available) {
      ctx.skip(`bwrap cannot run here: ${bwrap?.reason ?? "not detected"}`);
      return;
    }
    const d = await startDaemon({
      config: `
telemetry: { sample_interval: 200ms }
runtimes:
  - id: boxed
    adapter: llama-stub
    sandbox: bwrap
    slots: 3
    auto_start: true
    args: ["--alias", "boxed-model"]
`,
      ready: ["boxed"],
    });
    const rt = (await d.status()).runtimes.find((r) => r.id === "boxed");
    const cmdline = (await readFile(`/proc/${rt?.pid}/cmdline`, "utf8")).split("\0");
    expect(cmdline[0]).toMatch(/bwrap$/);
    expect(cmdline).toContain("--unshare-pid");
    // Scraped through the sandbox over loopback: the load numbers come from the backend itself.
    const result = await until(
      async () => {
        const m = await matrixOf(d);
        // Two scrapes: the first sets the counters' baseline, the second gives a rate.
        const cell = cellIn(m, "boxed-model@cpu/bwrap");
        return cell.throughput.generated_tokens_per_second !== undefined ? m : undefined;
      },
      10_000,
      "two scrapes of the sandboxed backend",
    );
    const cell = cellIn(result, "boxed-model@cpu/bwrap");
    expect(cell).toMatchObject({ available: true, runtimes: ["boxed"], sandbox: "bwrap" });
    expect(cell.status.code).toBe("ready");
    expect(cell.load).toMatchObject({
      requests_processing: 0,
      slots_busy: 0,
      slots_total: 3,
      lease_capacity: 3,
    });
    expect(cell.throughput.generated_tokens_per_second).toBe(0);
    expect(cellIn(result, "boxed-model@cpu/none").runtimes).toEqual([]);
  });

  it("an unavailable sandbox: shown unavailable with the reason; a runtime asking for it fails with it", async () => {
    // An empty PATH makes systemd-run unavailable on any host (here PID 1 may not even be systemd).
    const emptyPath = await tempDir("rmx-matrix-path-");
    const d = await startDaemon({
      env: { PATH: emptyPath },
      config: `
runtimes:
  - id: scoped
    adapter: llama-stub
    sandbox: { kind: systemd-run, memory_max: 1GB }
    auto_start: true
    args: ["--alias", "scoped-model"]
`,
    });
    const rt = await d.waitForState("scoped", ["failed"]);
    const result = await matrixOf(d);
    const cell = cellIn(result, "scoped-model@cpu/systemd-run");
    expect(cell.available).toBe(false);
    const why = /^sandbox systemd-run is unavailable: (.+)$/.exec(cell.unavailable_reason ?? "")?.[1];
    expect(why).toMatch(/PID 1 is not systemd|systemd-run not found on PATH/);
    expect(rt.reason).toBe(`sandbox systemd-run for runtime scoped is unavailable: ${why}`);
    expect(cell.runtimes).toEqual(["scoped"]);
    expect(cell.status.code).toBe("error");
    expect(cell.status.detail).toContain(`Unavailable: ${cell.unavailable_reason}`);
    // Every sandbox kind is on the axis, available or not; the unavailable ones say why.
    expect(result.axes.sandboxes).toEqual(["none", "bwrap", "systemd-run"]);
    expect(cellIn(result, "scoped-model@cpu/bwrap").unavailable_reason).toMatch(
      /^sandbox bwrap is unavailable: /,
    );
    expect(cellIn(result, "scoped-model@cpu/none").available).toBe(true);

    const list = await d.cli(["matrix", "--list"]);
    expect(list.stdout).toContain(
      `scoped-model on cpu in sandbox systemd-run: unavailable (${cell.unavailable_reason}); Failed - ${rt.reason}`,
    );
  });
});
