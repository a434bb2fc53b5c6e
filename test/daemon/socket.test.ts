/**
 * One daemon per socket and state dir: a second one exits with "already running (pid N)" and leaves the
 * first alone; a daemon killed with SIGKILL leaves a stale socket and an orphan backend, and the next
 * start replaces the socket and stops the orphan.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { alive, runRmxd, runtimeView } from "./support.js";

const dirs: string[] = [];
afterEach(stopAll);
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

describe("one daemon per socket", () => {
  it("a second rmxd on the same socket and state dir exits 'already running (pid N)'; the first keeps working", async () => {
    const h = await startDaemon({ ready: ["llama-stub"] });
    const backend = (await runtimeView(h, "llama-stub")).pid as number;

    const same = await runRmxd([], { RMX_SOCKET: h.socket, RMX_STATE_DIR: h.stateDir });
    expect(same.code, `exit ${same.code}; stderr:\n${same.stderr}`).not.toBe(0);
    expect(same.stderr, same.stderr).toContain(`already running (pid ${h.pid}`);

    const otherState = path.join(h.dir, "other-state");
    const sameSocket = await runRmxd([], { RMX_SOCKET: h.socket, RMX_STATE_DIR: otherState });
    expect(sameSocket.code, `exit ${sameSocket.code}; stderr:\n${sameSocket.stderr}`).not.toBe(0);
    expect(sameSocket.stderr, sameSocket.stderr).toContain(
      `rmxd is already running (pid ${h.pid}): it answers on ${h.socket}`,
    );

    const hello = await (await h.client()).call("daemon.hello");
    expect(hello.pid, `the first daemon still answers (pid ${hello.pid})`).toBe(h.pid);
    const after = await runtimeView(h, "llama-stub");
    expect(after.pid, `its backend is untouched (pid ${after.pid}, was ${backend})`).toBe(backend);
    expect(after.state).toBe("ready");
  });

  it("after a SIGKILLed daemon: the stale socket is replaced and the orphaned backend is stopped", async () => {
    const dir = await tempDir("rmx-stale-");
    dirs.push(dir);
    const first = await startDaemon({ dir, ready: ["llama-stub"] });
    const orphan = (await runtimeView(first, "llama-stub")).pid as number;
    const killed = await first.stop("SIGKILL");
    expect(killed.signal, "daemon killed").toBe("SIGKILL");
    const stat = await fs.lstat(first.socket);
    expect(stat.isSocket(), "the socket file is left behind").toBe(true);
    expect(alive(orphan), `the backend ${orphan} outlived its daemon`).toBe(true);

    const second = await startDaemon({ dir, ready: ["llama-stub"] });
    expect(alive(orphan), `orphan ${orphan} stopped by the new daemon`).toBe(false);
    expect(second.stderr(), "the reaping is logged").toContain(
      "stopped a backend left running by a previous daemon",
    );
    const rt = await runtimeView(second, "llama-stub");
    expect(rt.pid, `a fresh backend (pid ${rt.pid})`).not.toBe(orphan);
    const hello = await (await second.client()).call("daemon.hello");
    expect(hello.pid, "the new daemon answers on the same socket").toBe(second.pid);
  });
});
