/**
 * rmxd itself dies: SIGKILLed mid-run, its backends keep running in their own process groups; the next
 * daemon on the same state dir stops them, keeps the restart budgets, and clients connect again. A state
 * file that is corrupt or was cut short is moved aside with a warning instead of stopping the daemon.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PersistedState } from "../../daemon/persisted.js";
import { RmxClient, RpcCallError } from "../../ipc/client.js";
import { stopAll, until } from "../support/daemon-harness.js";
import {
  alive,
  configText,
  faultDir,
  grandchildPids,
  killQuietly,
  logLines,
  removeDaemonDirs,
  report,
  runtimeView,
  startFaultDaemon,
  stubRuntime,
} from "./fault-support.js";

const leftovers = new Set<number>();

afterEach(async () => {
  killQuietly(leftovers);
  leftovers.clear();
  await stopAll();
  await removeDaemonDirs();
});

async function readState(stateDir: string): Promise<PersistedState | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as PersistedState;
  } catch {
    return undefined; // not written yet, or caught between write and rename
  }
}

describe("rmxd killed with SIGKILL", () => {
  it("the next start stops the old backends, keeps the budgets, and clients connect again", async () => {
    const config = configText({
      runtimes: [
        stubRuntime("alpha", [], {
          auto_start: true,
          restart_budget: { max_restarts: 5, window_seconds: 600 },
        }),
        stubRuntime("beta", ["--stub-grandchild"], {
          auto_start: true,
          restart_budget: { max_restarts: 5, window_seconds: 600 },
        }),
      ],
    });
    const dir = await faultDir();
    const first = await startFaultDaemon({ dir, config, ready: ["alpha", "beta"] });
    const c = await first.client();
    // Operator restarts count against the budget: alpha uses 2, beta 1.
    for (const id of ["alpha", "alpha", "beta"]) {
      const r = await c.call("runtime.restore", { id, wait: true, timeout_ms: 20_000 });
      expect(r.outcome, `restore ${id}: ${JSON.stringify(r)}`).toBe("ready");
    }
    const alpha = await runtimeView(first, "alpha");
    const beta = await runtimeView(first, "beta");
    const oldPids = [alpha.pid as number, beta.pid as number];
    const grandchild = await until(
      async () => grandchildPids(await logLines(first, "beta")).at(-1),
      10_000,
      "beta's 'grandchild pid N' line",
    );
    for (const pid of [...oldPids, grandchild]) leftovers.add(pid);
    expect([alpha.restart_budget.used, beta.restart_budget.used]).toEqual([2, 1]);
    // The kill must come after the budgets and the live children are on disk.
    await until(
      async () => {
        const s = await readState(first.stateDir);
        return (
          s?.runtimes.alpha?.budget.attempts.length === 2 &&
          s.runtimes.beta?.budget.attempts.length === 1 &&
          s.runtimes.alpha.child?.pid === oldPids[0] &&
          s.runtimes.beta.child?.pid === oldPids[1]
        );
      },
      10_000,
      "state.json to hold both budgets and both children",
    );

    let closedWith: Error | undefined;
    let closed = false;
    c.onClose((err) => {
      closed = true;
      closedWith = err;
    });
    const killed = await first.stop("SIGKILL");
    expect(killed.signal).toBe("SIGKILL");
    await until(() => closed, 5000, "the connected client to see the connection close");
    const callError = await c.call("runtime.status").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(closedWith, "the close is reported as an error, not as our own close()").toBeInstanceOf(Error);
    expect(callError).toBeInstanceOf(RpcCallError);
    expect((callError as RpcCallError).stableCode, String(callError)).toBe("DAEMON_NOT_RUNNING");
    const survivors = [...oldPids, grandchild].filter(alive);
    expect(
      survivors,
      `backends outlive a SIGKILLed daemon (own process groups): ${survivors.join(",")}`,
    ).toEqual([...oldPids, grandchild]);
    const gap = await RmxClient.connect({ socketPath: first.socket, timeoutMs: 1000 }).then(
      (client) => client.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect((gap as RpcCallError | undefined)?.stableCode, `connect while down: ${String(gap)}`).toBe(
      "DAEMON_NOT_RUNNING",
    );

    const second = await startFaultDaemon({ dir, config, ready: ["alpha", "beta"] });
    const stillRunning = [...oldPids, grandchild].filter(alive);
    const again = await RmxClient.connect({ socketPath: second.socket });
    const status = await again.call("runtime.status");
    await again.close();
    const used = Object.fromEntries(status.runtimes.map((r) => [r.id, r.restart_budget.used]));
    const newPids = status.runtimes.map((r) => r.pid);
    const reapedLines = second
      .stderr()
      .split("\n")
      .filter((l) => l.includes("left running by a previous daemon"));
    const figures = `old pids ${oldPids.join(",")} + grandchild ${grandchild}, still running: [${stillRunning.join(",")}]; new pids ${newPids.join(",")}; used ${JSON.stringify(used)}; reaped log lines ${reapedLines.length}`;

    expect(stillRunning, figures).toEqual([]);
    // The budgets survive, and each runtime's start on the new daemon is a restart (it was running): +1 each.
    expect(used, figures).toEqual({ alpha: 3, beta: 2 });
    expect(
      newPids.some((p) => p === undefined || oldPids.includes(p)),
      figures,
    ).toBe(false);
    expect(reapedLines.length, figures).toBe(2);
    report("rmxd SIGKILL", {
      old_pids: oldPids,
      grandchild,
      still_running: stillRunning.length,
      used_after: used,
      new_pids: newPids,
    });
  }, 60_000);
});

describe("corrupt state file", () => {
  const valid: PersistedState = {
    version: 1,
    runtimes: { solo: { budget: { attempts: [Date.now() - 1000], resets: [] }, desired: "running" } },
    leases: [],
    pins: [],
  };
  const whole = `${JSON.stringify(valid, null, 2)}\n`;
  const cases: Array<[string, string]> = [
    ["garbage", "\u0000\u00ff not json at all {{{"],
    ["half-written", whole.slice(0, Math.floor(whole.length / 2))],
    ["empty", ""],
    ["wrong shape", JSON.stringify({ version: 1, runtimes: { solo: { budget: "lots", desired: "maybe" } } })],
  ];

  it.each(cases)(
    "state.json %s: moved aside with a warning, and the daemon starts",
    async (_kind, content) => {
      const dir = await faultDir();
      const stateDir = path.join(dir, "state");
      await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
      await fs.writeFile(path.join(stateDir, "state.json"), content);
      const h = await startFaultDaemon({
        dir,
        config: configText({ runtimes: [stubRuntime("solo", [], { auto_start: true })] }),
        ready: ["solo"],
      });

      const warnings = h
        .stderr()
        .split("\n")
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as { level: number; msg: string; quarantined_to?: string }];
          } catch {
            return [];
          }
        })
        .filter((l) => l.msg.includes("state.json was unreadable"));
      const aside = (await fs.readdir(stateDir)).filter((n) => n.startsWith("state.json.corrupt-"));
      const kept =
        aside[0] === undefined ? undefined : await fs.readFile(path.join(stateDir, aside[0]), "utf8");
      const view = await runtimeView(h, "solo");
      const figures = `warnings ${JSON.stringify(warnings.map((w) => [w.level, w.msg]))}; kept aside ${JSON.stringify(aside)} (${kept?.length} of ${content.length} bytes)`;

      expect(warnings.length, figures).toBe(1);
      expect(warnings[0]?.level, `logged at warn (40): ${figures}`).toBe(40);
      expect(aside.length, figures).toBe(1);
      expect(warnings[0]?.quarantined_to, figures).toBe(path.join(stateDir, aside[0] as string));
      expect(kept, `the corrupt file is kept byte for byte: ${figures}`).toBe(content);
      expect(view.state).toBe("ready");
      expect(view.restart_budget.used, "started fresh: nothing from the unreadable file").toBe(0);
      await until(
        async () => (await readState(stateDir))?.runtimes.solo?.desired === "running",
        5000,
        "a fresh state.json",
      );
      report(`state.json ${_kind}`, { bytes_kept_aside: kept?.length, file: aside[0] });
    },
  );
});
