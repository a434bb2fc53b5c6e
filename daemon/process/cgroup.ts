import { constants } from "node:fs";
import path from "node:path";
import { access, mkdir, readdir, readFile, rmdir, stat, writeFile } from "../../base/fs-async.js";

/**
 * cgroup v2 containment. Under systemd with `Delegate=yes` rmxd owns its service's cgroup; each runtime
 * then gets `<cg>/<instance>-<runtime>/<spawn>` and a stop ends with `cgroup.kill`, which reaches every
 * process in it whatever it did (setsid, double fork, a cleared environment). rmxd itself moves into
 * the leaf `<cg>/rmxd` first: with controllers enabled a cgroup with children may hold no processes.
 * Anywhere else (no cgroup v2, the hierarchy root, a cgroup we do not own) this is off and the
 * process group plus the tag sweep are all there is.
 */

export interface Containment {
  /** The delegated cgroup's directory, when there is one. */
  dir?: string;
  /** Why there is none, for the log. */
  whyNot?: string;
}

let detected: Promise<Containment> | undefined;
/** The detection's outcome once it is in (for a caller that must not wait: forkChild). */
let known: Containment | undefined;

/** Detected once per process (the move of rmxd into its leaf happens then). `RMX_CGROUPS=off` disables it. */
export function containment(): Promise<Containment> {
  detected ??= detect()
    .catch((error: unknown): Containment => ({ whyNot: `cgroup detection failed: ${String(error)}` }))
    .then((outcome) => {
      known = outcome;
      return outcome;
    });
  return detected;
}

/** containment() when it has been detected already; undefined before (call containment() then). */
export function containmentKnown(): Containment | undefined {
  return known;
}

async function detect(): Promise<Containment> {
  if (process.platform !== "linux") return { whyNot: `no cgroups on ${process.platform}` };
  if (process.env.RMX_CGROUPS === "off") return { whyNot: "RMX_CGROUPS=off" };
  const own = await readFile("/proc/self/cgroup", "utf8").catch(() => "");
  const line = own.split("\n").find((l) => l.startsWith("0::"));
  if (line === undefined) return { whyNot: "no cgroup v2 membership in /proc/self/cgroup" };
  const relative = line.slice(3).trim();
  if (relative === "/" || relative === "") {
    return { whyNot: "rmxd runs in the root cgroup, which belongs to the machine, not to rmxd" };
  }
  const mount = await cgroup2Mount();
  if (mount === undefined) return { whyNot: "no cgroup2 file system in /proc/self/mountinfo" };
  if (!relative.startsWith(mount.root)) {
    return { whyNot: `cgroup ${relative} is outside the mounted cgroup2 tree (${mount.root})` };
  }
  let dir = path.join(mount.point, relative.slice(mount.root.length));
  const uid = process.getuid?.() ?? -1;
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined) return { whyNot: `cgroup ${dir} is not visible` };
  if (info.uid !== uid) {
    return { whyNot: `cgroup ${dir} belongs to uid ${info.uid}, not to rmxd (uid ${uid}): not delegated` };
  }
  for (const file of ["", "cgroup.procs", "cgroup.subtree_control"]) {
    try {
      await access(path.join(dir, file), constants.W_OK);
    } catch {
      return { whyNot: `cgroup ${path.join(dir, file)} is not writable: not delegated (Delegate=yes)` };
    }
  }
  // Restarted inside the leaf it made earlier (same process tree): the parent is the delegated one.
  if (path.basename(dir) === DAEMON_LEAF) dir = path.dirname(dir);
  else {
    const leaf = path.join(dir, DAEMON_LEAF);
    await mkdir(leaf, { recursive: true });
    await writeFile(path.join(leaf, "cgroup.procs"), String(process.pid));
  }
  return { dir };
}

const DAEMON_LEAF = "rmxd";

async function cgroup2Mount(): Promise<{ point: string; root: string } | undefined> {
  const text = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    if (right?.split(" ")[0] !== "cgroup2" || left === undefined) continue;
    const fields = left.split(" ");
    const root = fields[3];
    const point = fields[4];
    if (root !== undefined && point !== undefined) return { point: unescapeMount(point), root };
  }
  return undefined;
}

/** mountinfo escapes spaces and the like as octal (`\040`). */
function unescapeMount(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** `<cg>/<instance>-<runtime>`: every spawn of one runtime lives below it. */
export function runtimeCgroup(base: string, instance: string, runtime: string): string {
  return path.join(base, `${instance}-${runtime}`);
}

/** Creates the spawn's leaf and moves `pid` into it; undefined (and the tag sweep alone) if that fails. */
export async function placeInCgroup(dir: string, pid: number): Promise<string | undefined> {
  // Twice: the runtime's cgroup can be removed (rmdir, once empty) by the end of the previous spawn's unit
  // between the two levels of the mkdir; once the leaf exists it cannot be.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, "cgroup.procs"), String(pid));
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return undefined;
    }
  }
  return undefined;
}

async function members(dir: string): Promise<number[]> {
  const text = await readFile(path.join(dir, "cgroup.procs"), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

/** How long to wait for a killed cgroup to empty before leaving its directory for the next sweep. */
const EMPTY_WAIT_MS = 2000;

/**
 * Kills everything in `dir` and its descendants (`cgroup.kill`; before Linux 5.14, SIGKILL to every pid
 * in `cgroup.procs`, repeated until it is empty), then removes the directories. Resolves with the pids
 * that were in it. A missing directory is not an error.
 */
export async function killCgroup(dir: string): Promise<number[]> {
  const seen = new Set<number>();
  const subdirs = await childCgroups(dir);
  for (const sub of subdirs) for (const pid of await killCgroup(sub)) seen.add(pid);
  for (const pid of await members(dir)) seen.add(pid);
  let killFile = true;
  try {
    await writeFile(path.join(dir, "cgroup.kill"), "1");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && !(await exists(dir))) return [...seen];
    killFile = false;
  }
  const deadline = Date.now() + EMPTY_WAIT_MS;
  for (;;) {
    const left = await members(dir);
    if (left.length === 0) break;
    if (!killFile) {
      for (const pid of left) {
        seen.add(pid);
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
    if (Date.now() > deadline) return [...seen];
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await rmdir(dir).catch(() => undefined);
  return [...seen];
}

async function exists(dir: string): Promise<boolean> {
  return stat(dir).then(
    () => true,
    () => false,
  );
}

async function childCgroups(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
}

/** Start-up: the runtime cgroups a previous daemon of this instance left behind, killed and removed. */
export async function killLeftoverCgroups(base: string, instance: string): Promise<number[]> {
  const killed: number[] = [];
  for (const dir of await childCgroups(base)) {
    if (path.basename(dir).startsWith(`${instance}-`)) killed.push(...(await killCgroup(dir)));
  }
  return killed;
}
