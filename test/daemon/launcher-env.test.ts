/**
 * The glibc tuning our launchers give rmxd (packaging/node-options.ts) is for rmxd alone: a backend
 * started by a daemon that was launched with it must not inherit it, and a value of the user's own must
 * reach backends unchanged.
 */
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DAEMON_GLIBC_TUNABLES } from "../../packaging/node-options.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { configWith, pidsWithEnv } from "./support.js";

const dirs: string[] = [];
afterEach(stopAll);
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

function environOf(pid: number): Map<string, string> {
  const vars = new Map<string, string>();
  for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return vars;
}

async function backendOf(
  tunables: string,
): Promise<{ h: DaemonHandle; daemon: Map<string, string>; backend: Map<string, string> }> {
  const dir = await tempDir("rmx-launcher-env-");
  dirs.push(dir);
  const h = await startDaemon({
    dir,
    config: configWith([{ id: "one" }]),
    env: { GLIBC_TUNABLES: tunables },
    ready: ["one"],
  });
  const backends = pidsWithEnv(`RMX_STATE_DIR=${h.stateDir}`, [h.pid]);
  expect(backends.length, "the backend runs").toBeGreaterThan(0);
  return { h, daemon: environOf(h.pid), backend: environOf(backends[0] as number) };
}

describe.skipIf(process.platform !== "linux")("the launchers' environment", () => {
  it("rmxd started with the launchers' GLIBC_TUNABLES starts backends without it", async () => {
    const { daemon, backend } = await backendOf(DAEMON_GLIBC_TUNABLES);
    expect(daemon.get("GLIBC_TUNABLES"), "rmxd itself was started with it").toBe(DAEMON_GLIBC_TUNABLES);
    expect(backend.has("RMX_STATE_DIR"), "the backend has the daemon's other variables").toBe(true);
    expect(backend.has("GLIBC_TUNABLES"), "the backend has no GLIBC_TUNABLES").toBe(false);
  });

  it("a GLIBC_TUNABLES of the user's own reaches backends unchanged", async () => {
    const mine = "glibc.malloc.arena_max=2";
    const { backend } = await backendOf(mine);
    expect(backend.get("GLIBC_TUNABLES")).toBe(mine);
  });
});
