import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import type { SandboxSpec } from "../../base/spec.js";
import { spawnChild, stopProcessGroup } from "../../daemon/process/child.js";
import { RotatingLog } from "../../daemon/process/logs.js";
import type { SandboxDetection } from "../../daemon/sandbox/detect.js";
import { detectSandboxes } from "../../daemon/sandbox/detect.js";
import type { CommandPlan } from "../../daemon/sandbox/wrap.js";
import { SANDBOX_HOME, wrapCommand } from "../../daemon/sandbox/wrap.js";

const ctx = { runtimeId: "llama-1", stateDir: "/var/lib/rmx" };
const plan: CommandPlan = {
  command: "/opt/llama/llama-server",
  args: ["-m", "/models/a.gguf", "--port", "8080"],
  env: { LLAMA_ARG: "1" },
};
const available: SandboxDetection[] = [
  { kind: "none", available: true },
  { kind: "bwrap", available: true },
  { kind: "systemd-run", available: true },
];

function run(plan: CommandPlan): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(plan.command, plan.args, {
      env: { ...process.env, ...plan.env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(plan.cwd !== undefined ? { cwd: plan.cwd } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("detectSandboxes", () => {
  it("always offers none, and explains every unavailable kind", async () => {
    const found = await detectSandboxes({ timeoutMs: 10_000 });
    expect(found.map((d) => d.kind)).toEqual(["none", "bwrap", "systemd-run"]);
    expect(found[0]).toEqual({ kind: "none", available: true });
    for (const d of found) if (!d.available) expect(d.reason).toMatch(/\S/);
  });

  it("without systemd as PID 1, systemd-run is unavailable and says why", async () => {
    const marker = path.join(os.tmpdir(), "rmx-no-such-systemd-marker");
    const found = await detectSandboxes({ systemdMarker: marker });
    expect(found[2]).toEqual({
      kind: "systemd-run",
      available: false,
      reason: `PID 1 is not systemd (${marker} does not exist)`,
    });
  });

  it("without bwrap on PATH, bwrap is unavailable and says why", async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), "rmx-empty-path-"));
    try {
      const found = await detectSandboxes({ env: { PATH: empty } });
      expect(found[1]).toEqual({
        kind: "bwrap",
        available: false,
        reason: "bwrap not found on PATH (install bubblewrap)",
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("other platforms get a clear Linux-only reason", async () => {
    const found = await detectSandboxes({ platform: "darwin" });
    expect(found.slice(1)).toEqual([
      { kind: "bwrap", available: false, reason: "bwrap sandboxes are Linux-only (this is darwin)" },
      { kind: "systemd-run", available: false, reason: "systemd-run scopes are Linux-only (this is darwin)" },
    ]);
  });
});

describe("wrapCommand", () => {
  it("none leaves the plan unchanged", () => {
    expect(wrapCommand(plan, { kind: "none" }, ctx, [])).toEqual(plan);
  });

  it("an unavailable kind throws SANDBOX_UNAVAILABLE with the detection's reason", () => {
    const detections: SandboxDetection[] = [
      { kind: "none", available: true },
      {
        kind: "bwrap",
        available: false,
        reason: "bwrap trial run failed: setting up uid map: Permission denied",
      },
    ];
    for (const [kind, reason] of [
      ["bwrap", "bwrap trial run failed: setting up uid map: Permission denied"],
      ["systemd-run", "it was not detected on this machine"],
    ] as const) {
      try {
        wrapCommand(plan, { kind }, ctx, detections);
        expect.unreachable();
      } catch (err) {
        expect(isRmxError(err, "SANDBOX_UNAVAILABLE")).toBe(true);
        expect((err as Error).message).toBe(`sandbox ${kind} for runtime llama-1 is unavailable: ${reason}`);
      }
    }
  });

  it("systemd-run: a transient scope with the limits, --user when not root", () => {
    const spec: SandboxSpec = {
      kind: "systemd-run",
      memory_max_bytes: 8 * 1024 ** 3,
      cpu_quota_percent: 150,
    };
    const asUser = wrapCommand(plan, spec, { ...ctx, uid: 1000, unitSuffix: "abc123" }, available);
    expect(asUser).toEqual({
      command: "systemd-run",
      args: [
        "--user",
        "--scope",
        "--quiet",
        "--collect",
        "-p",
        "MemoryMax=8589934592",
        "-p",
        "CPUQuota=150%",
        "--unit",
        "rmx-llama-1-abc123",
        "--",
        "/opt/llama/llama-server",
        "-m",
        "/models/a.gguf",
        "--port",
        "8080",
      ],
      env: plan.env,
    });
    const asRoot = wrapCommand(
      plan,
      { kind: "systemd-run" },
      { ...ctx, runtimeId: "my model/1", uid: 0 },
      available,
    );
    expect(asRoot.args.slice(0, 5)).toEqual(["--scope", "--quiet", "--collect", "--unit", asRoot.args[4]]);
    expect(asRoot.args[4]).toMatch(/^rmx-my_model_1-[0-9a-f]{6}$/);
  });

  it("bwrap: read-only root, private /tmp, model bound read-only, loopback shared, GPU nodes bound", async () => {
    const dev = await mkdtemp(path.join(os.tmpdir(), "rmx-fake-dev-"));
    try {
      await writeFile(path.join(dev, "nvidia0"), "");
      await writeFile(path.join(dev, "nvidiactl"), "");
      await writeFile(path.join(dev, "null"), "");
      const wrapped = wrapCommand(
        { ...plan, cwd: "/srv/llama" },
        { kind: "bwrap", ro_binds: ["/opt/extra"] },
        { ...ctx, modelPath: "/models/a.gguf", devDir: dev },
        available,
      );
      expect(wrapped.command).toBe("bwrap");
      expect(wrapped.cwd).toBe("/srv/llama");
      const args = wrapped.args.join(" ");
      expect(args).toContain("--die-with-parent --unshare-pid");
      expect(args).not.toContain("--new-session");
      expect(args).toContain("--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp");
      expect(args).not.toContain("--unshare-net");
      expect(args).not.toContain("--unshare-all");
      expect(args).toContain(`--dev-bind-try ${path.join(dev, "nvidia0")} /dev/nvidia0`);
      expect(args).toContain(`--dev-bind-try ${path.join(dev, "nvidiactl")} /dev/nvidiactl`);
      expect(args).toContain(`--dev-bind-try ${path.join(dev, "dri")} /dev/dri`);
      expect(args).toContain(`--dev-bind-try ${path.join(dev, "kfd")} /dev/kfd`);
      expect(args).not.toContain("/dev/null");
      expect(args).toContain("--ro-bind /models/a.gguf /models/a.gguf");
      expect(args).toContain("--ro-bind /opt/extra /opt/extra");
      expect(args).toContain("--ro-bind /srv/llama /srv/llama --chdir /srv/llama");
      expect(args.endsWith("-- /opt/llama/llama-server -m /models/a.gguf --port 8080")).toBe(true);
      // The model bind must come after the tmpfs that would hide a model under /tmp.
      expect(wrapped.args.indexOf("/models/a.gguf")).toBeGreaterThan(wrapped.args.indexOf("--tmpfs"));
    } finally {
      await rm(dev, { recursive: true, force: true });
    }
  });
});

describe("bwrap for real", async () => {
  const detection = (await detectSandboxes({ timeoutMs: 10_000 })).find((d) => d.kind === "bwrap");
  const usable = detection?.available === true;
  let dir: string;
  let model: string;
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    if (!usable) return;
    dir = await mkdtemp(path.join(os.tmpdir(), "rmx-bwrap-"));
    model = path.join(dir, "model.gguf");
    await writeFile(model, "GGUF-ish bytes\n");
    server = http.createServer((_req, res) => res.end("pong from the host"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    if (!usable) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const sandboxed = (command: string, args: string[]) =>
    wrapCommand(
      { command, args, env: {} },
      { kind: "bwrap" },
      { runtimeId: "t", stateDir: "/nonexistent", modelPath: model },
      detection ? [detection] : [],
    );

  it.skipIf(!usable)(
    "hides the host's /tmp behind a private one, where the runtime can still write",
    async () => {
      const hostFile = path.join(dir, "host-secret.txt");
      await writeFile(hostFile, "secret");
      const result = await run(
        sandboxed("sh", [
          "-c",
          `test -e '${hostFile}' && echo visible || echo hidden; echo ok > /tmp/inner && cat /tmp/inner; echo $HOME`,
        ]),
      );
      expect(result.stdout.split("\n")).toEqual(["hidden", "ok", SANDBOX_HOME, ""]);
      expect(existsSync("/tmp/inner")).toBe(false);
    },
  );

  it.skipIf(!usable)("makes the system read-only, and the model readable but not writable", async () => {
    const target = path.join("/var/tmp", `rmx-ro-${process.pid}`);
    const result = await run(
      sandboxed("sh", [
        "-c",
        `touch '${target}' 2>/dev/null && echo wrote || echo refused; cat '${model}'; (echo x >> '${model}') 2>/dev/null && echo model-written || echo model-refused`,
      ]),
    );
    expect(result.stdout.split("\n")).toEqual(["refused", "GGUF-ish bytes", "model-refused", ""]);
    expect(existsSync(target)).toBe(false);
  });

  it.skipIf(!usable)("shares the network: a loopback server on the host answers from inside", async () => {
    const script = `fetch("http://127.0.0.1:${port}/").then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(e); process.exit(3); })`;
    const result = await run(sandboxed(process.execPath, ["-e", script]));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("pong from the host");
  });

  it.skipIf(!usable)(
    "still runs a program that lives under the host's /tmp (bound back read-only)",
    async () => {
      const script = path.join(dir, "hello.mjs");
      await writeFile(script, 'process.stdout.write("hello from /tmp");\n');
      const result = await run(sandboxed(process.execPath, [script]));
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe("hello from /tmp");
    },
  );

  it.skipIf(!usable)("runs in its own PID namespace", async () => {
    const result = await run(sandboxed("sh", ["-c", "echo $$"]));
    expect(Number(result.stdout.trim())).toBeLessThan(10);
  });

  it.skipIf(!usable)(
    "fails loudly on an ro_bind that does not exist rather than run without it",
    async () => {
      const missing = path.join(dir, "missing-bind");
      const wrapped = wrapCommand(
        { command: "true", args: [], env: {} },
        { kind: "bwrap", ro_binds: [missing] },
        { runtimeId: "t", stateDir: "/nonexistent" },
        detection ? [detection] : [],
      );
      const result = await run(wrapped);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(missing);
    },
  );

  it.skipIf(!usable)(
    "a stop gives the backend inside its grace: SIGTERM reaches it, not only bwrap",
    async () => {
      const logFile = path.join(dir, "graceful.log");
      const log = new RotatingLog(logFile, { max_bytes: 1 << 20, files: 1 });
      const script = [
        'process.on("SIGTERM", () => { console.log("got SIGTERM"); setTimeout(() => { console.log("graceful exit"); process.exit(0); }, 200); });',
        'console.log("listening"); setInterval(() => {}, 1000);',
      ].join("");
      const plan = sandboxed(process.execPath, ["-e", script]);
      const child = await spawnChild({ command: plan.command, args: plan.args, env: plan.env, log });
      const started = Date.now();
      while (!log.lastLines().includes("listening")) {
        if (Date.now() - started > 10_000) throw new Error(`never started: ${log.lastLines().join(" | ")}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const result = await stopProcessGroup(child, { signal: "SIGTERM", grace_ms: 5000, spare: ["bwrap"] });
      await log.close();
      const lines = log.lastLines();
      expect(result.escalated, `lines: ${lines.join(" | ")}`).toBe(false);
      expect(lines).toContain("got SIGTERM");
      expect(lines).toContain("graceful exit");
    },
  );

  it.runIf(!usable)(`is skipped: ${detection?.reason ?? "bwrap not detected"}`, () => {
    expect(detection?.available).not.toBe(true);
  });
});
