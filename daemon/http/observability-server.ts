/**
 * A temporary, minimal listener for the observability routes (`rmxd --observability HOST:PORT`), until
 * the gateway's listener mounts them. Applies the route's auth kind (bearer token read from
 * `<state dir>/observability.token`, created 0600 at start) and refuses a Host header naming another
 * host (DNS rebinding).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { RmxError } from "../../base/errors.js";
import type { Route } from "./observability-host.js";
import { sendJson } from "./respond.js";

export interface ObservabilityListenOptions {
  host: string;
  port: number;
  stateDir: string;
  /** `none`: `/metrics` without the bearer token (for a Prometheus on a trusted network). */
  metricsAuth: "token" | "none";
}

export interface ObservabilityServer {
  /** `http://HOST:PORT` as bound (the port resolved when 0 was asked). */
  readonly url: string;
  readonly tokenPath: string;
  close(): Promise<void>;
}

/** `127.0.0.1:9464`, `[::1]:9464`, `localhost:0` → host and port; RmxError CONFIG_INVALID otherwise. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw new RmxError(
      "CONFIG_INVALID",
      `--observability: expected HOST:PORT (e.g. 127.0.0.1:9464), got "${text}"`,
      {
        value: text,
      },
    );
  return { host: (m[1] ?? m[2]) as string, port };
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  if (!m) return false;
  const a = Buffer.from(m[1] as string);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function matches(route: Route, pathname: string): boolean {
  return typeof route.path === "string" ? route.path === pathname : route.path.test(pathname);
}

async function loadOrCreateToken(file: string): Promise<string> {
  try {
    const text = (await fs.readFile(file, "utf8")).trim();
    if (text.length >= 32) return text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const token = randomBytes(32).toString("base64url");
  await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export async function listenObservability(
  routes: readonly Route[],
  opts: ObservabilityListenOptions,
): Promise<ObservabilityServer> {
  const tokenPath = path.join(opts.stateDir, "observability.token");
  const token = await loadOrCreateToken(tokenPath);
  let allowedHosts = new Set<string>();
  const server = http.createServer((req, res) => {
    const host = (req.headers.host ?? "").toLowerCase();
    if (!allowedHosts.has(host))
      return sendJson(res, 421, { error: { code: "HOST", message: `Host "${host}" is not this listener` } });
    const pathname = new URL(req.url ?? "/", "http://rmx.invalid").pathname;
    const route = routes.find((r) => r.method === req.method && matches(r, pathname));
    if (route === undefined)
      return sendJson(res, 404, { error: { code: "NOT_FOUND", message: `${req.method} ${pathname}` } });
    const needsBearer = route.auth === "token" || (route.auth === "metrics" && opts.metricsAuth === "token");
    if (needsBearer && !bearerMatches(req.headers.authorization, token)) {
      res.setHeader("www-authenticate", 'Bearer realm="rmx"');
      return sendJson(res, 401, {
        error: { code: "UNAUTHORIZED", message: `bearer token required (${tokenPath})` },
      });
    }
    route.handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { code: "INTERNAL", message: String(error) } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  allowedHosts = new Set([`${shown}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]);
  return {
    url: `http://${shown}:${port}`,
    tokenPath,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
