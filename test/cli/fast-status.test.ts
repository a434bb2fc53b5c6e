/**
 * `rmx runtime status --json` answered by the launcher alone (ipc/cli/fast-status.ts): the same bytes,
 * exit code and errors as the core (dist/ipc/cli/main.js) in every case, clean or not, and the core runs
 * only when the clean case does not happen.
 */
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fastStatusSocket } from "../../ipc/cli/fast-status.js";
import { FakeDaemon, FakeRefusal } from "./fake-daemon.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "dist/bin/rmx.cjs");
const CORE = path.join(ROOT, "dist/ipc/cli/main.js");
const STATUS = {
  generated: "2025-01-01T12:00:05.000Z",
  summary: { ready: 1, total: 1, attention_required: false },
  runtimes: [{ id: "a", state: "ready", note: "ünïcødé ✓" }],
  problems: [],
};

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmx-fast-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number;
  out: string;
  err: string;
}

function run(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  nodeFlags: string[] = [],
): Promise<Result> {
  const full: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: "1",
    XDG_CACHE_HOME: path.join(dir, "cache"),
    ...env,
  };
  delete full.NODE_OPTIONS;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...nodeFlags, script, ...args],
      { env: full, timeout: 30_000 },
      (error, out, err) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out, err }),
    );
  });
}

/** The bin and the core on the same arguments: every observable must agree. */
async function both(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  const bin = await run(BIN, args, env);
  const core = await run(CORE, args, env);
  // The core names its own daemon entry in "not running" hints; the bin names dist/bin/rmxd.cjs too.
  expect(bin).toEqual(core);
  return bin;
}

