/** A process's resident memory and CPU time, read from /proc (Linux), via pidusage elsewhere. */
import fs from "node:fs";
import os from "node:os";
import pidusage from "pidusage";

const CLOCK_TICKS = 100; // USER_HZ on every Linux the bench targets

/** { rssBytes, cpuMs } (cumulative user+system time), or undefined once the process is gone. */
export async function usage(pid) {
  if (os.platform() === "linux") {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[0] is field 3 (state): utime is field 14, stime 15, rss (pages) 24.
      const utime = Number(fields[11]);
      const stime = Number(fields[12]);
      const status = fs.readFileSync(`/proc/${pid}/status`, "latin1");
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      return { rssBytes: rssKb * 1024, cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS };
    } catch {
      return undefined;
    }
  }
  try {
    const s = await pidusage(pid);
    return { rssBytes: s.memory, cpuMs: s.ctime };
  } catch {
    return undefined;
  }
}

/** pidusage keeps per-pid history with a timer; drop it so the bench can exit. */
export function releaseUsage() {
  pidusage.clear();
}
