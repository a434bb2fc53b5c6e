/**
 * The socket file's lifecycle: directory checks, refusing what is not ours to replace, telling a stale
 * socket from a live daemon, binding under a private name then linking into place with the right mode and
 * group, and unlinking on close only the inode we bound.
 */

import type net from "node:net";
import path from "node:path";
import { RmxError } from "../../base/errors.js";
import { chmod, chown, link, lstat, readFile, readlink, rename, stat, unlink } from "../../base/fs-async.js";
import { isWindowsPipe, maxSocketPathBytes, prepareSocketDir, probeSocket } from "../socket-path.js";
import type { RpcServerLogger } from "./types.js";

export interface SocketFileOptions {
  socketPath: string;
  system: boolean;
  socketGroup?: string;
  /** listen(2) backlog. */
  backlog: number;
  log: RpcServerLogger;
}

/** Group id for `socket_group`: a number, or a name looked up in /etc/group. */
async function resolveGroupId(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  let text = "";
  try {
    text = await readFile("/etc/group", "utf8");
  } catch (error) {
    throw new RmxError(
      "CONFIG_INVALID",
      `cannot resolve socket group "${group}": /etc/group unreadable`,
      { group },
      { cause: error },
    );
  }
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new RmxError("CONFIG_INVALID", `socket group "${group}" does not exist (not in /etc/group)`, {
    group,
  });
}

export class SocketFile {
  /** The inode we bound, so close() never unlinks a socket another daemon put in our place. */
  private boundInode: { dev: number; ino: number } | undefined;

  constructor(private readonly opts: SocketFileOptions) {}

  private get pipe(): boolean {
    return process.platform === "win32" || isWindowsPipe(this.opts.socketPath);
  }

  /** Checks the path and binds `server` to it; on failure the server is closed again. */
  async bind(server: net.Server): Promise<void> {
    const { socketPath } = this.opts;
    if (!this.pipe) {
      const bytes = Buffer.byteLength(socketPath);
      if (bytes > maxSocketPathBytes()) {
        throw new RmxError(
          "CONFIG_INVALID",
          `socket path ${socketPath} is ${bytes} bytes; Unix sockets allow at most ${maxSocketPathBytes()} ` +
            "(set RMX_SOCKET to a shorter path)",
          { socket: socketPath },
        );
      }
      await prepareSocketDir(socketPath, { system: this.opts.system });
      await this.refuseNonSocket(socketPath);
    }
    await this.clearStale(socketPath);
    if (this.pipe) {
      await this.listenOn(server, socketPath);
      return;
    }
    // Bind under a private name, set the mode, then link it into place: the socket is never reachable
    // with the wrong mode, an existing daemon's socket is never replaced (link fails with EEXIST), and
    // the name libuv unlinks on close is the private one, so close() decides about the public one.
    const temp = path.join(path.dirname(socketPath), `.${path.basename(socketPath)}.${process.pid}`);
    const viaTemp = Buffer.byteLength(temp) <= maxSocketPathBytes();
    const bound = viaTemp ? temp : socketPath;
    if (viaTemp) await unlink(temp).catch(() => {});
    try {
      await this.listenOn(server, bound);
      await this.applyMode(bound);
      if (viaTemp) await this.publish(temp, socketPath);
      const st = await stat(socketPath);
      this.boundInode = { dev: st.dev, ino: st.ino };
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw error;
    } finally {
      if (viaTemp) await unlink(temp).catch(() => {});
    }
  }

  /** Removes the socket file if it is still the one we bound. */
  async unlink(): Promise<void> {
    if (this.boundInode === undefined) return;
    const { socketPath } = this.opts;
    try {
      const st = await stat(socketPath);
      if (st.dev === this.boundInode.dev && st.ino === this.boundInode.ino) await unlink(socketPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  private listenOn(server: net.Server, where: string): Promise<void> {
    const { backlog } = this.opts;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          error.code === "EADDRINUSE"
            ? new RmxError("ALREADY_RUNNING", `rmxd is already running: ${where} is in use`, {
                socket: where,
              })
            : new RmxError(
                "SOCKET_UNSAFE",
                `cannot listen on ${where}: ${error.code ?? error.message}`,
                { socket: where },
                { cause: error },
              ),
        );
      };
      server.once("error", onError);
      server.listen({ path: where, backlog }, () => {
        server.off("error", onError);
        resolve();
      });
    });
  }

  private async applyMode(where: string): Promise<void> {
    if (!this.opts.system) {
      await chmod(where, 0o600);
      return;
    }
    await chmod(where, 0o660);
    if (this.opts.socketGroup !== undefined) {
      const gid = await resolveGroupId(this.opts.socketGroup);
      await chown(where, -1, gid);
      // Group members must be able to traverse the directory to reach the socket.
      await chown(path.dirname(where), -1, gid);
    }
  }

  private async publish(temp: string, socketPath: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        await link(temp, socketPath);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") {
          await this.refuseNonSocket(socketPath);
          await this.clearStale(socketPath);
          continue;
        }
        if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP") {
          // A filesystem without hard links: rename is atomic too, but would replace a racing daemon.
          await rename(temp, socketPath);
          return;
        }
        throw error;
      }
    }
    throw new RmxError("ALREADY_RUNNING", `rmxd is already running: ${socketPath} appeared while starting`, {
      socket: socketPath,
    });
  }

  /**
   * Only a socket may be replaced. A symbolic link is never followed (lstat): dangling, it used to look
   * like a daemon in the way; pointing elsewhere, unlinking or binding through it would act on its target.
   */
  private async refuseNonSocket(socketPath: string): Promise<void> {
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(socketPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    if (st.isSymbolicLink()) {
      const target = await readlink(socketPath).catch(() => "?");
      const dangling = await stat(socketPath).then(
        () => false,
        () => true,
      );
      throw new RmxError(
        "SOCKET_UNSAFE",
        `${socketPath} is a symbolic link to ${target}${dangling ? ", which does not exist" : ""}, not a socket; ` +
          `refusing to follow or replace it (remove it with: rm ${socketPath})`,
        { socket: socketPath, target, dangling },
      );
    }
    if (!st.isSocket()) {
      throw new RmxError(
        "SOCKET_UNSAFE",
        `${socketPath} exists and is not a socket; refusing to replace it`,
        {
          socket: socketPath,
        },
      );
    }
  }

  private async clearStale(socketPath: string): Promise<void> {
    const probe = await probeSocket(socketPath);
    if (probe.state === "live") {
      const who = probe.pid === undefined ? "" : ` (pid ${probe.pid})`;
      throw new RmxError(
        "ALREADY_RUNNING",
        `rmxd is already running${who}: it answers on ${socketPath}`,
        probe.pid === undefined ? { socket: socketPath } : { socket: socketPath, pid: probe.pid },
      );
    }
    if (probe.state === "stale") {
      this.opts.log.info({ socket: socketPath }, "removing stale socket left by a previous daemon");
      await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
    }
  }
}
