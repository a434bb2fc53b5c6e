import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { findTagged, readTag, sweepTagged } from "../../daemon/process/sweep.js";
import { instanceKey, instancePrefix, spawnTag } from "../../daemon/process/tag.js";
import { waitFor } from "./fixtures.js";

const strays: number[] = [];
afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
});

/** A process in a session of its own (what `setsid` does), with `RMX_TAG=tag` unless undefined. */
function escapee(tag: string | undefined): number {
  const env = tag === undefined ? { PATH: process.env.PATH } : { PATH: process.env.PATH, RMX_TAG: tag };
  const child = spawn("sleep", ["1000"], { detached: true, env, stdio: "ignore" });
  child.unref();
  strays.push(child.pid as number);
  return child.pid as number;
}

describe("tags", () => {
  it("an instance key depends on the state dir and the uid, and every spawn tag carries it", () => {
    expect(instanceKey("/a/state", 1000)).toBe(instanceKey("/a/state/", 1000));
    expect(instanceKey("/a/state", 1000)).not.toBe(instanceKey("/a/state", 1001));
    expect(instanceKey("/a/state", 1000)).not.toBe(instanceKey("/b/state", 1000));
    const tag = spawnTag({ stateDir: "/a/state", runtime: "alpha", generation: 3 });
    expect(tag.startsWith(`${instancePrefix("/a/state")}alpha/3.`)).toBe(true);
    expect(spawnTag({ stateDir: "/a/state", runtime: "alpha", generation: 3 })).not.toBe(tag);
  });
});

describe.runIf(process.platform === "linux")("the /proc sweep", () => {
  it("reads a tag at the end of an environment many times the read size (64 KiB of other variables)", async () => {
    const tag = `${instancePrefix(`/tmp/rmx-sweep-big-${process.pid}`)}big/1.z`;
    const env: Record<string, string> = { PATH: process.env.PATH ?? "" };
    for (let i = 0; i < 64; i++) env[`RMX_TEST_FILLER_${i}`] = "x".repeat(1024);
    env.RMX_TAG = tag; // last: found only when every block before it was read
    const child = spawn("sleep", ["1000"], { detached: true, env, stdio: "ignore" });
    child.unref();
    strays.push(child.pid as number);
    await waitFor(
      async () => (await readTag(child.pid as number)) !== undefined,
      5000,
      "the process to exec",
    );
    expect(await readTag(child.pid as number)).toBe(tag);
    expect(await findTagged({ exact: tag })).toEqual([child.pid]);
  });

  it("finds and kills tagged processes in other sessions, and only those", async () => {
    const prefix = instancePrefix(`/tmp/rmx-sweep-${process.pid}`);
    const ours = [escapee(`${prefix}a/1.x`), escapee(`${prefix}a/1.x`)];
    const sibling = escapee(`${prefix}a/2.y`);
    const untagged = escapee(undefined);
    const foreign = escapee(`${instancePrefix("/elsewhere")}a/1.x`);
    await waitFor(async () => (await readTag(foreign)) !== undefined, 5000, "the escapees to exec");

    expect(await findTagged({ exact: `${prefix}a/1.x` })).toEqual([...ours].sort((a, b) => a - b));
    const killed = await sweepTagged({ exact: `${prefix}a/1.x` });

    expect(killed.sort((a, b) => a - b)).toEqual([...ours].sort((a, b) => a - b));
    expect(await findTagged({ prefix })).toEqual([sibling]);
    expect(await readTag(untagged)).toBeUndefined();
    expect(await sweepTagged({ prefix })).toEqual([sibling]);
    expect(await findTagged({ prefix: instancePrefix("/elsewhere") })).toEqual([foreign]);
  });

  it("resolves only once each killed process has exited to its last thread: the ports they held bind at once", async () => {
    // A SIGKILLed Node process shows its leader as a zombie while its other threads are still exiting,
    // and holds its sockets until the last has: a sweep that stopped waiting at the zombie left the port
    // bound for the restart that came next.
    const tag = `${instancePrefix(`/tmp/rmx-sweep-ports-${process.pid}`)}ports/1.p`;
    // 768 MiB touched: the last thread to exit unmaps it before it closes the files, which widens the
    // window in which the leader is a zombie and the port still bound from microseconds to milliseconds.
    const listen =
      "globalThis.held = Buffer.alloc(768 * 2 ** 20, 1); require('node:net').createServer().listen(0, '127.0.0.1', function () { process.stdout.write(this.address().port + '\\n'); })";
    const ports = await Promise.all(
      Array.from({ length: 2 }, async () => {
        const child = spawn(process.execPath, ["-e", listen], {
          detached: true,
          env: { PATH: process.env.PATH, RMX_TAG: tag },
          stdio: ["ignore", "pipe", "ignore"],
        });
        strays.push(child.pid as number);
        const line = await new Promise<string>((resolve) =>
          child.stdout.once("data", (d) => resolve(String(d))),
        );
        child.stdout.destroy();
        child.unref();
        return Number(line.trim());
      }),
    );
    expect(await sweepTagged({ exact: tag })).toHaveLength(ports.length);
    const binds = await Promise.all(
      ports.map(
        (port) =>
          new Promise<string>((resolve) => {
            const server = createServer();
            server.once("error", (error: NodeJS.ErrnoException) => resolve(`${port}: ${error.code}`));
            server.listen(port, "127.0.0.1", () => server.close(() => resolve(`${port}: bound`)));
          }),
      ),
    );
    expect(binds).toEqual(ports.map((port) => `${port}: bound`));
  });
});
