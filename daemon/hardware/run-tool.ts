import { spawn } from "node:child_process";

/** Why an external probe (nvidia-smi, bwrap, systemd-run) gave no usable answer. */
export type ToolFailureKind = "missing" | "timeout" | "failed";

export class ToolError extends Error {
  override readonly name = "ToolError";
  constructor(
    readonly kind: ToolFailureKind,
    message: string,
    readonly output: ToolOutput = { stdout: "", stderr: "" },
  ) {
    super(message);
  }
}

export interface ToolOutput {
  stdout: string;
  stderr: string;
}

export interface RunToolOptions {
  timeoutMs: number;
  /** Output beyond this is a failure: a probe never legitimately prints megabytes. */
  maxBytes?: number;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_MAX_BYTES = 1 << 20;

/**
 * Runs a short-lived probe asynchronously and bounded in time and output. On timeout the whole process group
 * is killed and the promise settles at once, without waiting for grandchildren that may still hold the pipes.
 * A non-zero exit rejects with kind "failed" and the first stderr line in the message.
 */
export function runTool(bin: string, args: readonly string[], opts: RunToolOptions): Promise<ToolOutput> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const groupKill = process.platform !== "win32";
  return new Promise<ToolOutput>((resolve, reject) => {
    let settled = false;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    const child = spawn(bin, [...args], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: groupKill,
      windowsHide: true,
      env: opts.env ?? process.env,
    });

    const kill = (): void => {
      if (child.pid === undefined) return;
      try {
        if (groupKill) process.kill(-child.pid, "SIGKILL");
        else child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    };
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString("utf8");

    const timer = setTimeout(() => {
      kill();
      settle(() => reject(new ToolError("timeout", `${bin} timed out after ${opts.timeoutMs} ms`)));
    }, opts.timeoutMs);

    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        kill();
        settle(() => reject(new ToolError("failed", `${bin} printed more than ${maxBytes} bytes`)));
        return;
      }
      into.push(chunk);
    };
    child.stdout.on("data", collect(stdout));
    child.stderr.on("data", collect(stderr));

    child.on("error", (err: NodeJS.ErrnoException) => {
      const kind: ToolFailureKind = err.code === "ENOENT" ? "missing" : "failed";
      const message =
        err.code === "ENOENT"
          ? `${bin} not found`
          : err.code === "EACCES"
            ? `${bin} is not executable`
            : `${bin} could not be run: ${err.message}`;
      settle(() => reject(new ToolError(kind, message)));
    });

    child.on("close", (code, signal) => {
      settle(() => {
        const err = text(stderr);
        if (code === 0) {
          resolve({ stdout: text(stdout), stderr: err });
          return;
        }
        const out = text(stdout);
        const firstLine = (err.trim() || out.trim()).split("\n")[0] ?? "";
        const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(
          new ToolError("failed", `${bin} ${how}${firstLine ? `: ${firstLine}` : ""}`, {
            stdout: out,
            stderr: err,
          }),
        );
      });
    });
  });
}
