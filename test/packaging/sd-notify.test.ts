/**
 * sd_notify against a real Unix datagram socket standing in for systemd (bound by python3, since Node has
 * no Unix datagram sockets), with the real systemd-notify tool sending.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNotifier, watchdogPingIntervalMs } from "../../daemon/notify/sd-notify.js";

// Receives like systemd does: reads each datagram with its ancillary data and closes passed file
// descriptors (systemd-notify waits for that, BARRIER=1). "deaf" binds and never reads.
const RECEIVER = `
import array, json, os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print(json.dumps({"bound": True}), flush=True)
if mode == "deaf":
    sys.stdin.read()
    sys.exit(0)
while True:
    msg, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % 4])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"message": msg.decode()}), flush=True)
`;

const haveTools =
  spawnSync("python3", ["--version"]).status === 0 && spawnSync("systemd-notify", ["--version"]).status === 0;

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Receiver {
  socketPath: string;
  messages: string[];
  child: ChildProcess;
}

let dir: string;
let receivers: Receiver[] = [];

async function receiver(mode: "read" | "deaf" = "read"): Promise<Receiver> {
  const socketPath = path.join(dir, `notify-${receivers.length}.sock`);
  const child = spawn("python3", ["-c", RECEIVER, socketPath, mode], { stdio: ["pipe", "pipe", "inherit"] });
  const r: Receiver = { socketPath, messages: [], child };
  receivers.push(r);
  let bound = false;
  let buffer = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf("\n");
    while (newline !== -1) {
      const line = JSON.parse(buffer.slice(0, newline)) as { bound?: boolean; message?: string };
      buffer = buffer.slice(newline + 1);
      if (line.bound) bound = true;
      if (line.message !== undefined) r.messages.push(line.message);
      newline = buffer.indexOf("\n");
    }
  });
  await waitFor("the receiver to bind", () => bound);
  return r;
}

/** Assignments of every message, flattened: ["MAINPID=1", "READY=1", …]. */
const assignments = (r: Receiver) =>
  r.messages.flatMap((m) => m.split("\n")).filter((a) => a !== "BARRIER=1");

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-notify-"));
});

afterEach(async () => {
  for (const r of receivers) r.child.kill("SIGKILL");
  receivers = [];
  await rm(dir, { recursive: true, force: true });
});

describe("without NOTIFY_SOCKET", () => {
  it("every call is a no-op that resolves and never fails", async () => {
    const notifier = createNotifier(
      { PATH: process.env.PATH },
      { command: path.join(os.tmpdir(), "never-run") },
    );
    expect(notifier.enabled).toBe(false);
    for (const outcome of await Promise.all([
      notifier.ready("x"),
      notifier.watchdog(),
      notifier.stopping(),
      notifier.reloading(),
      notifier.status("y"),
    ])) {
      expect(outcome).toEqual({ sent: false, reason: "NOTIFY_SOCKET is not set" });
    }
    expect(notifier.problem).toBeUndefined();
    const stop = notifier.startWatchdog();
    expect(typeof stop).toBe("function");
    stop();
  });
});

describe("watchdog interval", () => {
  it("is half of WATCHDOG_USEC, and only for our pid when WATCHDOG_PID is set", () => {
    expect(watchdogPingIntervalMs({ WATCHDOG_USEC: "30000000" }, 10)).toBe(15_000);
    expect(watchdogPingIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "10" }, 10)).toBe(15_000);
    expect(watchdogPingIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "11" }, 10)).toBeUndefined();
    expect(watchdogPingIntervalMs({}, 10)).toBeUndefined();
    expect(watchdogPingIntervalMs({ WATCHDOG_USEC: "0" }, 10)).toBeUndefined();
    expect(watchdogPingIntervalMs({ WATCHDOG_USEC: "junk" }, 10)).toBeUndefined();
    expect(watchdogPingIntervalMs({ WATCHDOG_USEC: "1000" }, 10)).toBe(1);
  });
});

describe.skipIf(!haveTools)("with a real notify socket (skipped without python3 and systemd-notify)", () => {
  it("sends READY=1 with status and our MAINPID, WATCHDOG=1, RELOADING=1, STOPPING=1, in order", async () => {
    const r = await receiver();
    const notifier = createNotifier({ PATH: process.env.PATH, NOTIFY_SOCKET: r.socketPath });
    expect(notifier.enabled).toBe(true);
    const outcomes = await Promise.all([
      notifier.ready("2 runtime(s)\nconfigured"),
      notifier.watchdog(),
      notifier.reloading(),
      notifier.status("reloaded"),
      notifier.stopping(),
    ]);
    for (const outcome of outcomes) expect(outcome).toEqual({ sent: true });
    await waitFor(
      "six assignments",
      () => assignments(r).filter((a) => !a.startsWith("MAINPID=")).length === 6,
    );
    expect(assignments(r).filter((a) => !a.startsWith("MAINPID="))).toEqual([
      "READY=1",
      "STATUS=2 runtime(s) configured",
      "WATCHDOG=1",
      "RELOADING=1",
      "STATUS=reloaded",
      "STOPPING=1",
    ]);
    expect(assignments(r)).toContain(`MAINPID=${process.pid}`);
    expect(notifier.problem).toBeUndefined();
  });

  it("pings the watchdog at half of WATCHDOG_USEC until stopped", async () => {
    const r = await receiver();
    const notifier = createNotifier({
      PATH: process.env.PATH,
      NOTIFY_SOCKET: r.socketPath,
      WATCHDOG_USEC: "400000",
      WATCHDOG_PID: String(process.pid),
    });
    const stop = notifier.startWatchdog();
    try {
      await waitFor("two pings", () => assignments(r).filter((a) => a === "WATCHDOG=1").length >= 2);
    } finally {
      stop();
    }
  });

  it("a missing systemd-notify is reported once, and sending carries on", async () => {
    const r = await receiver();
    const problems: string[] = [];
    const notifier = createNotifier(
      { PATH: process.env.PATH, NOTIFY_SOCKET: r.socketPath },
      { command: path.join(dir, "systemd-notify-missing"), onProblem: (m) => problems.push(m) },
    );
    const first = await notifier.ready();
    const second = await notifier.watchdog();
    expect(first.sent).toBe(false);
    expect(first.reason).toMatch(/not found on PATH/);
    expect(second.sent).toBe(false);
    expect(problems).toHaveLength(1);
    expect(notifier.problem).toBe(problems[0]);
  });

  it("a manager that never reads cannot hang the daemon: the send times out", async () => {
    const r = await receiver("deaf");
    const notifier = createNotifier(
      { PATH: process.env.PATH, NOTIFY_SOCKET: r.socketPath },
      { sendTimeoutMs: 300 },
    );
    const outcome = await notifier.ready();
    expect(outcome.sent).toBe(false);
    expect(outcome.reason).toMatch(/did not finish within 300 ms/);
  });
});
