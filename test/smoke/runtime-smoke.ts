#!/usr/bin/env node
/**
 * `just runtime-smoke` / `npm run runtime-smoke`: proves on this machine that rmxd supervises a backend end
 * to end, through the same socket, CLI and adapter a user has. MODE=stub (default) runs the bundled llama
 * stub; MODE=real runs a real llama-server (LLAMA_SERVER_BIN, LLAMA_MODEL_PATH, LLAMA_SERVER_ARGS,
 * LLAMA_SERVER_PORT). See docs/smoke-and-services.md.
 *
 * Exit: 0 every step passed; 1 a step failed; 2 the environment is incomplete (nothing was started);
 * 130/143 interrupted by SIGINT/SIGTERM. Every process it started is gone when it exits.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RmxClient, RpcCallError } from "../../ipc/client.js";
import type { EventNotificationParams } from "../../ipc/protocol/jsonrpc.js";
import type { HelloResult, RuntimeStatusResult, RuntimeView } from "../../ipc/protocol/runtime.js";
import { EventLog } from "./event-log.js";
import { type DaemonProcess, ProcessTracker, waitUntilGone } from "./processes.js";
import { Report } from "./report.js";
import { RESTART_BUDGET, resolvePlan, type SmokePlan } from "./smoke-plan.js";
import { checkExhaustedStatus, checkReadyStatus } from "./status-checks.js";

// Built to .build/test/smoke/ (tsconfig.smoke.json), apart from the product in dist/, which it runs: the
// bundles package.json's bin entries name, which the service files run too.
const RMXD = fileURLToPath(new URL("../../../dist/bin/rmxd.cjs", import.meta.url));
const RMX = fileURLToPath(new URL("../../../dist/bin/rmx.cjs", import.meta.url));

/** rmxd's own start-up (config, inventory, socket), before any model loads. */
const DAEMON_START_TIMEOUT_MS = 30_000;
const CLI_TIMEOUT_MS = 60_000;
const JSON_RPC_METHOD_NOT_FOUND = -32601;
const JSON_RPC_INVALID_PARAMS = -32602;
const CHAT_PROMPT = "Reply with one short greeting.";

class StepFailure extends Error {}

/** A failed expectation inside a step: its message is the step's FAIL line. */
function expect(condition: unknown, why: string): asserts condition {
  if (!condition) throw new StepFailure(why);
}

type StepFn = () => Promise<string | undefined>;

interface StateChange {
  id: string;
  from: string;
  to: string;
  reason?: string;
  pid?: number;
}

