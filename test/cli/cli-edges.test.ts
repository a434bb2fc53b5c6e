/**
 * The CLI's edges, with the real built `rmx` against a fake daemon: terminal text never carries a model's or
 * a log's control bytes (JSON keeps them exact), `--json` errors are one JSON object on stderr, and the
 * not-running hint names a command that works where the user is.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { escapeControl, escapeLine } from "../../ipc/cli/sanitize.js";
import { FakeDaemon, FakeRefusal } from "./fake-daemon.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/ipc/cli/main.js");
const HOSTILE = "ok\u0000\u001b[2J\u001b]0;owned\u0007\u202eevil\u009b";

let dir: string;
let fake: FakeDaemon;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-edges-"));
  fake = await FakeDaemon.start(path.join(dir, "rmxd.sock"));
});

afterEach(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

function rmx(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, TZ: "UTC", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

describe("escaping control characters for the terminal", () => {
  it("shows C0, C1, DEL and bidi controls as escapes and keeps tab, newline and ordinary text", () => {
    expect(escapeControl(HOSTILE)).toBe("ok\\x00\\x1b[2J\\x1b]0;owned\\x07\\u202eevil\\x9b");
    expect(escapeControl("a\tb\nc é ✓")).toBe("a\tb\nc é ✓");
    expect(escapeLine("one\ntwo\r")).toBe("one\\ntwo\\x0d");
  });

  it("rmx chat prints a model's control bytes as escapes; --json carries them exactly", async () => {
    fake.on("chat.respond", () => ({
      content: HOSTILE,
      cell: "llama-stub@cpu/none",
      runtime: "stub",
      model: "m",
      latency_ms: 3,
      fallback: { used: false },
    }));
    const text = await rmx(["chat", "hi", "--socket", fake.socketPath]);
    expect(text.code).toBe(0);
    expect(text.out).not.toMatch(/[\u0000-\u0008\u001b\u007f-\u009f\u202e]/);
    expect(text.out).toContain("ok\\x00\\x1b[2J");
    const json = await rmx(["chat", "hi", "--json", "--socket", fake.socketPath]);
    expect(JSON.parse(json.out).content).toBe(HOSTILE);
  });

  it("rmx runtime logs escapes log lines in text and keeps them exact in JSON", async () => {
    fake.on("runtime.logs", (params) => ({
      id: (params as { id: string }).id,
      file: "/x.log",
      lines: [HOSTILE],
    }));
    const text = await rmx(["runtime", "logs", "--id", "a", "--socket", fake.socketPath]);
    expect(text.out).toBe(`${escapeLine(HOSTILE)}\n`);
    const json = await rmx(["runtime", "logs", "--id", "a", "--json", "--socket", fake.socketPath]);
    expect(JSON.parse(json.out)).toEqual({ id: "a", line: HOSTILE });
  });
});

describe("--json errors", () => {
  it("a daemon error is one JSON object on stderr with code, message and data, and the same exit code", async () => {
    fake.on("runtime.stop", () => {
      throw new FakeRefusal({
        code: -32020,
        message: "no runtime gamma",
        data: { code: "RUNTIME_NOT_FOUND", id: "gamma" },
      });
    });
    const { code, out, err } = await rmx([
      "runtime",
      "stop",
      "--id",
      "gamma",
      "--json",
      "--socket",
      fake.socketPath,
    ]);
    expect(code).toBe(1);
    expect(out).toBe("");
    const lines = err.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toEqual({
      error: {
        code: "RUNTIME_NOT_FOUND",
        message: "no runtime gamma",
        data: { code: "RUNTIME_NOT_FOUND", id: "gamma" },
      },
    });
  });

  it("a usage error and a daemon that is not running are JSON too (exit 2 and 4)", async () => {
    const usage = await rmx([
      "runtime",
      "logs",
      "--id",
      "a",
      "-n",
      "many",
      "--json",
      "--socket",
      fake.socketPath,
    ]);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.err).error).toMatchObject({
      code: "USAGE",
      message: expect.stringContaining("-n/--lines"),
    });
    const absent = await rmx(["runtime", "status", "--json", "--socket", path.join(dir, "absent.sock")]);
    expect(absent.code).toBe(4);
    const parsed = JSON.parse(absent.err).error;
    expect(parsed.code).toBe("DAEMON_NOT_RUNNING");
    expect(parsed.data.socket).toBe(path.join(dir, "absent.sock"));
  });
});

describe("the not-running hint", () => {
  it("names the daemon entry beside this CLI when rmxd is not on PATH, and that command exists", async () => {
    const { code, err } = await rmx(["runtime", "status", "--socket", path.join(dir, "absent.sock")], {
      PATH: path.dirname(process.execPath),
    });
    expect(code).toBe(4);
    // The bundle (package.json's bin), which a built checkout has.
    const entry = path.join(ROOT, "dist/bin/rmxd.cjs");
    expect(err).toContain(`Start it with \`node ${entry}\``);
    expect(existsSync(entry)).toBe(true);
  });

  it("says `rmxd` when an rmxd is on PATH", async () => {
    const bin = path.join(dir, "bin");
    await mkdir(bin);
    await writeFile(path.join(bin, "rmxd"), "#!/bin/sh\n");
    await chmod(path.join(bin, "rmxd"), 0o755);
    const { err } = await rmx(["runtime", "status", "--socket", path.join(dir, "absent.sock")], {
      PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}`,
    });
    expect(err).toContain("Start it with `rmxd`");
  });
});
