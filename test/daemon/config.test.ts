/**
 * Configuration through the real daemon: an invalid file stops it before anything runs, `--config`
 * beats `RMX_CONFIG` beats `$XDG_CONFIG_HOME`, and SIGHUP / `config.reload` apply only the difference.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RpcCallError } from "../../ipc/client.js";
import { startDaemon, stopAll, tempDir, until } from "../support/daemon-harness.js";
import { alive, configWith, pidsWithEnv, record, runRmxd, runtimeView } from "./support.js";

const dirs: string[] = [];
async function newDir(): Promise<string> {
  const d = await tempDir("rmx-config-");
  dirs.push(d);
  return d;
}
afterEach(stopAll);
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

describe("configuration", () => {
  it("an invalid file: rmxd exits non-zero naming file:line:col and the key path, nothing left running", async () => {
    const dir = await newDir();
    const file = path.join(dir, "rmx.yaml");
    await fs.writeFile(
      file,
      [
        "runtimes:",
        "  - id: fine",
        "    adapter: llama-stub",
        "    auto_start: true",
        "  - id: bad",
        "    adapter: llama-stub",
        "    restart_budget: { window_seconds: ten }",
        "",
      ].join("\n"),
    );
    const stateDir = path.join(dir, "state");
    const socket = path.join(dir, "rmxd.sock");
    const r = await runRmxd(["--config", file], { RMX_STATE_DIR: stateDir, RMX_SOCKET: socket });
    expect(r.code, `exit code ${r.code}; stderr:\n${r.stderr}`).not.toBe(0);
    expect(r.stderr, r.stderr).toContain(
      `${file}:7:23: runtimes[1].restart_budget.window_seconds: expected a positive integer, got "ten"`,
    );
    await expect(fs.stat(socket), "no socket left").rejects.toThrow(/ENOENT/);
    const left = pidsWithEnv(`RMX_STATE_DIR=${stateDir}`);
    expect(left, `processes left: ${left.join(", ") || "none"}`).toEqual([]);
  });

  it("--config beats RMX_CONFIG, which beats $XDG_CONFIG_HOME/runtime-matrix/rmx.yaml", async () => {
    const dir = await newDir();
    const write = async (name: string, id: string) => {
      const file = path.join(dir, name);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, configWith([{ id, auto_start: false }]));
      return file;
    };
    const flag = await write("flag.yaml", "from-flag");
    const env = await write("env.yaml", "from-env");
    await write("xdg/runtime-matrix/rmx.yaml", "from-xdg");
    const xdg = { XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const idsWith = async (args: string[], extraEnv: Record<string, string>) => {
      const h = await startDaemon({ dir: await newDir(), args, env: { ...xdg, ...extraEnv } });
      const ids = (await h.status()).runtimes.map((r) => r.id);
      await h.stop();
      return ids;
    };
    expect(await idsWith(["--config", flag], { RMX_CONFIG: env }), "--config and RMX_CONFIG").toEqual([
      "from-flag",
    ]);
    expect(await idsWith([], { RMX_CONFIG: env }), "RMX_CONFIG and XDG").toEqual(["from-env"]);
    expect(await idsWith([], {}), "XDG only").toEqual(["from-xdg"]);
  });

  it("SIGHUP applies only the difference; an invalid reload keeps the running config; config.reload returns the diff", async () => {
    const v1 = configWith([{ id: "keep" }, { id: "change" }, { id: "gone" }]);
    const h = await startDaemon({ config: v1, ready: ["keep", "change", "gone"] });
    const file = h.configPath as string;
    const pids = Object.fromEntries((await h.status()).runtimes.map((r) => [r.id, r.pid as number]));

    const ev = await record(h, ["config.reloaded", "runtime.state.changed"]);
    await fs.writeFile(
      file,
      configWith([
        { id: "keep" },
        { id: "change", args: ["--stub-tokens-per-second", "100"] },
        { id: "added" },
      ]),
    );
    process.kill(h.pid, "SIGHUP");
    const reloaded = await ev.next("config.reloaded");
    expect(reloaded.payload, JSON.stringify(reloaded.payload)).toMatchObject({
      added: ["added"],
      removed: ["gone"],
      changed: ["change"],
      unchanged: ["keep"],
    });
    await h.waitForState("change", ["ready"]);
    await h.waitForState("added", ["ready"]);
    const s = await h.status();
    const byId = Object.fromEntries(s.runtimes.map((r) => [r.id, r]));
    expect(Object.keys(byId).sort(), "runtimes after reload").toEqual(["added", "change", "keep"]);
    expect(byId.keep?.pid, `keep: same pid ${byId.keep?.pid} (was ${pids.keep})`).toBe(pids.keep);
    expect(byId.change?.pid, `change: new pid ${byId.change?.pid} (was ${pids.change})`).not.toBe(
      pids.change,
    );
    expect(alive(pids.change as number), `old 'change' process ${pids.change} stopped`).toBe(false);
    expect(alive(pids.gone as number), `removed 'gone' process ${pids.gone} stopped`).toBe(false);
    const goneStates = ev.all("runtime.state.changed", "gone").map((e) => e.payload.to);
    expect(goneStates, `gone: ${goneStates.join(" → ")}`).toEqual(["stopping", "stopped"]);
    expect(ev.all("runtime.state.changed", "keep"), "keep: no state change").toHaveLength(0);

    // Invalid reload by SIGHUP: logged, nothing changes.
    await fs.writeFile(file, "runtimes:\n  - id: keep\n    adapter: nope\n");
    process.kill(h.pid, "SIGHUP");
    await until(
      () => h.stderr().includes("reload failed; keeping the running configuration"),
      10_000,
      "the reload error",
    );
    const logLine =
      h
        .stderr()
        .split("\n")
        .find((l) => l.includes("reload failed")) ?? "";
    expect(logLine, `log: ${logLine}`).toContain(`${file}:3:5: runtimes[0].adapter`);
    const still = await h.status();
    expect(
      still.runtimes.map((r) => `${r.id}:${r.pid}`),
      "unchanged after an invalid reload",
    ).toEqual(s.runtimes.map((r) => `${r.id}:${r.pid}`));

    // Over the socket: the error names the file; a valid file returns the diff.
    const c = await h.client();
    const error = await c.call("config.reload").catch((e: unknown) => e);
    expect(error, String(error)).toBeInstanceOf(RpcCallError);
    expect((error as RpcCallError).message, (error as Error).message).toContain(`${file}:3:5`);
    await fs.writeFile(
      file,
      configWith([{ id: "keep" }, { id: "change", args: ["--stub-tokens-per-second", "100"] }]),
    );
    const diff = await c.call("config.reload");
    expect(diff, JSON.stringify(diff)).toMatchObject({
      added: [],
      removed: ["added"],
      changed: [],
      unchanged: ["keep", "change"],
    });
    expect((await runtimeView(h, "keep")).pid, "keep survived three reloads").toBe(pids.keep);
    await ev.close();
  });
});
