/**
 * The real, built `rmx` (node dist/ipc/cli/main.js) against a fake daemon on a real Unix socket.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { statusHeader } from "../../ipc/cli/status-text.js";
import type { RestartBudgetView, RuntimeStatusResult, RuntimeView } from "../../ipc/protocol/runtime.js";
import { FakeDaemon, FakeRefusal } from "./fake-daemon.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/ipc/cli/main.js");
const ESC = "\u001b";
const utc = (iso: string): string => iso.slice(11, 19);

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Running {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: "UTC", ...extra };
  for (const key of ["FORCE_COLOR", "NODE_OPTIONS"]) delete env[key];
  return env;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Running {
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    env: baseEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, out: () => out, err: () => err, exited };
}

async function rmx(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<{ code: number | null; out: string; err: string }> {
  const running = start(args, env, nodeArgs);
  const { code } = await running.exited;
  return { code, out: running.out(), err: running.err() };
}

const GENERATED = "2025-01-01T12:00:05.000Z";
const RESET_AT = "2025-01-01T12:09:41.000Z";

function budget(used: number, resetAt?: string): RestartBudgetView {
  return {
    max_restarts: 3,
    window_seconds: 600,
    used,
    remaining: 3 - used,
    ...(resetAt === undefined ? {} : { reset_at: resetAt }),
  };
}

function view(id: string, over: Partial<RuntimeView>): RuntimeView {
  return {
    id,
    adapter: "llama-stub",
    state: "ready",
    status: {
      code: "ready",
      severity: "info",
      severity_label: "Info",
      label: "Ready - healthy",
      aria_hint: "Runtime ready",
    },
    desired: "running",
    hardware: "cpu",
    sandbox: "none",
    restarts_total: 0,
    restart_budget: budget(0),
    health: { window_seconds: 60, requests: 0, errors: 0, error_rate: 0 },
    ...over,
  };
}

function statusResult(alphaState: "starting" | "ready"): RuntimeStatusResult {
  const alpha = view("alpha", {
    state: alphaState,
    uptime_seconds: 192,
    ...(alphaState === "starting"
      ? {
          status: {
            code: "starting",
            severity: "info",
            severity_label: "Info",
            label: "Starting - loading model",
            aria_hint: "Runtime starting",
          },
        }
      : {}),
  });
  const beta = view("beta-long-name", {
    state: "exhausted",
    status: {
      code: "error",
      severity: "error",
      severity_label: "Error",
      label: "Error - restart budget exhausted",
      aria_hint: "Runtime error",
    },
    restart_budget: budget(3, RESET_AT),
  });
  return {
    generated: GENERATED,
    node: {
      target: "node-a",
      status: {
        code: "degraded",
        severity: "warn",
        severity_label: "Warn",
        label: "Degraded - beta-long-name restart budget exhausted",
        aria_hint: "Runtime status degraded",
      },
      generated: GENERATED,
      http: { routes: 0, hits: 0, errors: 0 },
      runtime: { total: 2, updated: GENERATED },
    },
    summary: {
      ready: alphaState === "ready" ? 1 : 0,
      total: 2,
      min_restarts_left: 0,
      next_reset: RESET_AT,
      attention_required: true,
      attention: ["beta-long-name restart budget exhausted"],
    },
    runtimes: [alpha, beta],
  };
}

const BUDGET_DENIAL = new FakeRefusal({
  code: -32021,
  message: "restart budget exhausted for beta-long-name",
  data: { code: "BUDGET_EXHAUSTED", restart_budget: budget(3, RESET_AT) },
});

let dir: string;
let fake: FakeDaemon;
let status: RuntimeStatusResult;

beforeAll(() => {
  // `npm test` builds first. Rebuilding here rewrote dist/ in place while other test files ran its
  // modules (a half-written dist/ipc/cli/stdout.js failed test/cli/fast-status.test.ts in CI).
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build)`);
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-cli-"));
  fake = await FakeDaemon.start(path.join(dir, "rmxd.sock"));
  status = statusResult("ready");
  fake
    .on("runtime.status", () => status)
    .on("daemon.hello", () => ({
      protocol: 1,
      product: "runtime-matrix",
      version: "9.9.9",
      node_id: "node-a",
      pid: 4242,
      started_at: GENERATED,
      socket: fake.socketPath,
      methods: [],
    }));
});

afterEach(async () => {
  for (const child of children) child.kill("SIGKILL");
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

describe("rmx runtime status", () => {
  it("prints the header, one line per runtime with its state word and budget, and the node line", async () => {
    const { code, out, err } = await rmx(["runtime", "status", "--socket", fake.socketPath]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toBe(statusHeader(status.summary, GENERATED, utc));
    expect(lines[0]).toContain("updated 12:00:05");
    expect(lines[0]).toContain("attention required");
    expect(lines[1]).toMatch(
      /^ {2}✓ alpha +ready +Ready - healthy +up 3m12s +3 of 3 restarts left, window 600s$/,
    );
    expect(lines[2]).toMatch(
      /^ {2}✗ beta-long-name +exhausted +Error - restart budget exhausted +0 of 3 restarts left, window 600s, resets 12:09:41$/,
    );
    // Columns line up: the state words start at the same offset.
    expect(lines[1]?.indexOf("ready")).toBe(lines[2]?.indexOf("exhausted"));
    expect(lines).toContain("  attention: beta-long-name restart budget exhausted");
    expect(lines[lines.length - 1]).toBe("Node node-a: Degraded - beta-long-name restart budget exhausted");
    expect(out).not.toContain(ESC);
  });

  it("--json prints the runtime.status result unchanged", async () => {
    const { code, out } = await rmx(["--json", "runtime", "status"], { RMX_SOCKET: fake.socketPath });
    expect(code).toBe(0);
    expect(out).toBe(`${JSON.stringify(status, null, 2)}\n`);
    expect(JSON.parse(out)).toEqual(status);
  });

  it("colours only a terminal, and never with NO_COLOR or --no-color", async () => {
    const script = spawnSync("script", ["--version"], { encoding: "utf8" });
    if (script.status !== 0) {
      console.warn("skipped: util-linux `script` (to get a terminal) is not installed");
      return;
    }
    const underTty = (extra: string[], env: NodeJS.ProcessEnv = {}) => {
      const command = [process.execPath, CLI, "runtime", "status", "--socket", fake.socketPath, ...extra]
        .map((word) => `'${word}'`)
        .join(" ");
      return new Promise<string>((resolve) => {
        const child = spawn("script", ["-qfec", command, "/dev/null"], { env: baseEnv(env), stdio: "pipe" });
        children.add(child);
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
        child.on("close", () => resolve(out));
      });
    };
    const coloured = await underTty([]);
    expect(coloured).toContain("alpha");
    expect(coloured).toContain(`${ESC}[32m`);
    expect(coloured).toContain(`${ESC}[32mready${ESC}[39m`);
    const noColorEnv = await underTty([], { NO_COLOR: "1" });
    expect(noColorEnv).toContain("alpha");
    expect(noColorEnv).not.toContain(ESC);
    const noColorFlag = await underTty(["--no-color"]);
    expect(noColorFlag).toContain("alpha");
    expect(noColorFlag).not.toContain(ESC);
  });

  it("--watch redraws on runtime events and exits 0 on Ctrl-C", async () => {
    status = statusResult("starting");
    const running = start(["runtime", "status", "--watch", "--socket", fake.socketPath]);
    await waitFor("the first frame", () => running.out().includes("starting"));
    await waitFor("the subscription", () => fake.subscriberCount === 1);
    expect(fake.calls.find((c) => c.method === "events.subscribe")?.params).toEqual({
      // Daemon problems (state or logs not written) are in the header, so they redraw it too.
      topics: ["runtime.*", "daemon.problems"],
    });
    status = statusResult("ready");
    fake.emit("runtime.state.changed", { id: "alpha", from: "starting", to: "ready" });
    await waitFor("a second frame", () => running.out().split("Runtimes (updated").length === 3);
    const frames = running.out().split("\n\n");
    expect(frames[0]).toMatch(/… alpha +starting/);
    expect(frames[1]).toMatch(/✓ alpha +ready/);
    expect(running.out()).not.toContain(ESC); // not a terminal: no screen clearing
    running.child.kill("SIGINT");
    expect((await running.exited).code).toBe(0);
  });

  it("exits 4 with how to start the daemon when nothing listens", async () => {
    const { code, err } = await rmx(["runtime", "status", "--socket", path.join(dir, "absent.sock")]);
    expect(code).toBe(4);
    expect(err).toContain("rmxd is not running");
    expect(err).toContain("systemctl --user start rmxd");
  });
});

describe("rmx runtime restore", () => {
  it("reports an accepted restore with the budget", async () => {
    fake.on("runtime.restore", (params) => ({
      id: (params as { id: string }).id,
      accepted: true,
      restarted: true,
      budget_reset: false,
      state: "starting",
      restart_budget: budget(1, RESET_AT),
    }));
    const { code, out } = await rmx(["runtime", "restore", "--id", "alpha", "--socket", fake.socketPath]);
    expect(code).toBe(0);
    expect(out).toBe("Restore accepted for alpha (2 of 3 restarts left, window 600s, resets 12:09:41)\n");
    expect(fake.callsOf("runtime.restore")).toEqual([{ id: "alpha", restart: true, reset_budget: false }]);
  });

  it("--wait reports ready, or failure with its detail and exit 1", async () => {
    let outcome: "ready" | "failed" = "ready";
    fake.on("runtime.restore", () => ({
      id: "alpha",
      accepted: true,
      restarted: false,
      budget_reset: true,
      state: outcome,
      restart_budget: budget(0),
      outcome,
      ...(outcome === "failed" ? { detail: "exit code 1 during start-up" } : {}),
    }));
    const args = [
      "runtime",
      "restore",
      "--id",
      "alpha",
      "--no-restart",
      "--reset-budget",
      "--wait",
      "--timeout",
      "5s",
    ];
    const ready = await rmx([...args, "--socket", fake.socketPath]);
    expect(ready.code).toBe(0);
    expect(ready.out).toBe(
      "Restore accepted for alpha (budget reset; not restarted; 3 of 3 restarts left, window 600s)\nalpha is ready\n",
    );
    expect(fake.callsOf("runtime.restore")[0]).toEqual({
      id: "alpha",
      restart: false,
      reset_budget: true,
      wait: true,
      timeout_ms: 5000,
    });
    outcome = "failed";
    const failed = await rmx([...args, "--socket", fake.socketPath]);
    expect(failed.code).toBe(1);
    expect(failed.err).toBe("alpha failed: exit code 1 during start-up\n");
  });

  it("a budget denial prints why and when it resets, exit 3", async () => {
    fake.on("runtime.restore", () => {
      throw BUDGET_DENIAL;
    });
    const { code, out, err } = await rmx([
      "runtime",
      "restore",
      "--id",
      "beta-long-name",
      "--socket",
      fake.socketPath,
    ]);
    expect(code).toBe(3);
    expect(out).toBe("");
    expect(err).toBe(
      "Restore denied for beta-long-name: Restart budget exhausted (3/3 used; resets at 12:09:41)\n",
    );
  });

  it("other daemon errors exit 1 with the message and the stable code", async () => {
    fake.on("runtime.restore", () => {
      throw new FakeRefusal({
        code: -32020,
        message: "no runtime gamma",
        data: { code: "RUNTIME_NOT_FOUND" },
      });
    });
    const { code, err } = await rmx(["runtime", "restore", "--id", "gamma", "--socket", fake.socketPath]);
    expect(code).toBe(1);
    expect(err).toBe("rmx: no runtime gamma [RUNTIME_NOT_FOUND]\n");
  });

  it("usage errors exit 2 and name the flag", async () => {
    const missing = await rmx(["runtime", "restore", "--socket", fake.socketPath]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("missing required flag --id");
    expect(missing.err).toContain("usage: rmx runtime restore --id RT");
    const unknown = await rmx([
      "runtime",
      "restore",
      "--id",
      "a",
      "--restart-now",
      "--socket",
      fake.socketPath,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown flag --restart-now");
    expect(fake.calls).toEqual([]);
  });
});

describe("rmx runtime start|stop", () => {
  it("start --wait reports ready; a denial on start exits 3", async () => {
    fake.on("runtime.start", () => ({ id: "alpha", state: "ready", outcome: "ready" }));
    const ok = await rmx(["runtime", "start", "--id", "alpha", "--wait", "--socket", fake.socketPath]);
    expect(ok.code).toBe(0);
    expect(ok.out).toBe("Start requested for alpha (state ready)\nalpha is ready\n");
    expect(fake.callsOf("runtime.start")).toEqual([{ id: "alpha", wait: true, timeout_ms: 60_000 }]);
    fake.on("runtime.start", () => {
      throw BUDGET_DENIAL;
    });
    const denied = await rmx(["runtime", "start", "--id", "beta-long-name", "--socket", fake.socketPath]);
    expect(denied.code).toBe(3);
    expect(denied.err).toContain("[BUDGET_EXHAUSTED]");
  });

  it("stop without --wait reports the state it is in", async () => {
    fake.on("runtime.stop", () => ({ id: "alpha", state: "stopping" }));
    const { code, out } = await rmx(["runtime", "stop", "--id", "alpha", "--socket", fake.socketPath]);
    expect(code).toBe(0);
    expect(out).toBe("Stop requested for alpha (state stopping)\n");
    expect(fake.callsOf("runtime.stop")).toEqual([{ id: "alpha" }]);
  });
});

describe("rmx runtime logs", () => {
  it("prints the last lines, then followed lines (even one right behind the answer) until Ctrl-C", async () => {
    fake.on("runtime.logs", (params, conn) => {
      const { id, follow } = params as { id: string; follow?: boolean };
      if (follow) conn.notifyAfterReply("logs.line", { subscription: "logs-1", id, line: "early line" });
      return {
        id,
        file: "/x.log",
        lines: ["line 1", "line 2"],
        ...(follow ? { subscription: "logs-1" } : {}),
      };
    });
    const once = await rmx(["runtime", "logs", "--id", "alpha", "-n", "2", "--socket", fake.socketPath]);
    expect(once.code).toBe(0);
    expect(once.out).toBe("line 1\nline 2\n");
    expect(fake.callsOf("runtime.logs")[0]).toEqual({ id: "alpha", lines: 2 });

    const running = start(["runtime", "logs", "--id", "alpha", "--follow", "--socket", fake.socketPath]);
    await waitFor("the early line", () => running.out().includes("early line"));
    fake.logLine("alpha", "later line");
    await waitFor("the later line", () => running.out().includes("later line"));
    expect(running.out()).toBe("line 1\nline 2\nearly line\nlater line\n");
    expect(fake.callsOf("runtime.logs")[1]).toEqual({ id: "alpha", lines: 50, follow: true });
    running.child.kill("SIGINT");
    expect((await running.exited).code).toBe(0);
  });

  it("-n must be a whole number", async () => {
    const { code, err } = await rmx([
      "runtime",
      "logs",
      "--id",
      "a",
      "-n",
      "many",
      "--socket",
      fake.socketPath,
    ]);
    expect(code).toBe(2);
    expect(err).toContain('-n/--lines: expected a whole number, got "many"');
  });
});

describe("rmx events", () => {
  it("prints one line per event: local time, topic, payload summary", async () => {
    const running = start(["events", "--topic", "runtime.*", "--socket", fake.socketPath]);
    await waitFor("the subscription", () => fake.subscriberCount === 1);
    expect(fake.callsOf("events.subscribe")).toEqual([{ topics: ["runtime.*"] }]);
    fake.emit("runtime.state.changed", { id: "alpha", from: "starting", to: "ready" }, RESET_AT);
    fake.emit("hardware.sample", { cpu: 1 });
    fake.emit("runtime.exited", { id: "alpha", code: 1, reason: "exit code 1" }, RESET_AT);
    await waitFor("two lines", () => running.out().split("\n").length === 3);
    expect(running.out()).toBe(
      "12:09:41  runtime.state.changed  id=alpha from=starting to=ready\n" +
        '12:09:41  runtime.exited  id=alpha code=1 reason="exit code 1"\n',
    );
    running.child.kill("SIGINT");
    expect((await running.exited).code).toBe(0);
  });

  it("--json prints one JSON object per line; the daemon going away ends it with 1", async () => {
    const running = start(["events", "--json", "--socket", fake.socketPath]);
    await waitFor("the subscription", () => fake.subscriberCount === 1);
    expect(fake.callsOf("events.subscribe")).toEqual([{ topics: ["*"] }]);
    fake.emit("lease.acquired", { lease: "l1", cell: "m@cpu/none" }, RESET_AT);
    await waitFor("a line", () => running.out().includes("\n"));
    expect(JSON.parse(running.out().trim())).toEqual({
      topic: "lease.acquired",
      seq: 1,
      time: RESET_AT,
      payload: { lease: "l1", cell: "m@cpu/none" },
    });
    await fake.close();
    const { code } = await running.exited;
    expect(code).toBe(1);
    expect(running.err()).toContain("rmxd closed the connection");
    fake = await FakeDaemon.start(path.join(dir, "again.sock")); // for afterEach
  });
});

describe("rmx version", () => {
  it("prints the CLI's version and the daemon's when it runs", async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    const running = await rmx(["version", "--socket", fake.socketPath]);
    expect(running.code).toBe(0);
    expect(running.out).toBe(
      `rmx ${pkg.version}\nrmxd 9.9.9 (protocol 1, pid 4242, socket ${fake.socketPath})\n`,
    );
    const alone = await rmx(["version", "--socket", path.join(dir, "absent.sock")]);
    expect(alone.code).toBe(0);
    expect(alone.out).toContain("rmxd: not running");
  });
});

describe("rmx service (wiring; the files themselves are tested in test/packaging)", () => {
  it("installs into --target-dir, refuses a foreign file, and --force overwrites it", async () => {
    const target = path.join(dir, "units");
    const installed = await rmx(["service", "install", "--target-dir", target]);
    expect(installed.code).toBe(0);
    const unit = path.join(target, "rmxd.service");
    expect(installed.out).toBe(
      `Wrote ${unit}\nNext: systemctl --user daemon-reload && systemctl --user enable --now rmxd\n`,
    );
    expect(await readFile(unit, "utf8")).toContain("Type=notify");
    await writeFile(unit, "[Service]\nExecStart=/bin/true\n");
    const refused = await rmx(["service", "install", "--target-dir", target]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("--force");
    expect(await readFile(unit, "utf8")).toBe("[Service]\nExecStart=/bin/true\n");
    const forced = await rmx(["service", "install", "--force", "--target-dir", target]);
    expect(forced.code).toBe(0);
    expect(await readFile(unit, "utf8")).toContain("generated by rmx service install");
    const state = await rmx(["service", "status", "--target-dir", target]);
    expect(state.out).toContain(`installed at ${unit}, written by rmx service install`);
    const removed = await rmx(["service", "uninstall", "--target-dir", target]);
    expect(removed.out).toContain(`Removed ${unit}`);
    expect(existsSync(unit)).toBe(false);
    const both = await rmx(["service", "install", "--user", "--system", "--target-dir", target]);
    expect(both.code).toBe(2);
    expect(both.err).toContain("--user and --system exclude each other");
  });
});

describe("start-up stays light", () => {
  const HEAVY = ["pino", "pino-pretty", "zod", "yaml", "systeminformation", "execa", "croner", "pidusage"];
  let tracer: string;
  let trace: string;

  beforeAll(async () => {
    // A module.register hook records the URL of every module loaded. The hooks run on a loader thread
    // that writes each URL straight to a file, so nothing is lost at exit and no timing is involved.
    tracer = await mkdtemp(path.join(os.tmpdir(), "rmx-trace-"));
    await writeFile(
      path.join(tracer, "hooks.mjs"),
      'import { appendFileSync } from "node:fs";\n' +
        "export async function load(url, context, next) {\n" +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: this is JavaScript source for the hook file
        "  appendFileSync(process.env.RMX_TRACE_FILE, `${url}\\n`);\n" +
        "  return next(url, context);\n" +
        "}\n",
    );
    await writeFile(
      path.join(tracer, "register.mjs"),
      'import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n',
    );
  });

  afterAll(async () => {
    await rm(tracer, { recursive: true, force: true });
  });

  async function loadedBy(args: string[]): Promise<string[]> {
    trace = path.join(tracer, `trace-${Date.now()}-${Math.random()}.txt`);
    await writeFile(trace, "");
    const result = await rmx(args, { RMX_TRACE_FILE: trace }, [
      "--import",
      path.join(tracer, "register.mjs"),
    ]);
    expect(result.err).toBe("");
    return (await readFile(trace, "utf8")).split("\n").filter(Boolean);
  }

  const heavyIn = (urls: string[]) =>
    HEAVY.filter((name) => urls.some((url) => url.includes(`/node_modules/${name}/`)));

  it("runtime status and --help load none of the daemon's heavy dependencies", async () => {
    const status = await loadedBy(["runtime", "status", "--socket", fake.socketPath]);
    expect(status.some((url) => url.endsWith("/dist/ipc/cli/main.js"))).toBe(true);
    expect(status.some((url) => url.endsWith("/dist/ipc/cli/commands/runtime-status.js"))).toBe(true);
    expect(status.some((url) => url.endsWith("/dist/ipc/client.js"))).toBe(true);
    expect(heavyIn(status)).toEqual([]);
    // Only the command that runs is loaded.
    expect(
      status.some((url) => url.includes("/commands/service.js") || url.includes("/commands/config.js")),
    ).toBe(false);
    const help = await loadedBy(["--help"]);
    expect(heavyIn(help)).toEqual([]);
    expect(help.some((url) => url.endsWith("/dist/ipc/client.js"))).toBe(false);
  });

  it("the tracer does see a heavy dependency when a command needs one (config schema loads zod)", async () => {
    const schema = await loadedBy(["config", "schema"]);
    expect(heavyIn(schema)).toContain("zod");
  });
});
