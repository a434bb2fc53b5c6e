/**
 * Access to the daemon is governed by the socket's mode (0600, owner only): a client running as another
 * uid is refused even when it can reach the socket file. Spawning as another uid needs root; elsewhere
 * the test is skipped and its name says why.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { REPO, stopAll } from "../support/daemon-harness.js";
import { configText, removeDaemonDirs, report, startFaultDaemon, stubRuntime } from "./fault-support.js";

const CLIENT_URL = pathToFileURL(path.join(REPO, "dist/ipc/client.js")).href;

/** Connects with the real typed client and prints what happened, as one JSON line. */
const PROBE = `
import fs from "node:fs";
const [clientUrl, socket] = process.argv.slice(1);
const out = { uid: process.getuid() };
try {
  out.socketMode = (fs.statSync(socket).mode & 0o777).toString(8);
} catch (e) {
  out.statError = e.code;
}
try {
  const { RmxClient } = await import(clientUrl);
  const c = await RmxClient.connect({ socketPath: socket, timeoutMs: 5000 });
  const hello = await c.call("daemon.hello", undefined, { timeoutMs: 5000 });
  out.connected = true;
  out.daemonPid = hello.pid;
  await c.close();
} catch (e) {
  out.connected = false;
  out.code = e.stableCode;
  out.errno = e.cause?.code;
  out.message = e.message;
}
process.stdout.write(JSON.stringify(out) + "\\n");
`;

interface ProbeResult {
  uid: number;
  socketMode?: string;
  statError?: string;
  connected: boolean;
  daemonPid?: number;
  code?: string;
  errno?: string;
  message?: string;
}

function nobody(): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.startsWith("nobody:"));
    const [, , uid, gid] = line?.split(":") ?? [];
    return uid !== undefined && gid !== undefined ? { uid: Number(uid), gid: Number(gid) } : undefined;
  } catch {
    return undefined;
  }
}

function runProbe(socket: string, as?: { uid: number; gid: number }): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", PROBE, CLIENT_URL, socket], {
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdio: ["ignore", "pipe", "pipe"],
      ...(as ?? {}),
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as ProbeResult);
      } catch {
        reject(new Error(`probe exited ${code ?? signal} without a result; stdout ${out}; stderr ${err}`));
      }
    });
  });
}

const isRoot = process.platform !== "win32" && process.getuid?.() === 0;
const other = nobody();
const skipReason = !isRoot
  ? " (skipped: the tests do not run as root, so they cannot start a process as another uid)"
  : other === undefined
    ? " (skipped: this machine has no 'nobody' user)"
    : "";

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

describe("a client running as another uid", () => {
  it.skipIf(skipReason !== "")(`is refused by the socket's mode${skipReason}`, async () => {
    const as = other as { uid: number; gid: number };
    const h = await startFaultDaemon({ config: configText({ runtimes: [stubRuntime("solo")] }) });
    // Make the directory traversable (not writable) so only the socket's own mode decides.
    await fs.chmod(h.dir, 0o711);

    const mine = await runProbe(h.socket);
    const theirs = await runProbe(h.socket, as);
    const figures = `as uid ${mine.uid}: ${JSON.stringify(mine)}; as nobody (uid ${as.uid}): ${JSON.stringify(theirs)}`;

    expect(mine.connected, `the same probe works as the daemon's owner: ${figures}`).toBe(true);
    expect(mine.daemonPid).toBe(h.pid);
    expect(theirs.uid, figures).toBe(as.uid);
    expect(
      theirs.statError,
      `nobody can reach the socket file (only its mode stands in the way): ${figures}`,
    ).toBeUndefined();
    expect(theirs.socketMode, figures).toBe("600");
    expect(theirs.connected, figures).toBe(false);
    expect(theirs.errno, figures).toBe("EACCES");
    expect(theirs.code, figures).toBe("PEER_REFUSED");
    expect(h.proc.exitCode, "the daemon is unaffected").toBeNull();
    expect((await h.status()).runtimes.map((r) => r.id)).toEqual(["solo"]);
    report("foreign uid", {
      uid: as.uid,
      socket_mode: theirs.socketMode,
      errno: theirs.errno,
      code: theirs.code,
    });
  });
});
