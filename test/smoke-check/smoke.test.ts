/**
 * Runs the built smoke (.build/test/smoke/runtime-smoke.js, `npm run build:smoke`) as a user would, in stub mode and in MODE=real
 * against a stand-in llama-server (a wrapper that records its arguments and execs the stub), and checks that
 * nothing it started outlives it: every process is found by a marker in its environment, which rmxd and
 * the backends inherit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { writeTinyGguf } from "../support/gguf-writer.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const SMOKE = path.join(REPO, ".build/test/smoke/runtime-smoke.js");
const STUB = path.join(REPO, "dist/adapters/llama-stub/main.js");
const SMOKE_TIMEOUT_MS = 120_000;
const STEPS = [
  "daemon-start",
  "runtime-ready",
  "status-json",
  "launch-args",
  "chat",
  "kill-backend",
  "restore-cli",
  "budget-exhausted",
  "shutdown",
];

interface SmokeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let marker: string;
const running = new Set<ChildProcess>();

beforeAll(() => {
  if (!existsSync(SMOKE) || !existsSync(STUB)) {
    throw new Error(`${SMOKE} is missing: build first (npm run build && npm run build:smoke)`);
  }
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-smoke-check-"));
  marker = randomUUID();
});

afterEach(async () => {
  for (const child of running) child.kill("SIGKILL");
  // Whatever a failed test left behind (found by its marker) must not outlive it.
  for (const pid of markedProcesses(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  await rm(dir, { recursive: true, force: true });
});

/** Live (non-zombie) processes whose environment carries SMOKE_CHECK_MARKER=<marker>. */
function markedProcesses(value: string): number[] {
  const needle = `SMOKE_CHECK_MARKER=${value}`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8");
      if (!environ.split("\0").includes(needle)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z") found.push(Number(entry));
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return found;
}

/** Runs the smoke; `onLine` sees each stdout line as it arrives (to interrupt mid-run). */
function runSmoke(
  env: Record<string, string>,
  onLine?: (line: string, child: ChildProcess) => void,
): Promise<SmokeRun> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, SMOKE_CHECK_MARKER: marker, ...env };
    for (const name of [
      "MODE",
      "LLAMA_SERVER_BIN",
      "LLAMA_MODEL_PATH",
      "LLAMA_SERVER_ARGS",
      "LLAMA_SERVER_PORT",
    ]) {
      if (!(name in env)) delete childEnv[name];
    }
    const child = spawn(process.execPath, [SMOKE], {
      cwd: dir,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    let stdout = "";
    let stderr = "";
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine?.(line, child);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function expectAllPassed(run: SmokeRun, mode: string): void {
  const context = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  expect(run.code, context).toBe(0);
  for (const step of STEPS) expect(run.stdout, context).toMatch(new RegExp(`^PASS ${step}\\b`, "m"));
  expect(run.stdout).not.toMatch(/^(FAIL|SKIP) /m);
  expect(run.stdout).toMatch(
    new RegExp(`^runtime-smoke \\(${mode}\\): OK: ${STEPS.length} passed, 0 failed, 0 skipped$`, "m"),
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("runtime-smoke", () => {
  it(
    "MODE=stub passes every step and leaves no process behind",
    async () => {
      const run = await runSmoke({});
      expectAllPassed(run, "stub");
      // Before the policy feature, the chat goes straight to the runtime and the output says so.
      if (!/^PASS chat \(chat\.respond through the supervisor/m.test(run.stdout)) {
        expect(run.stdout).toMatch(
          /^NOTE chat: rmxd answered -32601 .*sending the chat straight to http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions$/m,
        );
      }
      expect(run.stdout).toMatch(
        /^PASS kill-backend \(pid \d+ SIGKILLed, restored as pid \d+ .*remaining 3 -> 2\)$/m,
      );
      expect(run.stdout).toMatch(/Restore accepted for smoke-stub \(1 of 3 restarts left, window 600s/);
      expect(run.stdout).toMatch(
        /exit 3, "Restore denied for smoke-stub: Restart budget exhausted \(3\/3 used/,
      );
      expect(markedProcesses(marker)).toEqual([]);
    },
    SMOKE_TIMEOUT_MS,
  );

  it(
    "MODE=real drives a llama-server through the llama.cpp adapter: -m, --host, --port, --metrics, then the extra args",
    async () => {
      const model = path.join(dir, "models dir", "tiny.gguf");
      await import("node:fs/promises").then((fs) => fs.mkdir(path.dirname(model)));
      await writeTinyGguf(model);
      const argsFile = path.join(dir, "llama-server.args");
      const wrapper = path.join(dir, "llama-server");
      // A stand-in for the real binary: records its argv, one per line, then becomes the stub (exec keeps the
      // pid, so the smoke's SIGKILL hits the server itself, as it would hit a real llama-server).
      await writeFile(
        wrapper,
        `#!/bin/sh\nprintf '%s\\n' "$@" >> ${JSON.stringify(argsFile)}\nprintf -- '--\\n' >> ${JSON.stringify(argsFile)}\n` +
          `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(STUB)} "$@"\n`,
      );
      await chmod(wrapper, 0o755);
      const port = await freePort();
      const run = await runSmoke({
        MODE: "real",
        LLAMA_SERVER_BIN: wrapper,
        LLAMA_MODEL_PATH: model,
        LLAMA_SERVER_ARGS: `--alias 'smoke alias' -t 2 --stub-tokens-per-second 500`,
        LLAMA_SERVER_PORT: String(port),
      });
      expectAllPassed(run, "real");
      expect(run.stdout).toContain(`llama-server: ${wrapper}`);
      expect(run.stdout).toMatch(/GET \/props model_path matches/);

      // One launch per start: the first, the restart after the kill, and one per accepted restore (3 in all).
      const launches = (await readFile(argsFile, "utf8")).split("--\n").filter((chunk) => chunk !== "");
      expect(launches).toHaveLength(4);
      for (const launch of launches) {
        expect(launch.trimEnd().split("\n")).toEqual([
          "-m",
          model,
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "--metrics",
          // The context the estimate assumed: the model's training context (4096 here), capped at 4096.
          "-c",
          "4096",
          "-ngl",
          "0",
          "--alias",
          "smoke alias",
          "-t",
          "2",
          "--stub-tokens-per-second",
          "500",
        ]);
      }
      expect(markedProcesses(marker)).toEqual([]);
    },
    SMOKE_TIMEOUT_MS,
  );

  it("MODE=real without LLAMA_MODEL_PATH, or with one that is not a file, says so and exits 2 having started nothing", async () => {
    const missing = await runSmoke({ MODE: "real" });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^runtime-smoke: MODE=real needs LLAMA_MODEL_PATH: the path of a GGUF model file/,
    );
    expect(missing.stdout).not.toMatch(/^PASS/m);

    const notAFile = await runSmoke({ MODE: "real", LLAMA_MODEL_PATH: dir });
    expect(notAFile.code).toBe(2);
    expect(notAFile.stderr).toContain(`LLAMA_MODEL_PATH=${dir}: not a file`);

    const nowhere = await runSmoke({ MODE: "real", LLAMA_MODEL_PATH: path.join(dir, "nope.gguf") });
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain("nope.gguf: no such file");

    const badMode = await runSmoke({ MODE: "fake" });
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain("MODE=fake: expected stub or real");
    expect(markedProcesses(marker)).toEqual([]);
  });

  it(
    "a backend that never comes up: FAIL with the reason and its log, dependent steps skipped, exit 1, nothing left",
    async () => {
      const model = path.join(dir, "tiny.gguf");
      await writeTinyGguf(model);
      const wrapper = path.join(dir, "llama-server");
      await writeFile(
        wrapper,
        "#!/bin/sh\necho 'llama-server: error: this build cannot run here' >&2\nexit 1\n",
      );
      await chmod(wrapper, 0o755);
      const run = await runSmoke({ MODE: "real", LLAMA_SERVER_BIN: wrapper, LLAMA_MODEL_PATH: model });
      const context = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
      expect(run.code, context).toBe(1);
      expect(run.stdout).toMatch(/^PASS daemon-start\b/m);
      expect(run.stdout).toMatch(
        /^FAIL runtime-ready: smoke-llama became (exhausted|failed) \(.*exit code 1/m,
      );
      expect(run.stdout).toContain("llama-server: error: this build cannot run here");
      for (const step of [
        "status-json",
        "launch-args",
        "chat",
        "kill-backend",
        "restore-cli",
        "budget-exhausted",
      ]) {
        expect(run.stdout).toMatch(new RegExp(`^SKIP ${step}: needs runtime-ready, which failed$`, "m"));
      }
      expect(run.stdout).toMatch(/^PASS shutdown\b/m);
      expect(run.stdout).toMatch(/^runtime-smoke \(real\): FAILED: 2 passed, 1 failed, 6 skipped$/m);
      const kept = /^kept (\S+) for a look/m.exec(run.stdout)?.[1];
      expect(kept && existsSync(path.join(kept, "rmxd.log"))).toBeTruthy();
      await rm(kept as string, { recursive: true, force: true });
      expect(markedProcesses(marker)).toEqual([]);
    },
    SMOKE_TIMEOUT_MS,
  );

  for (const after of ["daemon-start", "runtime-ready"]) {
    it(
      `Ctrl-C after PASS ${after} stops rmxd and its backends and exits 130`,
      async () => {
        let sent = false;
        let aliveAtInterrupt: number[] = [];
        const run = await runSmoke({}, (line, child) => {
          if (!sent && line.startsWith(`PASS ${after}`)) {
            sent = true;
            aliveAtInterrupt = markedProcesses(marker);
            child.kill("SIGINT");
          }
        });
        const context = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
        expect(sent, context).toBe(true);
        expect(run.code, context).toBe(130);
        expect(run.stdout).toMatch(/^INTERRUPTED by SIGINT: stopping rmxd and its backends$/m);
        expect(run.stdout).toMatch(/^stopped: rmxd stopped on SIGTERM; no process left \(rmxd pid \d+/m);
        // No step ran after the interruption, and nothing claimed a pass or failure for it.
        const afterInterrupt = run.stdout.slice(run.stdout.indexOf("INTERRUPTED"));
        expect(afterInterrupt).not.toMatch(/^(PASS|FAIL|SKIP) /m);
        const daemonPid = Number(/^PASS daemon-start \(rmxd \S+ pid (\d+)/m.exec(run.stdout)?.[1]);
        expect(daemonPid).toBeGreaterThan(0);
        // The marker scan does see what the smoke started (so the empty scan below means something).
        expect(aliveAtInterrupt).toContain(daemonPid);
        if (after === "runtime-ready") {
          const backendPid = Number(
            /^PASS runtime-ready \(smoke-stub ready, pid (\d+)/m.exec(run.stdout)?.[1],
          );
          expect(aliveAtInterrupt).toContain(backendPid);
        }
        expect(markedProcesses(marker)).toEqual([]);
        // The temp dir (config, state, socket) is removed too.
        const socket = /socket (\S+)\)/.exec(run.stdout)?.[1] ?? "";
        expect(existsSync(path.dirname(socket))).toBe(false);
      },
      SMOKE_TIMEOUT_MS,
    );
  }
});