function payload<T>(e: EventNotificationParams): T {
  return e.payload as T;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

class SmokeRun {
  readonly report = new Report();
  private readonly tracker = new ProcessTracker(RMXD, RMX);
  private readonly events = new EventLog();
  private readonly socket: string;
  private readonly configPath: string;
  private readonly logPath: string;
  private readonly env: NodeJS.ProcessEnv;
  private daemon: DaemonProcess | undefined;
  private client: RmxClient | undefined;
  /** A critical step failed: the steps that need it are skipped. */
  private blocked: string | undefined;
  private finishing: Promise<void> | undefined;
  private interruptedBy: NodeJS.Signals | undefined;

  constructor(
    readonly plan: SmokePlan,
    readonly dir: string,
  ) {
    // Windows has named pipes where Unix has socket files.
    this.socket =
      process.platform === "win32" ? `\\\\.\\pipe\\${path.basename(dir)}` : path.join(dir, "rmxd.sock");
    this.configPath = path.join(dir, "rmx.yaml");
    this.logPath = path.join(dir, "rmxd.log");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RMX_SOCKET: this.socket,
      RMX_STATE_DIR: path.join(dir, "state"),
      RMX_LOG_LEVEL: process.env.RMX_LOG_LEVEL ?? "info",
      // Only this run's config: never the user's ~/.config/runtime-matrix/rmx.yaml.
      XDG_CONFIG_HOME: path.join(dir, "xdg-config"),
    };
    // Not the smoke's business: a service manager's notify socket, another config, an empty binary override.
    for (const name of ["RMX_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) delete env[name];
    if (env.LLAMA_SERVER_BIN?.trim() === "") delete env.LLAMA_SERVER_BIN;
    this.env = env;
  }

  get id(): string {
    return this.plan.runtimeId;
  }

  // ─── Steps ──────────────────────────────────────────────────────────────────

  async run(): Promise<void> {
    await this.step("daemon-start", () => this.daemonStart(), { critical: true });
    await this.step("runtime-ready", () => this.runtimeReady(), { critical: true });
    await this.step("status-json", () => this.statusJson());
    await this.step("launch-args", () => this.launchArgs());
    await this.step("chat", () => this.chat());
    await this.step("kill-backend", () => this.killBackend(), { critical: true });
    await this.step("restore-cli", () => this.restoreCli(), { critical: true });
    await this.step("budget-exhausted", () => this.budgetExhausted());
  }

  private async step(name: string, fn: StepFn, opts: { critical?: boolean } = {}): Promise<void> {
    if (this.interruptedBy !== undefined) return;
    if (this.blocked !== undefined) {
      this.report.skip(name, `needs ${this.blocked}, which failed`);
      return;
    }
    try {
      const detail = await fn();
      this.report.pass(name, detail);
    } catch (error) {
      const why =
        error instanceof StepFailure || error instanceof RpcCallError ? error.message : String(error);
      this.report.fail(name, why);
      if (opts.critical) this.blocked = name;
    }
  }

  private async daemonStart(): Promise<string> {
    const config = {
      // JSON is YAML: paths and arguments are quoted correctly whatever they contain.
      log_level: "info",
      runtimes: [this.plan.runtime],
    };
    await writeFile(this.configPath, `${JSON.stringify(config, null, 2)}\n`);
    const daemon = this.tracker.startDaemon({
      configPath: this.configPath,
      env: this.env,
      logPath: this.logPath,
    });
    this.daemon = daemon;
    let hello: HelloResult;
    try {
      hello = await this.tracker.waitForSocket(daemon, this.socket, DAEMON_START_TIMEOUT_MS);
    } catch (error) {
      throw new StepFailure(`${(error as Error).message}\n${await this.daemonLogTail()}`);
    }
    expect(hello.pid === daemon.pid, `daemon.hello answered pid ${hello.pid}, started ${daemon.pid}`);
    const client = await RmxClient.connect({ socketPath: this.socket });
    this.client = client;
    client.onClose((error) => this.events.close(error ?? new Error("connection to rmxd closed")));
    await client.subscribe(
      ["runtime.*"],
      (e) => {
        const pid = (e.payload as { pid?: unknown } | null)?.pid;
        if (typeof pid === "number") this.tracker.backendPids.add(pid);
        this.events.push(e);
      },
      (lagged) => this.report.note(`missed ${lagged.dropped} events (subscriber queue overflowed)`),
    );
    return `rmxd ${hello.version} pid ${daemon.pid}, protocol ${hello.protocol}, socket ${this.socket}`;
  }

  private async status(): Promise<RuntimeStatusResult> {
    const client = this.client;
    expect(client !== undefined, "no connection to rmxd");
    return client.call("runtime.status", undefined, { timeoutMs: 10_000 });
  }

  private async view(): Promise<RuntimeView> {
    const rt = (await this.status()).runtimes.find((r) => r.id === this.id);
    expect(rt !== undefined, `runtime.status has no runtime "${this.id}"`);
    if (rt.pid !== undefined) this.tracker.backendPids.add(rt.pid);
    return rt;
  }

  /** Waits (on the event stream, from `mark`) until the runtime settles; fails unless it settles ready. */
  private async settledReady(mark: number, what: string, notPid?: number): Promise<RuntimeView> {
    const settled = await this.events
      .waitFor(
        (e) => {
          if (e.topic !== "runtime.state.changed") return false;
          const p = payload<StateChange>(e);
          return p.id === this.id && ["ready", "failed", "exhausted", "stopped"].includes(p.to);
        },
        { from: mark, timeoutMs: this.plan.startTimeoutMs + 10_000, what: `${this.id} ready (${what})` },
      )
      .catch(async (error: Error) => {
        throw new StepFailure(`${error.message}${await this.describeRuntime()}`);
      });
    const change = payload<StateChange>(settled);
    if (change.to !== "ready") {
      throw new StepFailure(
        `${this.id} became ${change.to} (${change.reason ?? "no reason"})${await this.describeRuntime()}`,
      );
    }
    const rt = await this.view();
    expect(rt.pid !== undefined, `${this.id} is ready without a pid`);
    if (notPid !== undefined) expect(rt.pid !== notPid, `${this.id} is ready with the old pid ${notPid}`);
    return rt;
  }

  private async runtimeReady(): Promise<string> {
    const started = Date.now();
    // Subscribed in daemon-start, before this status call: a change in between is in the log.
    const now = await this.view();
    // Settled already (a start-up exit can fail it before we subscribed): that is the answer, no event comes.
    if (now.state === "failed" || now.state === "exhausted" || now.state === "stopped") {
      throw new StepFailure(
        `${this.id} became ${now.state} (${now.reason ?? "no reason"})${await this.describeRuntime()}`,
      );
    }
    const rt = now.state === "ready" ? now : await this.settledReady(0, "first start");
    return `${this.id} ready, pid ${rt.pid}, ${rt.endpoint}, after ${seconds(Date.now() - started)}`;
  }

  private async statusJson(): Promise<string> {
    const run = await this.tracker.cli(["runtime", "status", "--json"], this.cliEnv(), CLI_TIMEOUT_MS);
    expect(run.code === 0, `rmx runtime status --json exited ${run.code}: ${run.stderr.trim()}`);
    let result: unknown;
    try {
      result = JSON.parse(run.stdout);
    } catch {
      throw new StepFailure(
        `rmx runtime status --json printed something that is not JSON: ${run.stdout.slice(0, 200)}`,
      );
    }
    const problems = checkReadyStatus(result, {
      id: this.id,
      adapter: this.plan.runtime.adapter as string,
      maxRestarts: RESTART_BUDGET.max_restarts,
      windowSeconds: RESTART_BUDGET.window_seconds,
      used: 0,
      ...(this.plan.expect.port === undefined ? {} : { port: this.plan.expect.port }),
      ...(this.plan.expect.modelPath === undefined ? {} : { model: this.plan.expect.modelPath }),
    });
    expect(
      problems.length === 0,
      `${problems.length} problem(s) in rmx runtime status --json:\n${problems.join("\n")}`,
    );
    const text = await this.tracker.cli(["runtime", "status"], this.cliEnv(), CLI_TIMEOUT_MS);
    expect(text.code === 0, `rmx runtime status exited ${text.code}: ${text.stderr.trim()}`);
    expect(
      text.stdout.includes(this.id) && /\bready\b/.test(text.stdout),
      `rmx runtime status does not show ${this.id} ready:\n${text.stdout}`,
    );
    const rt = (result as RuntimeStatusResult).runtimes[0] as RuntimeView;
    return `status "${rt.status.label}", aria "${rt.status.aria_hint}", ${rt.restart_budget.remaining} of ${rt.restart_budget.max_restarts} restarts left`;
  }

  /** The backend got llama-server's flags from the adapter: -m, --host, --port, --metrics, then the user's args. */
  private async launchArgs(): Promise<string> {
    const rt = await this.view();
    const endpoint = rt.endpoint as string;
    const checked: string[] = [];
    const cmdlinePath = `/proc/${rt.pid}/cmdline`;
    if (existsSync(cmdlinePath)) {
      const argv = (await readFile(cmdlinePath, "utf8")).split("\0");
      if (argv.at(-1) === "") argv.pop();
      const flagValue = (flag: string) => {
        const i = argv.indexOf(flag);
        return i < 0 ? undefined : argv[i + 1];
      };
      const shown = argv.join(" ");
      expect(
        flagValue("--host") === "127.0.0.1",
        `--host 127.0.0.1 missing from the backend's command line: ${shown}`,
      );
      expect(
        flagValue("--port") === String(rt.port),
        `--port ${rt.port} missing from the backend's command line: ${shown}`,
      );
      expect(argv.includes("--metrics"), `--metrics missing from the backend's command line: ${shown}`);
      if (this.plan.expect.modelPath !== undefined) {
        expect(
          flagValue("-m") === this.plan.expect.modelPath,
          `-m ${this.plan.expect.modelPath} missing: ${shown}`,
        );
      }
      const extra = this.plan.expect.extraArgs;
      const tail = argv.slice(argv.length - extra.length);
      expect(
        extra.every((arg, i) => tail[i] === arg),
        `the extra args ${JSON.stringify(extra)} are not last on the backend's command line: ${shown}`,
      );
      checked.push(`command line: ${argv.slice(1).join(" ")}`);
    } else {
      this.report.note(`launch-args: no ${cmdlinePath} on this platform; checked over HTTP only`);
    }
    if (this.plan.expect.port !== undefined) {
      expect(
        rt.port === this.plan.expect.port,
        `port ${rt.port}, LLAMA_SERVER_PORT says ${this.plan.expect.port}`,
      );
    }
    const metrics = await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const metricsText = await metrics.text();
    expect(
      metrics.status === 200,
      `GET ${endpoint}/metrics answered ${metrics.status} (was --metrics passed?)`,
    );
    expect(metricsText.includes("llamacpp:"), `GET ${endpoint}/metrics has no llamacpp: metrics`);
    checked.push("GET /metrics 200");
    if (this.plan.expect.modelPath !== undefined) {
      const props = (await (
        await fetch(`${endpoint}/props`, { signal: AbortSignal.timeout(10_000) })
      ).json()) as {
        model_path?: unknown;
      };
      if (typeof props.model_path === "string") {
        expect(
          props.model_path === this.plan.expect.modelPath,
          `GET /props model_path is ${props.model_path}`,
        );
        checked.push("GET /props model_path matches");
      } else {
        this.report.note(
          "launch-args: this llama-server's /props has no model_path; the model was checked on the command line only",
        );
      }
    }
    return checked.join("; ");
  }

  private async chat(): Promise<string> {
    const client = this.client;
    expect(client !== undefined, "no connection to rmxd");
    const messages = [{ role: "user", content: CHAT_PROMPT }];
    const call = (params: Record<string, unknown>) =>
      client.call("chat.respond", params, { timeoutMs: this.plan.chatTimeoutMs });
    let result: unknown;
    try {
      try {
        result = await call({ messages, max_tokens: 16 });
      } catch (error) {
        // A daemon whose chat.respond does not take max_tokens says so precisely: ask without it.
        if (
          !(
            error instanceof RpcCallError &&
            error.code === JSON_RPC_INVALID_PARAMS &&
            /max_tokens/.test(error.message)
          )
        ) {
          throw error;
        }
        result = await call({ messages });
      }
    } catch (error) {
      if (error instanceof RpcCallError && error.code === JSON_RPC_METHOD_NOT_FOUND)
        return this.chatDirect(messages);
      throw error;
    }
    const text = completionText(result);
    expect(
      text !== undefined && text.trim() !== "",
      `chat.respond answered without completion text: ${JSON.stringify(result).slice(0, 300)}`,
    );
    const cell = servedBy(result);
    return `chat.respond through the supervisor${cell ? `, served by ${cell}` : ""}: ${JSON.stringify(text.slice(0, 60))}`;
  }

  /** Before the policy feature serves chat.respond: the runtime's own endpoint, and the output says so. */
  private async chatDirect(messages: { role: string; content: string }[]): Promise<string> {
    const rt = await this.view();
    const url = `${rt.endpoint}/v1/chat/completions`;
    this.report.note(
      `chat: rmxd answered -32601 (chat.respond not served yet); sending the chat straight to ${url}`,
    );
    const answer = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages, max_tokens: 16 }),
      signal: AbortSignal.timeout(this.plan.chatTimeoutMs),
    });
    const body = (await answer.json().catch(() => undefined)) as unknown;
    expect(
      answer.status === 200,
      `POST ${url} answered ${answer.status}: ${JSON.stringify(body)?.slice(0, 300)}`,
    );
    const text = completionText(body);
    expect(text !== undefined && text.trim() !== "", `POST ${url} answered without completion text`);
    return `direct POST ${url} (chat.respond not served): ${JSON.stringify(text.slice(0, 60))}`;
  }

  private async killBackend(): Promise<string> {
    const before = await this.view();
    expect(
      before.state === "ready" && before.pid !== undefined,
      `${this.id} is ${before.state}, not ready with a pid`,
    );
    const oldPid = before.pid;
    const mark = this.events.mark();
    const killedAt = Date.now();
    process.kill(oldPid, "SIGKILL");
    const restart = await this.events.waitFor(
      (e) => e.topic === "runtime.restart" && payload<{ id: string }>(e).id === this.id,
      {
        from: mark,
        timeoutMs: 30_000,
        what: `runtime.restart event for ${this.id} after SIGKILL of pid ${oldPid}`,
      },
    );
    const recorded = payload<{ automatic: boolean; restart_budget: { remaining: number } }>(restart);
    expect(recorded.automatic, "the restart after the kill was not recorded as automatic");
    const after = await this.settledReady(mark, `restart after SIGKILL of pid ${oldPid}`, oldPid);
    const remaining = before.restart_budget.remaining - 1;
    expect(
      recorded.restart_budget.remaining === remaining,
      `runtime.restart says ${recorded.restart_budget.remaining} left, expected ${remaining}`,
    );
    expect(
      after.restart_budget.remaining === remaining,
      `status says ${after.restart_budget.remaining} restarts left, expected ${remaining}`,
    );
    expect(
      after.last_exit?.signal === "SIGKILL",
      `last_exit is ${JSON.stringify(after.last_exit)}, expected signal SIGKILL`,
    );
    const survivors = await waitUntilGone([oldPid], 5000);
    expect(survivors.length === 0, `the killed pid ${oldPid} is still there`);
    return `pid ${oldPid} SIGKILLed, restored as pid ${after.pid} in ${seconds(Date.now() - killedAt)}, remaining ${before.restart_budget.remaining} -> ${remaining}`;
  }

  private cliEnv(): NodeJS.ProcessEnv {
    return { ...process.env, RMX_SOCKET: this.socket };
  }

  /** `rmx runtime restore --id`: accepted, prints the budget one lower, and the runtime comes back. */
  private async restoreOnce(expectedRemaining: number): Promise<{ line: string; pid: number }> {
    const before = await this.view();
    const mark = this.events.mark();
    const run = await this.tracker.cli(
      ["runtime", "restore", "--id", this.id],
      this.cliEnv(),
      CLI_TIMEOUT_MS,
    );
    expect(
      run.code === 0,
      `rmx runtime restore --id ${this.id} exited ${run.code}: ${run.stderr.trim() || run.stdout.trim()}`,
    );
    const line = run.stdout.trim();
    const match = /^Restore accepted for (\S+) \((\d+) of (\d+) restarts? left, window (\d+)s/.exec(line);
    expect(match !== null, `unexpected output of rmx runtime restore: ${JSON.stringify(line)}`);
    expect(match[1] === this.id, `restore output names ${match[1]}`);
    expect(
      Number(match[2]) === expectedRemaining,
      `restore printed ${match[2]} restarts left, expected ${expectedRemaining}: ${line}`,
    );
    expect(
      Number(match[3]) === RESTART_BUDGET.max_restarts,
      `restore printed a budget of ${match[3]}: ${line}`,
    );
    expect(
      Number(match[4]) === RESTART_BUDGET.window_seconds,
      `restore printed a window of ${match[4]}s: ${line}`,
    );
    const after = await this.settledReady(mark, "after rmx runtime restore", before.pid);
    expect(
      after.restart_budget.remaining === expectedRemaining,
      `status says ${after.restart_budget.remaining} left after the restore`,
    );
    return { line, pid: after.pid as number };
  }

  private async restoreCli(): Promise<string> {
    const before = await this.view();
    const { line, pid } = await this.restoreOnce(before.restart_budget.remaining - 1);
    return `${JSON.stringify(line)}, ready again as pid ${pid}`;
  }

  /** Restores until the budget denies one: the denial names the budget and the CLI exits 3. */
  private async budgetExhausted(): Promise<string> {
    const accepted: string[] = [];
    for (let attempt = 0; attempt <= RESTART_BUDGET.max_restarts; attempt++) {
      const before = await this.view();
      if (before.restart_budget.remaining > 0) {
        await this.restoreOnce(before.restart_budget.remaining - 1);
        accepted.push(`${before.restart_budget.remaining - 1} left`);
        continue;
      }
      const mark = this.events.mark();
      const run = await this.tracker.cli(
        ["runtime", "restore", "--id", this.id],
        this.cliEnv(),
        CLI_TIMEOUT_MS,
      );
      const denial = run.stderr.trim();
      expect(
        run.code === 3,
        `rmx runtime restore with no restarts left exited ${run.code}, expected 3: ${denial || run.stdout.trim()}`,
      );
      const used = `${RESTART_BUDGET.max_restarts}/${RESTART_BUDGET.max_restarts} used`;
      expect(
        denial.startsWith(`Restore denied for ${this.id}: Restart budget exhausted (${used}`),
        `unexpected denial text: ${JSON.stringify(denial)}`,
      );
      await this.events.waitFor(
        (e) => e.topic === "runtime.budget.denied" && payload<{ id: string }>(e).id === this.id,
        { from: mark, timeoutMs: 10_000, what: "runtime.budget.denied event" },
      );
      const problems = checkExhaustedStatus(await this.status(), this.id, RESTART_BUDGET.max_restarts);
      expect(problems.length === 0, `status after the denial:\n${problems.join("\n")}`);
      const extra = accepted.length > 0 ? `after ${accepted.length} more restore(s); ` : "";
      return `${extra}exit 3, ${JSON.stringify(denial)}; still serving`;
    }
    throw new StepFailure(`no denial after ${RESTART_BUDGET.max_restarts + 1} restores`);
  }

  // ─── The end: every process gone ────────────────────────────────────────────

  /** The last step (never skipped once rmxd started): SIGTERM stops rmxd and its backends cleanly. */
  private async shutdown(): Promise<void> {
    const daemon = this.daemon;
    if (daemon === undefined) return;
    await this.client?.close().catch(() => {});
    const graceMs = this.plan.mode === "real" ? 45_000 : 20_000;
    try {
      const exit = await daemon.stop(graceMs);
      expect(!exit.killed, `rmxd did not exit within ${seconds(graceMs)} of SIGTERM; killed it`);
      expect(
        exit.code === 0,
        `rmxd exited with ${exit.signal ?? `code ${exit.code}`} on SIGTERM\n${await this.daemonLogTail()}`,
      );
      const survivors = await waitUntilGone(this.tracker.backendPids, 5000);
      expect(
        survivors.length === 0,
        `backend pid(s) ${survivors.join(", ")} still running after rmxd stopped`,
      );
      if (process.platform !== "win32") {
        expect(!existsSync(this.socket), `rmxd left its socket ${this.socket} behind`);
      }
      const pids = [...this.tracker.backendPids].join(", ");
      this.report.pass("shutdown", `rmxd exited 0 on SIGTERM; backend pids ${pids} gone; socket removed`);
    } catch (error) {
      this.report.fail("shutdown", error instanceof Error ? error.message : String(error));
    }
  }

  /** Shutdown, then the safety net: anything still alive is killed and counts as a failure. Idempotent. */
  finish(): Promise<void> {
    this.finishing ??= (async () => {
      if (this.interruptedBy === undefined) await this.shutdown();
      const { daemon, leftovers } = await this.tracker.stopAll(this.plan.mode === "real" ? 45_000 : 20_000);
      if (this.interruptedBy !== undefined) {
        const gone = await waitUntilGone(
          [...this.tracker.backendPids, ...(this.daemon ? [this.daemon.pid] : [])],
          5000,
        );
        const how = daemon?.killed ? "rmxd needed SIGKILL" : "rmxd stopped on SIGTERM";
        this.report.say(
          gone.length === 0
            ? `stopped: ${how}; no process left (rmxd pid ${this.daemon?.pid ?? "-"}, backends ${[...this.tracker.backendPids].join(", ") || "-"})`
            : `still running after cleanup: ${gone.join(", ")}`,
        );
      } else if (leftovers.length > 0) {
        this.report.fail("cleanup", `had to SIGKILL leftover backend pid(s) ${leftovers.join(", ")}`);
      }
    })();
    return this.finishing;
  }

  /** Ctrl-C / SIGTERM: no more steps; stop rmxd (SIGTERM, then SIGKILL) and verify the backends are gone. */
  interrupt(signal: NodeJS.Signals): Promise<void> {
    if (this.interruptedBy === undefined) {
      this.interruptedBy = signal;
      this.report.silence();
      this.report.say(`INTERRUPTED by ${signal}: stopping rmxd and its backends`);
    }
    return this.finish();
  }

  /** A second Ctrl-C: SIGKILL now; the cleanup already under way notices and finishes its checks. */
  killNow(): void {
    this.tracker.killNow();
  }

  private async daemonLogTail(lines = 15): Promise<string> {
    const text = await readFile(this.logPath, "utf8").catch(() => "");
    const tail = text.trimEnd().split("\n").slice(-lines);
    return tail.length === 0 || tail[0] === ""
      ? "(rmxd printed nothing)"
      : `last rmxd log lines:\n${tail.join("\n")}`;
  }

  private async describeRuntime(): Promise<string> {
    try {
      const rt = await this.view();
      const logs = (rt.last_log_lines ?? []).slice(-8);
      return `\nstate ${rt.state}${rt.reason ? ` (${rt.reason})` : ""}${logs.length > 0 ? `\nbackend log:\n${logs.join("\n")}` : ""}`;
    } catch {
      return `\n${await this.daemonLogTail()}`;
    }
  }
}

