/**
 * The installed bin (dist/bin/rmx.cjs, and the launcher it hands the core to) with its code cache, against
 * a fake daemon on a real socket, running `rmx runtime status` (the text form: `--json` alone is answered
 * without the core, fast-status.ts): whatever state the cache directory is in (missing, unwritable, stale, corrupt, not ours), the
 * command prints what it prints without a cache, exits 0, and says nothing about the cache; a good cache
 * is used and kept, a bad one replaced.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeCacheName, decodeCodeCache, encodeCodeCache } from "../../ipc/cli/code-cache.js";
import { FakeDaemon } from "./fake-daemon.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "dist/bin/rmx.cjs");
/** The launcher the bin hands every command but a clean `runtime status --json` to (ipc/cli/launcher.ts). */
const LAUNCHER = path.join(ROOT, "dist/bin/rmx-launcher.cjs");
/** The core's id as the bundler computes it (its content hash), which the launcher carries. */
const CORE_ID = createHash("sha256")
  .update(fs.readFileSync(path.join(ROOT, "dist/bin/rmx-core.cjs")))
  .digest("hex")
  .slice(0, 16);
const STATUS = {
  generated: "2025-01-01T12:00:05.000Z",
  summary: { ready: 0, total: 0, attention_required: false },
  runtimes: [],
  problems: [],
  node: { target: "t", status: { label: "Ready" } },
};
/** What the unbundled core prints for STATUS (set before the tests). */
let EXPECTED = "";

let dir: string;
let fake: FakeDaemon;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmx-cc-bin-"));
  fake = await FakeDaemon.start(path.join(dir, "rmxd.sock"));
  fake.on("runtime.status", () => STATUS);
  EXPECTED = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      [path.join(ROOT, "dist/ipc/cli/main.js"), "runtime", "status"],
      { env: { ...process.env, RMX_SOCKET: fake.socketPath, NO_COLOR: "1", TZ: "UTC" } },
      (error, out) => (error ? reject(error) : resolve(out)),
    ),
  );
  expect(EXPECTED).toContain("Node t: Ready");
});

afterAll(async () => {
  await fake.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function status(
  cacheHome: string,
  args = ["runtime", "status"],
): Promise<{ code: number; out: string; err: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RMX_SOCKET: fake.socketPath,
    NO_COLOR: "1",
    TZ: "UTC",
    XDG_CACHE_HOME: cacheHome,
  };
  delete env.NODE_OPTIONS;
  delete env.RMX_NO_CODE_CACHE;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 30_000 }, (error, out, err) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out, err }),
    );
  });
}

function cacheFileIn(cacheHome: string): string {
  return path.join(cacheHome, "runtime-matrix", "cli", codeCacheName(CORE_ID, process.version, process.arch));
}

function freshHome(name: string): string {
  const home = path.join(dir, name);
  fs.mkdirSync(home);
  return home;
}

async function expectWorks(cacheHome: string): Promise<void> {
  const r = await status(cacheHome);
  expect(r).toEqual({ code: 0, out: EXPECTED, err: "" });
}

/** A cache is good when the bundle's own decoder accepts it for this bundle. */
function cacheOf(cacheHome: string): ReturnType<typeof decodeCodeCache> {
  return decodeCodeCache(fs.readFileSync(cacheFileIn(cacheHome)), CORE_ID);
}

describe("the rmx bin's code cache", () => {
  it("the launcher carries the core's id", () => {
    expect(fs.readFileSync(LAUNCHER, "utf8")).toContain(`"${CORE_ID}"`);
  });

  it("missing directory: created (private), cache written after the run; the next run uses it and keeps it", async () => {
    const home = freshHome("missing");
    await expectWorks(home);
    const file = cacheFileIn(home);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(cacheOf(home)?.hot).toBe(true);
    const before = fs.statSync(file);
    await expectWorks(home);
    const after = fs.statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it("unwritable directory (its parent is a file): the command works, no cache, no word about it", async () => {
    const home = path.join(dir, "a-file");
    fs.writeFileSync(home, "not a directory");
    await expectWorks(home);
    expect(fs.readFileSync(home, "utf8")).toBe("not a directory");
  });

  it("cache of another bundle at this name: ignored, then replaced by a good one", async () => {
    const home = freshHome("stale-id");
    fs.mkdirSync(path.dirname(cacheFileIn(home)), { recursive: true, mode: 0o700 });
    const other = new vm.Script("(function () { return 1; })").createCachedData();
    fs.writeFileSync(cacheFileIn(home), encodeCodeCache("0000000000000000", other, true), { mode: 0o600 });
    await expectWorks(home);
    expect(cacheOf(home)?.hot).toBe(true);
  });

  it("cache V8 rejects (made from other source, right header): the command works, the cache is replaced", async () => {
    const home = freshHome("stale-v8");
    fs.mkdirSync(path.dirname(cacheFileIn(home)), { recursive: true, mode: 0o700 });
    const other = new vm.Script("(function () { return 1; })").createCachedData();
    fs.writeFileSync(cacheFileIn(home), encodeCodeCache(CORE_ID, other, true), { mode: 0o600 });
    await expectWorks(home);
    expect(Buffer.from(cacheOf(home)?.payload ?? [])).not.toEqual(Buffer.from(other));
  });

  it("corrupt cache (flipped bytes in the payload, truncated, garbage): never reaches V8, replaced", async () => {
    const home = freshHome("corrupt");
    await expectWorks(home);
    const file = cacheFileIn(home);
    const good = fs.readFileSync(file);
    const flipped = Buffer.from(good);
    for (let i = 200; i < flipped.length / 2; i += 97) flipped[i] = (flipped[i] as number) ^ 0x5a;
    for (const bad of [flipped, good.subarray(0, good.length - 1000), Buffer.from("garbage".repeat(1000))]) {
      fs.writeFileSync(file, bad);
      await expectWorks(home);
      expect(cacheOf(home)).toBeDefined();
    }
  });

  it("a cache file another user could write is not read (and is replaced by our own)", async () => {
    const home = freshHome("shared");
    await expectWorks(home);
    const file = cacheFileIn(home);
    fs.chmodSync(file, 0o666);
    await expectWorks(home);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("a failed run writes no cache; another command's cache is upgraded by a status run", async () => {
    const home = freshHome("upgrade");
    const failed = await status(home, ["runtime", "logs", "--id", "x", "--lines", "abc"]);
    expect(failed.code).toBe(2);
    expect(fs.existsSync(cacheFileIn(home))).toBe(false);
    const version = await status(home, ["--version"]);
    expect(version.code).toBe(0);
    expect(cacheOf(home)?.hot).toBe(false);
    await expectWorks(home);
    expect(cacheOf(home)?.hot).toBe(true);
  });

  it("RMX_NO_CODE_CACHE=1: no cache is read or written", async () => {
    const home = freshHome("off");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RMX_SOCKET: fake.socketPath,
      XDG_CACHE_HOME: home,
      RMX_NO_CODE_CACHE: "1",
      NO_COLOR: "1",
      TZ: "UTC",
    };
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [BIN, "runtime", "status"], { env }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      ),
    );
    expect(out).toBe(EXPECTED);
    expect(fs.readdirSync(home)).toEqual([]);
  });
});
