import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { cpuPercent, ProcStatSampler, parseProcStat } from "../../daemon/hardware/proc-stat.js";

const linux = process.platform === "linux";
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** A node child running `script`, once it has written its first line; killed after the test. */
async function running(script: string) {
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  stops.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  });
  await once(child.stdout, "data");
  return child;
}

/** A /proc/<pid>/stat line: fields 3.. after the name, with utime/stime/starttime/rss where the kernel puts them. */
function statLine(
  pid: number,
  name: string,
  v: { utime: number; stime: number; start: number; rss: number },
): string {
  const after = Array.from({ length: 50 }, () => "0");
  after[0] = "S";
  after[11] = String(v.utime);
  after[12] = String(v.stime);
  after[19] = String(v.start);
  after[21] = String(v.rss);
  return `${pid} (${name}) ${after.join(" ")}\n`;
}

describe("parseProcStat", () => {
  it("reads CPU ticks, start and RSS whatever the process name holds (spaces, parentheses)", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 16 }),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        (name, utime, stime, start, rss) => {
          const stat = parseProcStat(statLine(42, name, { utime, stime, start, rss }));
          expect(stat).toEqual({
            cpuSeconds: (utime + stime) / 100,
            startSeconds: start / 100,
            rssPages: rss,
          });
        },
      ),
    );
  });

  it("reads what splitting the fields at spaces read, for any text (the scan makes no per-field strings)", () => {
    const bySplit = (text: string) => {
      const close = text.lastIndexOf(")");
      if (close < 0) return undefined;
      const f = text.slice(close + 2).split(" ");
      const [utime, stime, start, rss] = [f[11], f[12], f[19], f[21]].map(Number) as number[];
      if (![utime, stime, start, rss].every(Number.isFinite)) return undefined;
      return {
        cpuSeconds: ((utime as number) + (stime as number)) / 100,
        startSeconds: (start as number) / 100,
        rssPages: rss,
      };
    };
    const token = fc.oneof(fc.constantFrom("", " ", ")", "(", "\n", "-", "1e3", "x"), fc.nat().map(String));
    fc.assert(
      fc.property(
        fc.array(token, { maxLength: 60 }),
        fc.array(fc.constantFrom(" ", "", ")"), { maxLength: 60 }),
        (parts, seps) => {
          const text = parts.map((p, i) => p + (seps[i] ?? " ")).join("");
          expect(parseProcStat(text)).toEqual(bySplit(text));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("is undefined for text that is not a stat line", () => {
    expect(parseProcStat("")).toBeUndefined();
    expect(parseProcStat("12 (x) S 1 2")).toBeUndefined();
  });
});

describe("cpuPercent", () => {
  it("is CPU time over wall time since the previous reading, since the start for the first; never negative", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.double({ min: 0, max: 1e3, noNaN: true }),
        fc.double({ min: 0.01, max: 1e5, noNaN: true }),
        (cpu, used, elapsed) => {
          const before = { cpuSeconds: cpu, uptime: 100 };
          const now = { cpuSeconds: cpu + used, uptime: 100 + elapsed };
          // The difference of two CPU readings loses up to an ulp of the larger one: allow that, scaled to %.
          const cancellation = ((cpu + used) * Number.EPSILON * 4 * 100) / elapsed;
          const close = (a: number, b: number) =>
            expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, b) + cancellation);
          close(cpuPercent(now, before, 0), (used / elapsed) * 100);
          close(cpuPercent(now, undefined, 100), ((cpu + used) / elapsed) * 100);
          expect(cpuPercent(before, now, 0)).toBe(0);
        },
      ),
    );
  });
});

describe("ProcStatSampler over a /proc tree", () => {
  it("forgets a pid's history when the pid is reused by a process that started later", () => {
    const files = new Map<string, string>();
    const read = (file: string) => {
      const text = files.get(file);
      if (text === undefined) throw Object.assign(new Error(`ENOENT ${file}`), { code: "ENOENT" });
      return text;
    };
    const sampler = new ProcStatSampler("/p", read);
    files.set("/p/uptime", "1000.00 0\n");
    files.set("/p/7/stat", statLine(7, "a", { utime: 500, stime: 500, start: 50_000, rss: 10 }));
    expect(sampler.sample([7, 8])).toEqual({ 7: { pid: 7, cpu_percent: 2, rss_bytes: 40_960 } });
    // 10 s later: 1 s more CPU → 10 %.
    files.set("/p/uptime", "1010.00 0\n");
    files.set("/p/7/stat", statLine(7, "a", { utime: 550, stime: 550, start: 50_000, rss: 10 }));
    expect(sampler.sample([7])[7]?.cpu_percent).toBe(10);
    // Same pid, another process (started at 1005 s): measured since its own start.
    files.set("/p/uptime", "1015.00 0\n");
    files.set("/p/7/stat", statLine(7, "b", { utime: 100, stime: 0, start: 100_500, rss: 10 }));
    expect(sampler.sample([7])[7]?.cpu_percent).toBe(10);
  });
});

describe.runIf(linux)("ProcStatSampler on this machine's /proc", () => {
  it("samples a real process: its CPU since start, its RSS as the kernel counts it, nothing for a gone pid", async () => {
    // Burns ~300 ms of CPU, says so, then sleeps: the sample is taken while it sleeps.
    const child = await running(
      "const t=process.cpuUsage();while((process.cpuUsage(t).user+process.cpuUsage(t).system)<300000);process.stdout.write('busy done\\n');setInterval(()=>{},1e6)",
    );
    const pid = child.pid as number;
    const sampler = new ProcStatSampler();
    const sample = sampler.sample([pid])[pid];
    expect(sample?.cpu_percent).toBeGreaterThan(0);
    const vmRssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"))?.[1]);
    // The same kernel counter in pages and in kB, read a moment apart (Node's own threads still touch a few
    // pages): a wrong page size would be off by 4× or more.
    const ratio = (sample?.rss_bytes ?? 0) / 1024 / vmRssKb;
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(sampler.sample([pid])).toEqual({});
  });
});

describe.runIf(linux)("ProcStatSampler keeps each stat file open", () => {
  /** This process's open files that are `file` (readlink of /proc/self/fd/N). */
  const opened = (file: string) =>
    fs.readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false; // the fd readdir itself used, closed since
      }
    }).length;

  it("re-reads it every sample (one file per process, however many samples), closes it once the process is gone", async () => {
    // Burns CPU until killed: its CPU time grows between samples, read through the same open file.
    const child = await running("process.stdout.write('up\\n');for(;;);");
    const pid = child.pid as number;
    const stat = `/proc/${pid}/stat`;
    const uptime = opened("/proc/uptime");
    const sampler = new ProcStatSampler();
    const first = sampler.sample([pid])[pid];
    expect(opened(stat)).toBe(1);
    expect(opened("/proc/uptime")).toBe(uptime + 1);
    const cpuOf = () => Number(fs.readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]?.split(" ")[11]);
    const ticks = cpuOf();
    while (cpuOf() < ticks + 5) await new Promise((resolve) => setImmediate(resolve)); // 50 ms of its CPU
    const second = sampler.sample([pid])[pid];
    expect(opened(stat), "not opened again").toBe(1);
    expect(second?.cpu_percent).toBeGreaterThan(0);
    expect(second?.rss_bytes).toBeGreaterThan(0);
    expect(first).toBeDefined();
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(sampler.sample([pid])).toEqual({});
    expect(opened(stat), "the gone process's file is closed").toBe(0);
    sampler.close();
    expect(opened("/proc/uptime")).toBe(uptime);
  });
});
