/**
 * Spawns the compiled llama-server stub for tests: real process, real port, real signals. Every stub is
 * a process-group leader so `killAllStubs()` also takes its grandchildren.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { stubEntryPath } from "../../adapters/llama-stub/stub-path.js";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StubProcess {
  child: ChildProcess;
  pid: number;
  /** Known once the stub has bound (after `started()`), or the fixed `--port` given. */
  port: number;
  endpoint: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout or stderr. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Waits for the "HTTP server is listening" line and learns the port. */
  started(timeoutMs?: number): Promise<StubProcess>;
  /** Waits until /health answers 200. */
  ready(timeoutMs?: number): Promise<StubProcess>;
  exited: Promise<Exit>;
}

const live = new Set<ChildProcess>();

export function stubEntry(): string {
  const entry = stubEntryPath();
  if (!fs.existsSync(entry))
    throw new Error(`${entry} is missing: build first with \`npx tsc -p tsconfig.json\``);
  return entry;
}

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs the stub with llama-server's arguments; `--port 0` unless a port is given. */
export function spawnStub(args: string[], env: Record<string, string> = {}, cwd?: string): StubProcess {
  const withPort = args.some((a) => a === "--port" || a.startsWith("--port="))
    ? args
    : ["--port", "0", ...args];
  return spawnServer(process.execPath, [stubEntry(), ...withPort], env, cwd);
}

/** Runs any llama-server-like command (an adapter's launch plan) with the same tracking and cleanup. */
export function spawnServer(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): StubProcess {
  const child = spawn(command, args, {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: { ...process.env, ...env },
  });
  live.add(child);
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    notify();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
    notify();
  });
  const exited = new Promise<Exit>((resolve) =>
    child.on("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
      notify();
    }),
  );
  const portAt = args.indexOf("--port");
  const fixed = portAt >= 0 ? args[portAt + 1] : undefined;
  const stub: StubProcess = {
    child,
    pid: child.pid as number,
    port: fixed !== undefined && fixed !== "0" ? Number(fixed) : 0,
    get endpoint() {
      return `http://127.0.0.1:${stub.port}`;
    },
    stdout: () => out,
    stderr: () => err,
    waitForOutput(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(err) ?? pattern.exec(out);
          if (match !== null) {
            done();
            resolve(match);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`stub exited before printing ${pattern}; stderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; stderr:\n${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async started(timeoutMs) {
      const match = await stub.waitForOutput(
        /HTTP server is listening, hostname: \S+, port: (\d+)/,
        timeoutMs,
      );
      stub.port = Number(match[1]);
      return stub;
    },
    async ready(timeoutMs = 10_000) {
      await stub.started(timeoutMs);
      await waitFor(
        async () => (await get(`${stub.endpoint}/health`)).status === 200,
        timeoutMs,
        "health 200",
      );
      return stub;
    },
    exited,
  };
  return stub;
}

/** SIGKILL every stub still running, with its whole process group. */
export async function killAllStubs(): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (const child of live) {
    pending.push(new Promise((resolve) => child.once("exit", resolve)));
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }
  await Promise.all(pending);
}

/** Kills a process group that may outlive its leader (a grandchild left behind). */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Alive and not a zombie (an orphan may wait a moment to be reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

export interface Answer {
  status: number;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

export function request(
  url: string,
  body?: unknown,
  method = body === undefined ? "GET" : "POST",
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      url,
      { method, agent: false, headers: payload ? { "content-type": "application/json" } : {} },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: text, json: <T>() => JSON.parse(text) as T }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export const get = (url: string) => request(url);
export const post = (url: string, body: unknown) => request(url, body);

export interface OpenStream {
  /** Resolves with the first body chunk: the request holds a slot from then on. */
  firstChunk: Promise<string>;
  /** Everything received when the server ends the response. */
  done: Promise<string>;
  close(): void;
}

/** A POST whose response is read as it arrives and can be abandoned mid-way (client disconnect). */
export function openStream(url: string, body: unknown): OpenStream {
  let req: http.ClientRequest | undefined;
  let resolveFirst: (chunk: string) => void = () => {};
  let rejectFirst: (err: Error) => void = () => {};
  const firstChunk = new Promise<string>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  const done = new Promise<string>((resolve, reject) => {
    const payload = JSON.stringify(body);
    req = http.request(
      url,
      { method: "POST", agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
          resolveFirst(chunk);
        });
        res.on("end", () => resolve(text));
        res.on("error", reject);
      },
    );
    req.on("error", (err) => {
      rejectFirst(err);
      reject(err);
    });
    req.end(payload);
  });
  done.catch(() => {});
  firstChunk.catch(() => {});
  return { firstChunk, done, close: () => req?.destroy() };
}
