/**
 * cgroup v2 containment, where this machine lets us have a cgroup of our own: rmxd started inside a
 * writable cgroup puts each spawn in `<cg>/<instance>-<runtime>/<spawn>`, and a stop's cgroup.kill
 * ends processes the tag sweep cannot see (a new session AND a cleared environment).
 */
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { instanceKey } from "../../daemon/process/tag.js";
import { stopAll, until } from "../support/daemon-harness.js";
import { escapeRuntime, killMarked, markedAlive, reportedPids, writeBackend } from "./escape-support.js";
import { configText, faultDir, removeDaemonDirs, report, startFaultDaemon } from "./fault-support.js";

/** A cgroup2 mount where we may create a sub-cgroup and move processes, or why not. */
async function writableCgroup2(): Promise<{ mount: string } | { why: string }> {
  if (process.platform !== "linux") return { why: `no cgroups on ${process.platform}` };
  const info = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const line = info.split("\n").find((l) => l.split(" - ")[1]?.startsWith("cgroup2 "));
  if (line === undefined) return { why: "no cgroup2 file system mounted" };
  const mount = line.split(" ")[4] as string;
  const own = (await readFile("/proc/self/cgroup", "utf8")).split("\n").find((l) => l.startsWith("0::"));
  if (own === undefined) return { why: "this process is in no cgroup v2" };
  const probe = path.join(mount, own.slice(3).trim(), `rmx-probe-${process.pid}`);
  try {
    await mkdir(probe);
    await readFile(path.join(probe, "cgroup.kill")).catch(() => "");
    await stat(path.join(probe, "cgroup.kill"));
    await rmdir(probe);
    return { mount: path.dirname(probe) };
  } catch (error) {
    await rmdir(probe).catch(() => undefined);
    return { why: `cannot create a cgroup with cgroup.kill under ${mount}: ${(error as Error).message}` };
  }
}

const available = await writableCgroup2();
const marks: string[] = [];
const created: string[] = [];

afterEach(async () => {
  for (const mark of marks.splice(0)) await killMarked(mark);
  await stopAll();
  await removeDaemonDirs();
  for (const dir of created.splice(0).reverse()) await removeTree(dir);
});

async function removeTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeTree(path.join(dir, e.name));
  await rmdir(dir).catch(() => undefined);
}

const procs = async (dir: string) =>
  (await readFile(path.join(dir, "cgroup.procs"), "utf8").catch(() => ""))
    .split("\n")
    .filter(Boolean)
    .map(Number);

describe("cgroup v2 containment", () => {
  it.skipIf("why" in available)(
    `a runtime gets its own cgroup and cgroup.kill ends what the tag sweep cannot see${"why" in available ? ` (skipped: ${available.why})` : ""}`,
    async () => {
      if (!("mount" in available)) return;
      const cg = path.join(available.mount, `rmx-test-${process.pid}-${Date.now()}`);
      const launcher = path.join(cg, "launcher");
      await mkdir(launcher, { recursive: true });
      created.push(cg);
      const home = path.join(available.mount, "cgroup.procs");
      const dir = await faultDir();
      const mark = `cgroup-${process.pid}-${Date.now()}`;
      marks.push(mark);
      const pidsFile = path.join(dir, "pids.txt");
      const script = await writeBackend(dir);
      const runtime = escapeRuntime("spread", { script, mode: "clearenv", count: 50, pidsFile, mark });
      // rmxd inherits the cgroup it is forked in: fork it from inside ours, then come back.
      await writeFile(path.join(launcher, "cgroup.procs"), String(process.pid));
      let h: Awaited<ReturnType<typeof startFaultDaemon>>;
      try {
        h = await startFaultDaemon({ dir, config: configText({ runtimes: [runtime] }) });
      } finally {
        await writeFile(home, String(process.pid));
      }
      const contained = h
        .stderr()
        .split("\n")
        .find((l) => l.includes('"process containment"'));
      expect(contained, "rmxd reports its delegated cgroup").toContain(`"cgroup":"${launcher}"`);
      expect(await procs(path.join(launcher, "rmxd")), "rmxd moved itself into its leaf").toEqual([h.pid]);

      const c = await h.client();
      await c.call("runtime.start", { id: "spread", wait: false });
      await h.waitForState("spread", ["ready"], 20_000);
      await until(async () => (await reportedPids(pidsFile)).spawned, 20_000, "the backend to spawn");
      const { pids } = await reportedPids(pidsFile);
      const runtimeDir = path.join(launcher, `${instanceKey(path.join(dir, "state"))}-spread`);
      const leaves = await readdir(runtimeDir, { withFileTypes: true });
      const leaf = path.join(runtimeDir, (leaves.find((e) => e.isDirectory()) as { name: string }).name);
      const inCgroup = await procs(leaf);
      const before = (await markedAlive(mark)).length;

      await c.call("runtime.stop", { id: "spread", wait: true, timeout_ms: 20_000 });

      const alive = await markedAlive(mark);
      const leafGone = await stat(leaf).then(
        () => false,
        () => true,
      );
      const figures = `leader ${pids[0]}; ${inCgroup.length} processes in ${leaf}; ${before} marked alive before the stop; alive after: [${alive.join(",")}]; leaf removed: ${leafGone}`;
      expect(inCgroup, figures).toContain(pids[0]);
      expect(inCgroup.length, figures).toBe(pids.length);
      expect(before, figures).toBe(51);
      expect(alive, figures).toEqual([]);
      expect(leafGone, figures).toBe(true);
      report("cgroup.kill", { in_cgroup: inCgroup.length, alive_before: before, alive_after: alive.length });
    },
    60_000,
  );
});
