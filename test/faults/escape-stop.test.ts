/**
 * Nothing a backend starts outlives its stop: grandchildren left by a leader that exited on its own,
 * and grandchildren that left the process group (`setsid`), are gone after `runtime.stop` and after
 * rmxd stops (Linux: /proc tag sweep, and cgroup.kill where rmxd has a delegated cgroup).
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stopAll, until } from "../support/daemon-harness.js";
import {
  type BackendMode,
  escapeRuntime,
  killMarked,
  markedAlive,
  reportedPids,
  writeBackend,
} from "./escape-support.js";
import { configText, faultDir, removeDaemonDirs, report, startFaultDaemon } from "./fault-support.js";

const GRANDCHILDREN = 50;
const marks: string[] = [];

afterEach(async () => {
  for (const mark of marks.splice(0)) await killMarked(mark);
  await stopAll();
  await removeDaemonDirs();
});

const cases: Array<[BackendMode, "runtime.stop" | "rmxd SIGTERM"]> = [
  ["leader-exits", "runtime.stop"],
  ["leader-exits", "rmxd SIGTERM"],
  ["setsid", "runtime.stop"],
  ["setsid", "rmxd SIGTERM"],
];

describe.runIf(process.platform === "linux")("a backend's escaped processes", () => {
  it.each(cases)(
    "%s: none alive after %s",
    async (mode, how) => {
      const dir = await faultDir();
      const mark = `escape-${mode}-${how.replace(/\W/g, "")}-${process.pid}-${Date.now()}`;
      marks.push(mark);
      const pidsFile = path.join(dir, "pids.txt");
      const script = await writeBackend(dir);
      const runtime = escapeRuntime("spread", { script, mode, count: GRANDCHILDREN, pidsFile, mark });
      const h = await startFaultDaemon({ dir, config: configText({ runtimes: [runtime] }) });
      const c = await h.client();
      await c.call("runtime.start", { id: "spread", wait: false });
      await until(async () => (await reportedPids(pidsFile)).spawned, 20_000, "the backend to spawn");
      const { pids } = await reportedPids(pidsFile);
      const leader = pids[0] as number;
      if (mode === "leader-exits") {
        await h.waitForState("spread", ["backoff", "failed", "exhausted"], 20_000);
      } else {
        await h.waitForState("spread", ["ready"], 20_000);
      }
      const beforeStop = (await markedAlive(mark)).length;

      if (how === "runtime.stop")
        await c.call("runtime.stop", { id: "spread", wait: true, timeout_ms: 20_000 });
      else await h.stop("SIGTERM");

      const alive = await markedAlive(mark);
      const figures = `leader ${leader}, ${pids.length - 1} grandchildren reported, ${beforeStop} marked alive before the stop, alive after: [${alive.join(",")}]`;
      expect(pids.length, figures).toBe(GRANDCHILDREN + 1);
      // A leader that exits on its own takes its unit with it before the supervisor moves on (a restart).
      if (mode === "leader-exits") expect(beforeStop, figures).toBe(0);
      expect(alive, figures).toEqual([]);
      report(`${mode} / ${how}`, {
        grandchildren: GRANDCHILDREN,
        alive_before_stop: beforeStop,
        alive_after: alive.length,
      });
    },
    60_000,
  );
});
