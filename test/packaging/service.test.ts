import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgetLauncherEnvironment } from "../../daemon/launcher-env.js";
import {
  DAEMON_ENVIRONMENT,
  DAEMON_GLIBC_TUNABLES,
  DAEMON_NODE_OPTIONS,
} from "../../packaging/node-options.js";
import {
  installService,
  isOurs,
  renderService,
  SERVICE_MARKER,
  ServiceFileConflictError,
  type ServiceKind,
  servicePath,
  serviceStatus,
  systemdWord,
  uninstallService,
  xmlEscape,
} from "../../packaging/service.js";

const NODE_FLAGS = DAEMON_NODE_OPTIONS.join(" ");

let dir: string;
let rmxd: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-pkg-"));
  rmxd = path.join(dir, "dist", "daemon", "main.js");
  await mkdir(path.dirname(rmxd), { recursive: true });
  await writeFile(rmxd, "// stand-in for rmxd\n");
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Directive lines of a unit (comments and blanks dropped), as `Key=value`. */
function directives(content: string): string[] {
  return content.split("\n").filter((line) => /^[A-Za-z]+=/.test(line));
}

function value(content: string, key: string): string[] {
  return directives(content)
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

describe("systemd units", () => {
  for (const kind of ["systemd-user", "systemd-system"] as const) {
    it(`${kind}: notify, watchdog, restart and stop policy, runtime and state directories`, () => {
      const { content, nextCommand } = renderService({
        kind,
        node: process.execPath,
        rmxd,
        targetDir: dir,
        user: "rmx",
      });
      expect(content.split("\n")[0]).toMatch(new RegExp(`^# ${SERVICE_MARKER}`));
      expect(content).not.toMatch(/\{\{/);
      expect(value(content, "Type")).toEqual(["notify"]);
      expect(value(content, "NotifyAccess")).toEqual(["all"]);
      expect(value(content, "WatchdogSec")).toEqual(["30"]);
      expect(value(content, "KillMode")).toEqual(["mixed"]);
      // rmxd's own cgroup, writable by it, so each runtime is a sub-cgroup ended by cgroup.kill.
      expect(value(content, "Delegate")).toEqual(["yes"]);
      expect(value(content, "ProtectControlGroups"), "it would make the delegated cgroup read-only").toEqual(
        [],
      );
      expect(Number(value(content, "TimeoutStopSec")[0])).toBeGreaterThanOrEqual(30);
      expect(value(content, "Restart")).toEqual(["on-failure"]);
      expect(value(content, "RestartSec")).toEqual(["2"]);
      expect(value(content, "RuntimeDirectory")).toEqual(["runtime-matrix"]);
      expect(value(content, "StateDirectory")).toEqual(["runtime-matrix"]);
      expect(value(content, "ExecReload")).toEqual(["/bin/kill -HUP $MAINPID"]);
      expect(value(content, "NoNewPrivileges")).toEqual(["yes"]);
      // GPU access: no device isolation, and W+X memory stays allowed for CUDA/ROCm JITs.
      for (const banned of ["PrivateDevices", "DeviceAllow", "MemoryDenyWriteExecute", "DynamicUser"]) {
        expect(value(content, banned), banned).toEqual([]);
      }
      // Every directive is explained: a comment precedes each group of directives.
      expect(content.split("\n").filter((line) => line.startsWith("#")).length).toBeGreaterThan(15);
      // glibc's malloc settings for rmxd itself (rmxd drops them before starting a backend).
      expect(value(content, "Environment")).toContain(`"GLIBC_TUNABLES=${DAEMON_GLIBC_TUNABLES}"`);
      if (kind === "systemd-user") {
        expect(value(content, "RuntimeDirectoryMode")).toEqual(["0700"]);
        expect(value(content, "Environment")).toContain('"RMX_SOCKET=%t/runtime-matrix/rmxd.sock"');
        expect(value(content, "ExecStart")).toEqual([`${process.execPath} ${NODE_FLAGS} ${rmxd}`]);
        expect(value(content, "WantedBy")).toEqual(["default.target"]);
        expect(nextCommand).toBe("systemctl --user daemon-reload && systemctl --user enable --now rmxd");
      } else {
        expect(value(content, "RuntimeDirectoryMode")).toEqual(["0750"]);
        expect(value(content, "Environment")).toContain('"RMX_SOCKET=/run/runtime-matrix/rmxd.sock"');
        expect(value(content, "ExecStart")).toEqual([`${process.execPath} ${NODE_FLAGS} ${rmxd} --system`]);
        expect(value(content, "User")).toEqual(["rmx"]);
        expect(value(content, "Group")).toEqual([]);
        expect(value(content, "ProtectSystem")).toEqual(["strict"]);
        expect(value(content, "ProtectHome")).toEqual(["read-only"]);
        expect(value(content, "PrivateTmp")).toEqual(["yes"]);
        expect(value(content, "WantedBy")).toEqual(["multi-user.target"]);
        expect(nextCommand).toBe("systemctl daemon-reload && systemctl enable --now rmxd");
      }
    });
  }

  it("passes --config, a custom socket, state directory and group, quoted for systemd", () => {
    const { content } = renderService({
      kind: "systemd-system",
      node: process.execPath,
      rmxd,
      config: "/etc/rmx/my config.yaml",
      socket: "/run/rmx 100%/s.sock",
      stateDir: "/srv/rmx state",
      user: "rmx",
      group: "inference",
      targetDir: dir,
    });
    expect(value(content, "ExecStart")).toEqual([
      `${process.execPath} ${NODE_FLAGS} ${rmxd} --system --config "/etc/rmx/my config.yaml"`,
    ]);
    expect(value(content, "Environment")).toEqual([
      '"RMX_SOCKET=/run/rmx 100%%/s.sock"',
      '"RMX_STATE_DIR=/srv/rmx state"',
      `"GLIBC_TUNABLES=${DAEMON_GLIBC_TUNABLES}"`,
    ]);
    expect(value(content, "Group")).toEqual(["inference"]);
    expect(value(content, "ReadWritePaths")).toEqual(['"-/srv/rmx state"']);
  });

  it("quotes words the way systemd reads them", () => {
    expect(systemdWord("/usr/bin/node")).toBe("/usr/bin/node");
    expect(systemdWord("/a b/c")).toBe('"/a b/c"');
    expect(systemdWord("/x/100%")).toBe("/x/100%%");
    expect(systemdWord("/x/$HOME")).toBe('"/x/$$HOME"');
    expect(systemdWord('/x/"q"\\')).toBe('"/x/\\"q\\"\\\\"');
    expect(() =>
      renderService({ kind: "systemd-user", node: "/bin/node\nExecStartPre=/bin/evil", rmxd }),
    ).toThrow(/single line/);
  });

  it("every rendered unit passes systemd-analyze verify, paths with spaces included", async () => {
    if (spawnSync("systemd-analyze", ["--version"]).status !== 0) {
      console.warn("skipped: systemd-analyze is not installed");
      return;
    }
    // A node and an rmxd under directories with spaces: verify checks that ExecStart's binary exists and is
    // executable after systemd unquotes it, so this proves the quoting.
    const spaced = path.join(dir, "bin dir");
    await mkdir(spaced);
    const node = path.join(spaced, "node");
    await symlink(process.execPath, node);
    const spacedRmxd = path.join(spaced, "main.js");
    await writeFile(spacedRmxd, "");
    await chmod(spacedRmxd, 0o644);
    const runtimeDir = path.join(dir, "xdg-runtime");
    await mkdir(runtimeDir, { mode: 0o700 });
    for (const kind of ["systemd-user", "systemd-system"] as ServiceKind[]) {
      for (const variant of [
        { node: process.execPath, rmxd },
        {
          node,
          rmxd: spacedRmxd,
          config: path.join(spaced, "rmx.yaml"),
          stateDir: path.join(dir, "state dir"),
        },
      ]) {
        const target = path.join(dir, `verify-${kind}-${variant.node === node ? "spaced" : "plain"}`);
        const { path: unit } = await installService({
          kind,
          ...variant,
          targetDir: target,
          dryRun: false,
          force: false,
        });
        expect(path.basename(unit)).toBe("rmxd.service");
        const args = kind === "systemd-user" ? ["--user", "verify", unit] : ["verify", unit];
        const result = spawnSync("systemd-analyze", args, {
          encoding: "utf8",
          env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir },
        });
        // verify exits 0 even for unknown keys or bad values, so its complaints about our file are the test.
        const complaints = result.stderr.split("\n").filter((line) => line.includes("rmxd.service"));
        expect(complaints, `${kind} ${unit}:\n${result.stderr}`).toEqual([]);
        expect(result.status, result.stderr).toBe(0);
      }
    }
  });

  it("systemd-analyze verify does catch a broken unit (the check above can fail)", async () => {
    if (spawnSync("systemd-analyze", ["--version"]).status !== 0) {
      console.warn("skipped: systemd-analyze is not installed");
      return;
    }
    const { content } = renderService({
      kind: "systemd-system",
      node: path.join(dir, "no-node"),
      rmxd,
      user: "rmx",
    });
    const unit = path.join(dir, "rmxd.service");
    await writeFile(unit, content.replace("Type=notify", "Type=notifyy"));
    const result = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(result.stderr).toContain("notifyy");
    expect(result.stderr).toContain("no-node");
  });
});

/**
 * A small XML plist reader: checks the document is well formed (every tag closed in order) and turns
 * dict/array/string/integer/true/false into values.
 */
function parsePlist(xml: string): unknown {
  const body = xml
    .replace(/<\?xml[^?]*\?>/, "")
    .replace(/<!DOCTYPE[^>]*>/, "")
    .replace(/<!--[\s\S]*?-->/g, "");
  const tokens = [...body.matchAll(/<(\/?)([a-z]+)(?:\s[^<>]*?)?(\/?)>|([^<]+)/g)];
  const consumed = tokens.reduce((n, t) => n + t[0].length, 0);
  if (consumed !== body.length) throw new Error("stray markup: not every character belongs to a tag or text");
  let i = 0;
  const decode = (text: string) =>
    text
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, "&");
  const next = () => {
    while (i < tokens.length && tokens[i]?.[4] !== undefined && tokens[i]?.[4]?.trim() === "") i++;
    return tokens[i++];
  };
  const expectClose = (name: string) => {
    const t = next();
    if (t?.[1] !== "/" || t[2] !== name) throw new Error(`expected </${name}>, got ${t?.[0]}`);
  };
  const text = (name: string): string => {
    const t = tokens[i];
    let content = "";
    if (t && t[4] !== undefined) {
      content = t[4];
      i++;
    }
    expectClose(name);
    return decode(content);
  };
  const parseValue = (): unknown => {
    const t = next();
    if (!t || t[1] === "/" || t[2] === undefined) throw new Error(`expected a value, got ${t?.[0]}`);
    const name = t[2];
    if (t[3] === "/") {
      if (name === "true") return true;
      if (name === "false") return false;
      throw new Error(`unexpected <${name}/>`);
    }
    switch (name) {
      case "string":
        return text("string");
      case "integer":
        return Number(text("integer"));
      case "array": {
        const items: unknown[] = [];
        while (!(tokens[i]?.[1] === "/" && tokens[i]?.[2] === "array")) {
          if (i >= tokens.length) throw new Error("unclosed <array>");
          if (tokens[i]?.[4] !== undefined && tokens[i]?.[4]?.trim() === "") {
            i++;
            continue;
          }
          items.push(parseValue());
        }
        expectClose("array");
        return items;
      }
      case "dict": {
        const dict: Record<string, unknown> = {};
        for (;;) {
          const k = next();
          if (!k) throw new Error("unclosed <dict>");
          if (k[1] === "/" && k[2] === "dict") return dict;
          if (k[2] !== "key") throw new Error(`expected <key>, got ${k[0]}`);
          const key = text("key");
          dict[key] = parseValue();
        }
      }
      default:
        throw new Error(`unknown element <${name}>`);
    }
  };
  const open = next();
  if (open?.[2] !== "plist") throw new Error("no <plist> root");
  const root = parseValue();
  expectClose("plist");
  if (next() !== undefined) throw new Error("content after </plist>");
  return root;
}

describe("launchd plist", () => {
  it("is a well-formed plist with the keys launchd needs", () => {
    const env = { HOME: "/Users/ada", TMPDIR: "/var/folders/x/T/" };
    const {
      content,
      path: plistPath,
      nextCommand,
    } = renderService({
      kind: "launchd",
      node: "/opt/homebrew/bin/node",
      rmxd: "/opt/rmx & co/dist/daemon/main.js",
      config: "/Users/ada/rmx <test>.yaml",
      socket: "/var/folders/x/T/runtime-matrix/rmxd.sock",
      env,
    });
    expect(plistPath).toBe("/Users/ada/Library/LaunchAgents/dev.runtime-matrix.rmxd.plist");
    expect(nextCommand).toBe(`launchctl bootstrap gui/$(id -u) ${plistPath}`);
    expect(isOurs(content)).toBe(true);
    expect(content).not.toMatch(/\{\{/);
    // XML comments may not contain "--".
    for (const comment of content.match(/<!--([\s\S]*?)-->/g) ?? [])
      expect(comment.slice(4, -3)).not.toContain("--");
    const plist = parsePlist(content) as Record<string, unknown>;
    expect(plist.Label).toBe("dev.runtime-matrix.rmxd");
    expect(plist.ProgramArguments).toEqual([
      "/opt/homebrew/bin/node",
      ...DAEMON_NODE_OPTIONS,
      "/opt/rmx & co/dist/daemon/main.js",
      "--config",
      "/Users/ada/rmx <test>.yaml",
    ]);
    expect(plist.RunAtLoad).toBe(true);
    expect(plist.KeepAlive).toEqual({ SuccessfulExit: false });
    expect(plist.StandardOutPath).toBe("/Users/ada/Library/Logs/runtime-matrix/rmxd.log");
    expect(plist.StandardErrorPath).toBe("/Users/ada/Library/Logs/runtime-matrix/rmxd.log");
    expect(plist.EnvironmentVariables).toEqual({
      RMX_SOCKET: "/var/folders/x/T/runtime-matrix/rmxd.sock",
      RMX_STATE_DIR: "/Users/ada/.local/state/runtime-matrix",
    });
  });

  it("the reader above rejects malformed XML", () => {
    expect(parsePlist('<plist version="1.0"><dict><key>a</key><true/></dict></plist>')).toEqual({ a: true });
    expect(() => parsePlist("<plist><dict><key>a</key><string>x < y</string></dict></plist>")).toThrow(
      /stray/,
    );
    expect(() => parsePlist("<plist><dict><key>a</key><string>x</dict></plist>")).toThrow();
    expect(() => parsePlist("<plist><dict><key>a</key></dict></plist>")).toThrow();
  });

  it("python's plistlib agrees, when python3 is there", async () => {
    if (spawnSync("python3", ["--version"]).status !== 0) {
      console.warn("skipped: python3 is not installed");
      return;
    }
    const { content } = renderService({
      kind: "launchd",
      node: "/usr/local/bin/node",
      rmxd: "/x/main.js",
      env: { HOME: "/Users/ada" },
    });
    const file = path.join(dir, "rmxd.plist");
    await writeFile(file, content);
    const result = spawnSync(
      "python3",
      ["-c", "import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],'rb'))))", file],
      { encoding: "utf8" },
    );
    expect(result.status, result.stderr).toBe(0);
    const plist = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(plist).toEqual(parsePlist(content));
    expect(plist.ProgramArguments).toEqual(["/usr/local/bin/node", ...DAEMON_NODE_OPTIONS, "/x/main.js"]);
  });

  it("starts rmxd with the daemon's Node options, which this Node accepts, as npm start does", async () => {
    expect(DAEMON_NODE_OPTIONS.length).toBeGreaterThan(0);
    // A flag Node does not know makes it exit 9 before rmxd runs: the service would never start.
    // …and they give rmxd `gc`, for the one collection after start-up (daemon/heap-settle.ts).
    const run = spawnSync(
      process.execPath,
      [...DAEMON_NODE_OPTIONS, "-e", "process.exit(typeof gc === 'function' ? 0 : 3)"],
      { encoding: "utf8" },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8"));
    expect(pkg.scripts.start).toContain("node scripts/start.mjs");
  });

  it("npm start's launcher runs the built rmxd with the daemon's options and exits as it did", () => {
    const start = fileURLToPath(new URL("../../scripts/start.mjs", import.meta.url));
    const version = spawnSync(process.execPath, [start, "--version"], { encoding: "utf8" });
    expect(version.stderr).toBe("");
    expect(version.stdout).toMatch(/^rmxd \S+\n$/);
    expect(version.status).toBe(0);
    // A bad flag: rmxd's own usage error and exit code 2 come through the launcher.
    const bad = spawnSync(process.execPath, [start, "--no-such-flag"], { encoding: "utf8" });
    expect(bad.stderr).toContain("rmxd: Unknown option '--no-such-flag'");
    expect(bad.status).toBe(2);
  });

  it("a glibc tuning variable the daemon's own launchers set is dropped before any backend starts", () => {
    const env: NodeJS.ProcessEnv = { ...DAEMON_ENVIRONMENT, PATH: "/bin" };
    expect(forgetLauncherEnvironment(env)).toEqual(Object.keys(DAEMON_ENVIRONMENT));
    expect(env).toEqual({ PATH: "/bin" });
    // The user's own value is theirs: kept, and backends inherit it.
    const mine: NodeJS.ProcessEnv = { GLIBC_TUNABLES: "glibc.malloc.arena_max=2" };
    expect(forgetLauncherEnvironment(mine)).toEqual([]);
    expect(mine).toEqual({ GLIBC_TUNABLES: "glibc.malloc.arena_max=2" });
  });

  it("escapes XML", () => {
    expect(xmlEscape(`a&b<c>"d'`)).toBe("a&amp;b&lt;c&gt;&quot;d&apos;");
  });
});

describe("where service files go", () => {
  it("uses the standard places, or --target-dir", () => {
    expect(servicePath("systemd-user", { env: { HOME: "/home/ada" } })).toBe(
      "/home/ada/.config/systemd/user/rmxd.service",
    );
    expect(servicePath("systemd-user", { env: { HOME: "/home/ada", XDG_CONFIG_HOME: "/cfg" } })).toBe(
      "/cfg/systemd/user/rmxd.service",
    );
    expect(servicePath("systemd-user", { env: { HOME: "/home/ada", XDG_CONFIG_HOME: "relative" } })).toBe(
      "/home/ada/.config/systemd/user/rmxd.service",
    );
    expect(servicePath("systemd-system")).toBe("/etc/systemd/system/rmxd.service");
    expect(servicePath("launchd", { env: { HOME: "/Users/ada" } })).toBe(
      "/Users/ada/Library/LaunchAgents/dev.runtime-matrix.rmxd.plist",
    );
    expect(servicePath("systemd-system", { targetDir: "/tmp/t" })).toBe("/tmp/t/rmxd.service");
  });
});

describe("install, uninstall, status", () => {
  const base = () => ({
    kind: "systemd-user" as const,
    node: process.execPath,
    rmxd,
    targetDir: path.join(dir, "units"),
  });

  it("installs, reinstalls over its own file, and refuses a foreign one unless forced", async () => {
    const dry = await installService({ ...base(), dryRun: true, force: false });
    expect(dry.written).toBe(false);
    expect(await serviceStatus({ ...base(), managerCommand: null })).toEqual({
      kind: "systemd-user",
      path: dry.path,
      installed: false,
    });
    const first = await installService({ ...base(), dryRun: false, force: false });
    expect(first.written).toBe(true);
    expect(await readFile(first.path, "utf8")).toBe(first.content);
    const again = await installService({ ...base(), config: "/etc/rmx.yaml", dryRun: false, force: false });
    expect(again.written).toBe(true);
    expect(await readFile(first.path, "utf8")).toContain("--config /etc/rmx.yaml");

    const foreign = "[Service]\nExecStart=/usr/bin/other\n";
    await writeFile(first.path, foreign);
    await expect(installService({ ...base(), dryRun: false, force: false })).rejects.toBeInstanceOf(
      ServiceFileConflictError,
    );
    await expect(installService({ ...base(), dryRun: true, force: false })).rejects.toThrow(/--force/);
    expect(await readFile(first.path, "utf8")).toBe(foreign);
    expect(await serviceStatus({ ...base(), managerCommand: null })).toMatchObject({
      installed: true,
      ours: false,
    });
    await expect(uninstallService({ ...base(), managerCommand: null })).rejects.toThrow(/refusing to remove/);
    expect(await readFile(first.path, "utf8")).toBe(foreign);

    const forced = await installService({ ...base(), dryRun: false, force: true });
    expect(forced.written).toBe(true);
    expect(await serviceStatus({ ...base(), managerCommand: null })).toMatchObject({
      installed: true,
      ours: true,
    });

    const removed = await uninstallService({ ...base(), managerCommand: null });
    expect(removed).toEqual({
      path: first.path,
      existed: true,
      removed: true,
      ran: [],
      nextCommand: "systemctl --user daemon-reload",
    });
    const none = await uninstallService({ ...base(), managerCommand: null });
    expect(none.existed).toBe(false);
  });

  it("says so when the service manager is missing", async () => {
    const status = await serviceStatus({ ...base(), managerCommand: path.join(dir, "no-systemctl") });
    expect(status.active).toBeUndefined();
    expect(status.note).toMatch(/not found/);
  });

  it("asks systemctl is-active when there is one", async () => {
    // A stand-in systemctl that answers like the real one for an inactive unit (exit 3, state on stdout).
    const fakeSystemctl = path.join(dir, "systemctl");
    await writeFile(fakeSystemctl, '#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\necho inactive\nexit 3\n');
    await chmod(fakeSystemctl, 0o755);
    const status = await serviceStatus({ ...base(), managerCommand: fakeSystemctl });
    expect(status.active).toBe("inactive");
    expect((await readFile(path.join(dir, "args"), "utf8")).trim()).toBe("--user is-active rmxd.service");
  });
});

describe("justfile", () => {
  const just = path.resolve(import.meta.dirname, "../../node_modules/.bin/just");
  const root = path.resolve(import.meta.dirname, "../..");

  it("lists the recipes, each running its npm script", () => {
    const list = spawnSync(just, ["--list"], { cwd: root, encoding: "utf8" });
    if (list.error) {
      console.warn(`skipped: just is not installed (${list.error.message})`);
      return;
    }
    expect(list.status, list.stderr).toBe(0);
    for (const recipe of ["default", "build", "test", "dev", "bench", "runtime-smoke"]) {
      expect(list.stdout).toMatch(new RegExp(`^\\s+${recipe}\\b`, "m"));
    }
    const dry = (recipe: string, env: NodeJS.ProcessEnv = {}) =>
      spawnSync(just, ["--dry-run", recipe], { cwd: root, encoding: "utf8", env: { ...process.env, ...env } })
        .stderr;
    expect(dry("build")).toContain("npm run build");
    expect(dry("test")).toContain("npm test");
    expect(dry("dev")).toContain("npm run dev");
    expect(dry("bench")).toContain("npm run bench");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell default expansion, as the recipe writes it
    expect(dry("runtime-smoke")).toContain('MODE="${MODE:-stub}" npm run runtime-smoke');
  });
});