/** The completion text in an OpenAI-style answer, or in whatever envelope chat.respond wraps it in. */
export function completionText(value: unknown, depth = 0): string | undefined {
  if (typeof value !== "object" || value === null || depth > 3) return undefined;
  const v = value as Record<string, unknown>;
  if (Array.isArray(v.choices)) {
    const first = v.choices[0] as { message?: { content?: unknown }; text?: unknown } | undefined;
    const content = first?.message?.content ?? first?.text;
    if (typeof content === "string") return content;
  }
  if (typeof v.content === "string") return v.content;
  for (const key of ["completion", "response", "result", "message"]) {
    const found = completionText(v[key], depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function servedBy(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  for (const key of ["cell", "served_by", "runtime"]) {
    const found = v[key];
    if (typeof found === "string") return found;
    if (typeof found === "object" && found !== null) {
      const inner = (found as Record<string, unknown>).key ?? (found as Record<string, unknown>).id;
      if (typeof inner === "string") return inner;
    }
  }
  return undefined;
}

function describePlan(plan: SmokePlan): string[] {
  if (plan.mode === "stub")
    return ["runtime-smoke: MODE=stub (the bundled llama stub; MODE=real for llama-server)"];
  return [
    "runtime-smoke: MODE=real",
    `  llama-server: ${plan.binary}`,
    `  model:        ${plan.expect.modelPath}`,
    `  extra args:   ${plan.expect.extraArgs.length > 0 ? plan.expect.extraArgs.join(" ") : "(none)"}`,
    `  port:         ${plan.expect.port ?? "allocated at each start"}`,
    `  start timeout ${plan.startTimeoutMs / 1000} s per model load`,
  ];
}

async function main(): Promise<number> {
  const planned = await resolvePlan(process.env, process.cwd());
  if (!planned.ok) {
    process.stderr.write(`runtime-smoke: ${planned.message}\n`);
    return 2;
  }
  const plan = planned.plan;
  for (const line of describePlan(plan)) process.stdout.write(`${line}\n`);
  const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-smoke-"));
  const smoke = new SmokeRun(plan, dir);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      // A second Ctrl-C: no more grace. The first handler's cleanup still verifies and exits.
      smoke.report.say(`second ${signal}: killing everything now`);
      smoke.killNow();
      return;
    }
    void smoke.interrupt(signal).then(async () => {
      await rm(dir, { recursive: true, force: true });
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    await smoke.run();
  } finally {
    await smoke.finish();
  }
  if (signals > 0) return new Promise<number>(() => {}); // the signal handler exits
  smoke.report.say(smoke.report.summary(`runtime-smoke (${plan.mode})`));
  if (smoke.report.ok) await rm(dir, { recursive: true, force: true });
  else
    smoke.report.say(`kept ${dir} for a look: rmxd.log (daemon), state/logs/ (backend), rmx.yaml (config)`);
  return smoke.report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `runtime-smoke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
