import { mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig, resolveNodeId } from "../../config/load.js";
import { locateConfig } from "../../config/locate.js";
import { makeConfigHome, rejection } from "./support.js";

let dir: string;
let home: string;

beforeEach(async () => {
  ({ dir, home } = await makeConfigHome("rmx-config-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text: string): Promise<string> {
  const file = path.join(dir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

const runtimeYaml = (id: string) => `runtimes: [{ id: ${id}, adapter: llama-stub }]\n`;

describe("locateConfig: --config > RMX_CONFIG > XDG file > embedded", () => {
  it("takes each source in order as the ones before it go away", async () => {
    const flag = await write("flag.yaml", runtimeYaml("from-flag"));
    const fromEnv = await write("env.yaml", runtimeYaml("from-env"));
    const xdgHome = path.join(dir, "xdg");
    const xdg = await write("xdg/runtime-matrix/rmx.yaml", runtimeYaml("from-xdg"));
    const env = { RMX_CONFIG: fromEnv, XDG_CONFIG_HOME: xdgHome };

    expect(await locateConfig({ flag, env, home })).toEqual({ path: flag, origin: "flag" });
    expect(await locateConfig({ env, home })).toEqual({ path: fromEnv, origin: "env" });
    expect(await locateConfig({ env: { ...env, RMX_CONFIG: "" }, home })).toEqual({
      path: xdg,
      origin: "xdg",
    });
    expect(await locateConfig({ env: { XDG_CONFIG_HOME: xdgHome }, home })).toEqual({
      path: xdg,
      origin: "xdg",
    });
    await rm(xdg);
    expect(await locateConfig({ env: { XDG_CONFIG_HOME: xdgHome }, home })).toEqual({ origin: "embedded" });

    // Each location loads what it holds.
    const ids = async (loc: Awaited<ReturnType<typeof locateConfig>>) =>
      (await loadConfig(loc, { home })).runtimes.map((r) => r.id);
    expect(await ids({ path: flag, origin: "flag" })).toEqual(["from-flag"]);
    expect(await ids({ path: fromEnv, origin: "env" })).toEqual(["from-env"]);
    expect(await ids({ origin: "embedded" })).toEqual(["llama-stub"]);
  });

  it("XDG_CONFIG_HOME defaults to ~/.config, and a relative one is ignored (XDG spec)", async () => {
    const file = await write("home/.config/runtime-matrix/rmx.yaml", runtimeYaml("a"));
    expect(await locateConfig({ env: {}, home })).toEqual({ path: file, origin: "xdg" });
    expect(await locateConfig({ env: { XDG_CONFIG_HOME: "relative/dir" }, home })).toEqual({
      path: file,
      origin: "xdg",
    });
  });

  it("expands ~ in RMX_CONFIG", async () => {
    const file = await write("home/conf/rmx.yaml", runtimeYaml("a"));
    expect(await locateConfig({ env: { RMX_CONFIG: "~/conf/rmx.yaml" }, home })).toEqual({
      path: file,
      origin: "env",
    });
  });

  it("a missing --config or RMX_CONFIG file is CONFIG_NOT_FOUND naming it and its origin, never a fall-back", async () => {
    await write("home/.config/runtime-matrix/rmx.yaml", runtimeYaml("a"));
    const missing = path.join(dir, "nope.yaml");
    const byFlag = await rejection(locateConfig({ flag: missing, env: {}, home }));
    expect(byFlag.code).toBe("CONFIG_NOT_FOUND");
    expect(byFlag.message).toBe(`config file ${missing} (from --config) does not exist`);
    expect(byFlag.data).toEqual({ path: missing, origin: "flag" });

    const byEnv = await rejection(locateConfig({ env: { RMX_CONFIG: missing }, home }));
    expect(byEnv.code).toBe("CONFIG_NOT_FOUND");
    expect(byEnv.message).toBe(`config file ${missing} (from RMX_CONFIG) does not exist`);
  });

  it("a directory given as the config is CONFIG_NOT_FOUND", async () => {
    const err = await rejection(locateConfig({ flag: dir, env: {}, home }));
    expect(err.code).toBe("CONFIG_NOT_FOUND");
    expect(err.message).toBe(`config file ${dir} (from --config) is not a regular file`);
  });
});

describe("loadConfig", () => {
  it("resolves relative paths against the file's directory and reports the file's path in errors", async () => {
    const file = await write(
      "etc/rmx.yaml",
      "models: [{ id: m, path: models/m.gguf }]\nruntimes:\n  - { id: a, adapter: llama.cpp, model: m, cwd: . }\n",
    );
    const config = await loadConfig({ path: file, origin: "flag" }, { home });
    expect(config.source).toBe(file);
    expect(config.models[0]?.path).toBe(path.join(dir, "etc/models/m.gguf"));
    expect(config.runtimes[0]?.cwd).toBe(path.join(dir, "etc"));

    const bad = await write(
      "etc/bad.yaml",
      "runtimes:\n  - id: a\n    adapter: llama-stub\n    port: eighty\n",
    );
    const err = await rejection(loadConfig({ path: bad, origin: "env" }, { home }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toBe(`${bad}:4:5: runtimes[0].port: expected a port number (1-65535), got "eighty"`);
    expect(err.data?.issues).toEqual([
      {
        file: bad,
        line: 4,
        column: 5,
        path: "runtimes[0].port",
        message: 'expected a port number (1-65535), got "eighty"',
      },
    ]);
  });

  it("a file that disappeared between locate and load is CONFIG_NOT_FOUND", async () => {
    const file = await write("gone.yaml", runtimeYaml("a"));
    const loc = await locateConfig({ flag: file, env: {}, home });
    await rm(file);
    const err = await rejection(loadConfig(loc, { home }));
    expect(err.code).toBe("CONFIG_NOT_FOUND");
    expect(err.message).toBe(`config file ${file} (from --config) does not exist`);
  });

  it("the embedded default loads with its source marked", async () => {
    const config = await loadConfig({ origin: "embedded" }, { home });
    expect(config.source).toBe("<embedded default>");
    expect(config.runtimes.map((r) => [r.id, r.adapter, r.auto_start])).toEqual([
      ["llama-stub", "llama-stub", true],
    ]);
  });
});

describe("resolveNodeId", () => {
  it("file > RMX_NODE_ID > ARW_NODE_ID > hostname", () => {
    const env = { RMX_NODE_ID: "rmx", ARW_NODE_ID: "arw" };
    expect(resolveNodeId({ node_id: "file" }, env)).toBe("file");
    expect(resolveNodeId({}, env)).toBe("rmx");
    expect(resolveNodeId({}, { ARW_NODE_ID: "arw", RMX_NODE_ID: "" })).toBe("arw");
    expect(resolveNodeId({}, {})).toBe(os.hostname());
  });
});