/** A socket server that answers every connection with `reply(request line)` (raw bytes), or closes. */
async function rawServer(
  name: string,
  reply: (line: string) => string | null,
): Promise<{ socket: string; close(): Promise<void>; connections(): number }> {
  const socket = path.join(dir, name);
  let connections = 0;
  const server = net.createServer((conn) => {
    connections += 1;
    conn.on("error", () => {});
    let buf = "";
    conn.on("data", (d) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const answer = reply(buf.slice(0, nl));
      if (answer === null) conn.destroy();
      else conn.write(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("fastStatusSocket", () => {
  const env = { RMX_SOCKET: "/env.sock" };
  it("takes runtime status --json with global flags anywhere, resolving the socket as the core does", () => {
    expect(fastStatusSocket(["runtime", "status", "--json"], env)).toBe("/env.sock");
    expect(fastStatusSocket(["--json", "runtime", "status"], env)).toBe("/env.sock");
    expect(fastStatusSocket(["runtime", "--no-color", "status", "--json"], env)).toBe("/env.sock");
    expect(fastStatusSocket(["--socket", "/f.sock", "runtime", "status", "--json"], env)).toBe("/f.sock");
    expect(fastStatusSocket(["runtime", "status", "--json", "--socket=/g.sock"], env)).toBe("/g.sock");
    expect(
      fastStatusSocket(["runtime", "status", "--json"], { RMX_SOCKET: "", XDG_RUNTIME_DIR: "/run/u" }),
    ).toBe("/run/u/runtime-matrix/rmxd.sock");
  });

  it("leaves everything else to the core", () => {
    for (const argv of [
      ["runtime", "status"],
      ["runtime", "status", "--json", "--watch"],
      ["runtime", "status", "--json", "extra"],
      ["status", "runtime", "--json"],
      ["runtime", "status", "--json", "--help"],
      ["runtime", "status", "--json", "-h"],
      ["--version", "runtime", "status", "--json"],
      ["runtime", "status", "--json", "--socket"],
      ["runtime", "status", "--json", "--socket", "--x"],
      ["runtime", "status", "--json", "--socket="],
      ["runtime", "status", "--json", "--"],
      ["runtime", "logs", "--json"],
      [],
    ]) {
      expect(fastStatusSocket(argv, env), argv.join(" ")).toBeUndefined();
    }
  });
});

describe("the bin's own runtime status --json", () => {
  let fake: FakeDaemon;
  beforeAll(async () => {
    fake = await FakeDaemon.start(path.join(dir, "fake.sock"));
  });
  afterAll(() => fake.close());

  it("prints what the core prints, asking once, without running the core (no code cache appears)", async () => {
    fake.on("runtime.status", () => STATUS);
    const cache = path.join(dir, "fresh-cache");
    const before = fake.callsOf("runtime.status").length;
    const bin = await run(BIN, ["runtime", "status", "--json"], {
      RMX_SOCKET: fake.socketPath,
      XDG_CACHE_HOME: cache,
    });
    expect(bin).toEqual({ code: 0, out: `${JSON.stringify(STATUS, null, 2)}\n`, err: "" });
    expect(fake.callsOf("runtime.status").length - before).toBe(1);
    expect(fs.existsSync(cache)).toBe(false);
    await both(["--no-color", "runtime", "status", "--json", "--socket", fake.socketPath], {});
    // The text form is the core's: it runs (and leaves its cache).
    fake.on("runtime.status", () => ({
      ...STATUS,
      runtimes: [],
      node: { target: "t", status: { label: "Ready" } },
    }));
    await both(["runtime", "status"], { RMX_SOCKET: fake.socketPath });
    const text = await run(BIN, ["runtime", "status"], {
      RMX_SOCKET: fake.socketPath,
      XDG_CACHE_HOME: cache,
    });
    expect(text.code).toBe(0);
    expect(fs.readdirSync(path.join(cache, "runtime-matrix", "cli"))).toHaveLength(1);
  });

  it("an error answer: the core runs and reports it as always (same stderr, same exit code)", async () => {
    fake.on("runtime.status", () => {
      throw new FakeRefusal({ code: -32000, message: "status unavailable", data: { code: "INTERNAL" } });
    });
    const before = fake.callsOf("runtime.status").length;
    const r = await run(BIN, ["runtime", "status", "--json"], { RMX_SOCKET: fake.socketPath });
    expect(r.code).not.toBe(0);
    expect(r.out).toBe("");
    expect(fake.callsOf("runtime.status").length - before).toBe(2);
    await both(["runtime", "status", "--json"], { RMX_SOCKET: fake.socketPath });
  });
});

describe("the bin's own runtime status --json when the daemon misbehaves", () => {
  const ANSWER = `${JSON.stringify({ jsonrpc: "2.0", id: 1, result: STATUS })}\n`;

  it("no daemon: the core's message and exit code", async () => {
    const r = await both(["runtime", "status", "--json"], { RMX_SOCKET: path.join(dir, "nobody.sock") });
    expect(r.code).toBe(4);
    await both(["runtime", "status", "--json"], { RMX_SOCKET: path.join(dir, "nobody.sock"), NO_COLOR: "" });
  });

  it("connection closed without an answer: the core's message and exit code", async () => {
    const server = await rawServer("closer.sock", () => null);
    try {
      const r = await both(["runtime", "status", "--json"], { RMX_SOCKET: server.socket });
      expect(r.code).not.toBe(0);
    } finally {
      await server.close();
    }
  });

  it("a line that is not the answer first: the core reads past it as always; a notification is skipped", async () => {
    const garbage = await rawServer("garbage.sock", () => `not json\n${ANSWER}`);
    const notified = await rawServer(
      "notify.sock",
      () => `\n{"jsonrpc":"2.0","method":"event","params":{}}\n${ANSWER}`,
    );
    const split = await rawServer("crlf.sock", () => ANSWER.replace("\n", "\r\n"));
    try {
      const g = await both(["runtime", "status", "--json"], { RMX_SOCKET: garbage.socket });
      expect(g.out).toBe(`${JSON.stringify(STATUS, null, 2)}\n`);
      expect(garbage.connections()).toBe(3); // bin: fast path, then the core; then the core alone
      const n = await both(["runtime", "status", "--json"], { RMX_SOCKET: notified.socket });
      expect(n.out).toBe(`${JSON.stringify(STATUS, null, 2)}\n`);
      expect(notified.connections()).toBe(2);
      expect((await both(["runtime", "status", "--json"], { RMX_SOCKET: split.socket })).code).toBe(0);
    } finally {
      await Promise.all([garbage.close(), notified.close(), split.close()]);
    }
  });

  it("an answer without a result: what the core prints for it", async () => {
    const server = await rawServer("noresult.sock", () => '{"jsonrpc":"2.0","id":1}\n');
    try {
      await both(["runtime", "status", "--json"], { RMX_SOCKET: server.socket });
    } finally {
      await server.close();
    }
  });
});

describe("the bin's own runtime status --json: what it loads, and its output's edges", () => {
  /** Large (many socket reads and pipe writes), multibyte: the core's bytes all the same. */
  const BIG = {
    ...STATUS,
    runtimes: Array.from({ length: 4000 }, (_, i) => ({ id: `r-${i}`, state: "ready", note: "ünïcødé ✓" })),
  };
  const BIG_OUT = `${JSON.stringify(BIG, null, 2)}\n`;
  let fake: FakeDaemon;
  let preload: string;
  beforeAll(async () => {
    fake = await FakeDaemon.start(path.join(dir, "edges.sock"));
    fake.on("runtime.status", () => BIG);
    // Writes, at exit, the built-in modules and bindings the process loaded, then the files it required.
    preload = path.join(dir, "load-list.cjs");
    fs.writeFileSync(
      preload,
      'process.on("exit", () => require("node:fs").writeFileSync(process.env.LOAD_LIST, [...process.moduleLoadList, ...Object.keys(require.cache)].join("\\n")));\n',
    );
  });
  afterAll(() => fake.close());

  async function loaded(
    flags: string[],
    name: string,
    args = ["runtime", "status", "--json"],
  ): Promise<{ result: Result; modules: string[] }> {
    const list = path.join(dir, `${name}.txt`);
    const result = await run(BIN, args, { RMX_SOCKET: fake.socketPath, LOAD_LIST: list }, [
      "-r",
      preload,
      ...flags,
    ]);
    return { result, modules: fs.readFileSync(list, "utf8").split("\n") };
  }

  it("loads neither node:net (nor the streams it pulls in) nor node:vm (the launcher's first step), nor builds process.stdout", async () => {
    const { result, modules } = await loaded([], "bare");
    expect(result).toEqual({ code: 0, out: BIG_OUT, err: "" });
    expect(modules).toContain("Internal Binding pipe_wrap");
    expect(modules).toContain(BIN);
    for (const absent of ["NativeModule net", "NativeModule stream", "NativeModule vm", "NativeModule tty"])
      expect(modules).not.toContain(absent);
    // The same list for a command the core runs: the launcher, and so node:vm, are there.
    const core = await loaded([], "core", ["--version"]);
    expect(core.result.code).toBe(0);
    expect(core.modules).toContain("NativeModule vm");
  });

  it("with --pending-deprecation (process.binding would warn): node:net instead, same bytes, silent", async () => {
    const { result, modules } = await loaded(["--pending-deprecation"], "pending");
    expect(result).toEqual({ code: 0, out: BIG_OUT, err: "" });
    expect(modules).toContain("NativeModule net");
  });

  it("prints the core's bytes to a pipe and to a file", async () => {
    await both(["runtime", "status", "--json"], { RMX_SOCKET: fake.socketPath });
    const file = path.join(dir, "out.json");
    const fd = fs.openSync(file, "w");
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [BIN, "runtime", "status", "--json"], {
        env: { ...process.env, RMX_SOCKET: fake.socketPath, NO_COLOR: "1" },
        stdio: ["ignore", fd, "inherit"],
      });
      child.once("exit", resolve);
    });
    fs.closeSync(fd);
    expect(code).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe(BIG_OUT);
  });

  it("a non-blocking stdout that fills up (EAGAIN): the rest goes out through process.stdout, whole", async () => {
    // A huge answer, so a pipe nobody reads is full long before the end.
    const HUGE = { ...BIG, runtimes: Array.from({ length: 10 }, () => BIG.runtimes).flat() };
    const hugeOut = `${JSON.stringify(HUGE, null, 2)}\n`;
    fake.on("runtime.status", () => HUGE);
    // Building process.stdout makes fd 1 non-blocking (libuv's pipe handle); each EAGAIN the direct
    // write meets is reported on stderr, so the reader waits for it instead of for time.
    const nonBlocking = path.join(dir, "non-blocking.cjs");
    fs.writeFileSync(
      nonBlocking,
      [
        "process.stdout;",
        'const fs = require("node:fs");',
        "const writeSync = fs.writeSync;",
        "fs.writeSync = function (...args) {",
        "  try { return writeSync.apply(fs, args); }",
        '  catch (e) { if (e.code === "EAGAIN") writeSync.call(fs, 2, "EAGAIN\\n"); throw e; }',
        "};",
        "",
      ].join("\n"),
    );
    try {
      const outcome = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ["-r", nonBlocking, BIN, "runtime", "status", "--json"], {
          env: { ...process.env, RMX_SOCKET: fake.socketPath, NO_COLOR: "1" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        let err = "";
        child.stdout.pause();
        child.stderr.on("data", (d) => {
          err += d;
          if (err.includes("EAGAIN") && child.stdout.listenerCount("data") === 0)
            child.stdout.on("data", (c: Buffer) => out.push(c)).resume();
        });
        child.once("close", (code) => resolve({ code, out: Buffer.concat(out).toString("utf8"), err }));
      });
      expect(Buffer.byteLength(hugeOut)).toBeGreaterThan(2 * 1024 * 1024);
      expect(outcome.err).toBe("EAGAIN\n");
      expect(outcome.code).toBe(0);
      expect(outcome.out).toBe(hugeOut);
    } finally {
      fake.on("runtime.status", () => BIG);
    }
  });

  it("stdout closed by its reader mid-output: a normal end (exit 0, nothing on stderr), as the core's", async () => {
    expect(Buffer.byteLength(BIG_OUT)).toBeGreaterThan(4 * 65_536);
    for (const script of [BIN, CORE]) {
      const outcome = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, [script, "runtime", "status", "--json"], {
          env: { ...process.env, RMX_SOCKET: fake.socketPath, NO_COLOR: "1" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let err = "";
        child.stderr.on("data", (d) => (err += d));
        // More than a pipe's buffer is still to come when the first bytes arrive: the writer meets EPIPE.
        child.stdout.once("data", () => child.stdout.destroy());
        child.once("close", (code) => resolve({ code, err }));
      });
      expect(outcome, script).toEqual({ code: 0, err: "" });
    }
  });
});
