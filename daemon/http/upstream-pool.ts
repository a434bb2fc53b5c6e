/**
 * Kept-alive connections to the gateway's backends on `node:net`, one pool per endpoint (host:port).
 * Each connection carries one exchange at a time (no pipelining) and listens to its socket once for
 * its whole life, handing the events to whichever exchange holds it: no listener is added or removed
 * per request. LIFO reuses the warmest socket; no Nagle delay on a request or a streamed token.
 */
import net from "node:net";
import { monotonicMs } from "../../base/monotonic.js";

/** The exchange holding a connection: its socket's events go there. */
export interface ConnectionUser {
  onData(chunk: Buffer): void;
  /** The server ended the connection, or it closed without an error. */
  onEnd(): void;
  onError(error: NodeJS.ErrnoException): void;
  /** No byte either way for the exchange's idle timeout. */
  onTimeout(): void;
}

/** Idle connections kept per endpoint beyond which a released one is closed (node's agent: 256). */
const MAX_IDLE = 256;
/**
 * A server's `Keep-Alive: timeout=N` bounds reuse; node's agent takes 1 s off so a request never races
 * the server's close. Losing that race anyway costs one resend on a fresh socket (upstream-exchange.ts).
 */
const KEEP_ALIVE_MARGIN_MS = 1000;

export class UpstreamConnection {
  user: ConnectionUser | undefined;
  /** Exchanges this connection carried before the current one: a reused socket may be stale. */
  uses = 0;
  /** monotonicMs() after which the server said it closes idle sockets. */
  idleUntil = Number.POSITIVE_INFINITY;
  private timeoutMs = 0;

  constructor(
    readonly socket: net.Socket,
    private readonly pool: UpstreamPool,
  ) {
    socket.on("data", (chunk: Buffer) => {
      if (this.user !== undefined) this.user.onData(chunk);
      // Bytes while idle: the server is confused; never send a request after them.
      else socket.destroy();
    });
    socket.on("end", () => this.user?.onEnd());
    socket.on("error", (error: NodeJS.ErrnoException) => this.user?.onError(error));
    socket.on("close", () => {
      this.pool.forget(this);
      this.user?.onEnd();
    });
    socket.on("timeout", () => this.user?.onTimeout());
  }

  /** The idle timeout while in use; the socket's timer is touched only when the value changes. */
  setIdleTimeout(ms: number): void {
    if (ms === this.timeoutMs) return;
    this.timeoutMs = ms;
    this.socket.setTimeout(ms);
  }
}

export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** The warmest idle connection still open, else a new one (`fresh` asks for a new one). */
  acquire(user: ConnectionUser, fresh = false): UpstreamConnection {
    if (!fresh) {
      const now = monotonicMs();
      for (let conn = this.idle.pop(); conn !== undefined; conn = this.idle.pop()) {
        if (!conn.socket.destroyed && conn.socket.writable && now < conn.idleUntil) {
          conn.user = user;
          conn.socket.ref();
          return conn;
        }
        conn.socket.destroy();
      }
    }
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    const conn = new UpstreamConnection(socket, this);
    conn.user = user;
    return conn;
  }

  /**
   * The exchange is over. `keepAlive`: the response was whole and the server keeps the connection,
   * `hint` its Keep-Alive header; anything else closes it.
   */
  release(conn: UpstreamConnection, keepAlive: boolean, hint?: string): void {
    conn.user = undefined;
    if (!keepAlive || conn.socket.destroyed || this.idle.length >= MAX_IDLE) {
      conn.socket.destroy();
      return;
    }
    conn.uses++;
    const seconds = hint === undefined ? undefined : /\btimeout=(\d+)/i.exec(hint)?.[1];
    conn.idleUntil =
      seconds === undefined
        ? Number.POSITIVE_INFINITY
        : monotonicMs() + Number(seconds) * 1000 - KEEP_ALIVE_MARGIN_MS;
    // A paused socket would not notice the server's close while idle; an idle one must not hold the
    // daemon (or a test) open.
    conn.socket.resume();
    conn.socket.unref();
    this.idle.push(conn);
  }

  /** Drops a connection from the idle list (its socket closed). */
  forget(conn: UpstreamConnection): void {
    const at = this.idle.indexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
  }

  get idleCount(): number {
    return this.idle.length;
  }

  closeIdle(): void {
    for (const conn of this.idle.splice(0)) conn.socket.destroy();
  }
}

const pools = new Map<string, UpstreamPool>();
/** Endpoints come and go (a restarted runtime gets a new port): pools with nothing idle are dropped past this. */
const MAX_POOLS = 256;

export function poolFor(host: string, port: number): UpstreamPool {
  const key = `${host}:${port}`;
  let pool = pools.get(key);
  if (pool === undefined) {
    if (pools.size >= MAX_POOLS) for (const [k, p] of pools) if (p.idleCount === 0) pools.delete(k);
    pool = new UpstreamPool(host, port);
    pools.set(key, pool);
  }
  return pool;
}

/** Closes every idle upstream connection (tests, shutdown). */
export function closeUpstreamPools(): void {
  for (const pool of pools.values()) pool.closeIdle();
  pools.clear();
}
