/**
 * The "see it" routes: `/metrics`, the dashboard (`/`, its assets, `/login`, `/api/*`, `/events`) and
 * `/badge.svg`, as a table the gateway's listener mounts. Routes whose `auth` is "session" check the
 * dashboard cookie (and, on POST, the CSRF header) themselves; the listener applies the other kinds.
 */
import type http from "node:http";
import { describeParamsError } from "../../ipc/protocol/params-error.js";
import type { RuntimeStatusResult } from "../../ipc/protocol/runtime.js";
import { paramSchemas } from "../../ipc/protocol/schemas.js";
import { joinTailAndFollowed } from "../rpc/methods.js";
import { badgeFacts, badgeSvg } from "./badge.js";
import { dashboardPage, loginRequiredPage } from "./dashboard/page.js";
import { cellRate } from "./dashboard/rate.js";
import { DASHBOARD_JS } from "./dashboard/script.js";
import { DASHBOARD_CSS } from "./dashboard/style.js";
import { cellTraffic } from "./dashboard/traffic.js";
import type { DaemonMetrics } from "./metrics.js";
import {
  type ObservabilityHost,
  QUICK_ACTIONS,
  type QuickActionMethod,
  type Route,
} from "./observability-host.js";
import { InvalidParams, openSse, readJson, send, sendError, sendJson } from "./respond.js";
import { CSRF_HEADER, DashboardSessions, type Session } from "./session.js";

/** Topics that change what the dashboard shows (runtime.* includes the per-tick cell health). */
const DASHBOARD_TOPICS = ["runtime.*", "matrix.changed", "daemon.problems", "config.reloaded"];
/** Events come in bursts (a crash is exited, state changed, restart): one snapshot per burst. */
const COALESCE_MS = 100;

export interface ObservabilityDeps {
  host: ObservabilityHost;
  metrics: DaemonMetrics;
  sessions: DashboardSessions;
  formatTime: (iso: string) => string;
  /** Whether the listener serves TLS (the session cookie is then `Secure`). */
  secure?: boolean;
}

/** What the dashboard renders: one snapshot, sent at load and after every burst of events. */
export function dashboardState(host: ObservabilityHost, formatTime: (iso: string) => string) {
  const status: RuntimeStatusResult = host.status();
  return {
    node: host.nodeId(),
    generated: status.generated,
    badge: badgeFacts(status.summary, formatTime),
    runtimes: status.runtimes.map((rt) => ({
      id: rt.id,
      state: rt.state,
      status: rt.status,
      desired: rt.desired,
      model: rt.model,
      hardware: rt.hardware,
      sandbox: rt.sandbox,
      restart_budget: rt.restart_budget,
      ...(rt.reason !== undefined ? { reason: rt.reason } : {}),
      last_error: rt.last_log_lines?.at(-1) ?? rt.health.last_error ?? rt.reason,
    })),
    cells: host.cells().map((cell) => ({
      key: cell.key,
      model: cell.model,
      hardware: cell.hardware,
      sandbox: cell.sandbox,
      available: cell.available,
      status: cell.status,
      runtimes: cell.runtimes,
      tokens_per_second: cell.throughput.generated_tokens_per_second,
      load: cell.load,
      error_rate: cell.health?.error_rate,
      requests: cell.health?.requests,
      ...cellTraffic(cell),
      ...cellRate(cell),
    })),
    problems: status.problems,
  };
}

function query(req: http.IncomingMessage): URLSearchParams {
  return new URL(req.url ?? "/", "http://rmx.invalid").searchParams;
}

/** Validates with a socket method's schema, as the socket does; throws InvalidParams naming the fields. */
function validate<T>(method: keyof typeof paramSchemas, input: unknown): T {
  const parsed = paramSchemas[method].safeParse(input);
  if (parsed.success) return parsed.data as T;
  const { message, issues } = describeParamsError(parsed.error, input);
  throw new InvalidParams(`${method}: ${message}`, issues);
}

export function observabilityRoutes(deps: ObservabilityDeps): Route[] {
  const { host, metrics, sessions, formatTime } = deps;

  /** Wraps a handler with the session check; POSTs also need the CSRF header. */
  const withSession =
    (handle: (req: http.IncomingMessage, res: http.ServerResponse, session: Session) => Promise<void>) =>
    async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
      const session = sessions.lookup(req.headers.cookie);
      if (session === undefined) {
        if (req.method === "GET" && (req.url === "/" || req.url?.startsWith("/?")))
          return send(res, 401, "text/html; charset=utf-8", loginRequiredPage());
        return sendJson(res, 401, {
          error: {
            code: "UNAUTHORIZED",
            message: "no dashboard session: run `rmx dashboard` for a login URL",
          },
        });
      }
      if (req.method === "POST" && !DashboardSessions.csrfMatches(session, req.headers[CSRF_HEADER]))
        return sendJson(res, 403, {
          error: { code: "CSRF", message: `missing or wrong ${CSRF_HEADER} header for this session` },
        });
      try {
        await handle(req, res, session);
      } catch (error) {
        if (!res.headersSent) sendError(res, error);
        else res.end();
      }
    };

  const events = withSession(async (req, res) => {
    let timer: NodeJS.Timeout | undefined;
    let off: (() => void) | undefined;
    const write = openSse(req, res, () => {
      off?.();
      if (timer !== undefined) clearTimeout(timer);
    });
    const push = () => {
      timer = undefined;
      write("state", dashboardState(host, formatTime));
    };
    // Subscribed only while this client is connected: with no browser open, the bus has no listener.
    off = host.subscribe(DASHBOARD_TOPICS, () => {
      timer ??= setTimeout(push, COALESCE_MS);
    });
    push();
  });

  const followLogs = withSession(async (req, res) => {
    const q = query(req);
    const p = validate<{ id: string; lines: number }>("runtime.logs", {
      id: q.get("id") ?? "",
      lines: Number(q.get("lines") ?? 100),
      follow: true,
    });
    let arrived: string[] | undefined = [];
    let write: ((event: string, data: unknown) => void) | undefined;
    const off = host.logsFollow(p.id, (line) => {
      if (arrived) arrived.push(line);
      else write?.("line", line);
    });
    let tail: string[];
    try {
      tail = await host.logsTail(p.id, p.lines);
    } catch (error) {
      off();
      throw error;
    }
    write = openSse(req, res, off);
    for (const line of joinTailAndFollowed(tail, arrived)) write("line", line);
    arrived = undefined;
  });

  return [
    {
      method: "GET",
      path: "/metrics",
      auth: "metrics",
      async handle(_req, res) {
        const body = await metrics.render({
          status: host.status(),
          cells: host.cells(),
          backend: host.backendMetrics(),
        });
        send(res, 200, metrics.contentType, body);
      },
    },
    {
      method: "GET",
      path: "/badge.svg",
      // It reveals the node's state: the bearer token, like the API (a browser has the dashboard).
      auth: "token",
      async handle(_req, res) {
        send(
          res,
          200,
          "image/svg+xml; charset=utf-8",
          badgeSvg(badgeFacts(host.status().summary, formatTime)),
        );
      },
    },
    {
      method: "GET",
      path: "/login",
      auth: "none",
      async handle(req, res) {
        const token = query(req).get("token") ?? "";
        const redeemed = token === "" ? undefined : sessions.redeem(token);
        if (redeemed === undefined)
          return send(
            res,
            401,
            "text/html; charset=utf-8",
            loginRequiredPage("This login link is used or expired."),
          );
        send(res, 303, "text/plain; charset=utf-8", "logged in\n", {
          location: "/",
          "set-cookie": sessions.cookieHeader(redeemed.cookie, deps.secure === true),
        });
      },
    },
    {
      method: "GET",
      path: "/dashboard.js",
      auth: "none",
      handle: async (_q, res) => send(res, 200, "text/javascript; charset=utf-8", DASHBOARD_JS),
    },
    {
      method: "GET",
      path: "/dashboard.css",
      auth: "none",
      handle: async (_q, res) => send(res, 200, "text/css; charset=utf-8", DASHBOARD_CSS),
    },
    {
      method: "GET",
      path: "/",
      auth: "session",
      handle: withSession(async (_req, res, session) =>
        send(res, 200, "text/html; charset=utf-8", dashboardPage(session.csrf, host.nodeId()), {
          "content-security-policy":
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        }),
      ),
    },
    {
      method: "GET",
      path: "/api/state",
      auth: "session",
      handle: withSession(async (_req, res) => sendJson(res, 200, dashboardState(host, formatTime))),
    },
    { method: "GET", path: "/events", auth: "session", handle: events },
    {
      method: "GET",
      path: "/api/logs",
      auth: "session",
      handle: withSession(async (req, res) => {
        const q = query(req);
        const p = validate<{ id: string; lines: number }>("runtime.logs", {
          id: q.get("id") ?? "",
          lines: Number(q.get("lines") ?? 100),
        });
        sendJson(res, 200, { id: p.id, lines: await host.logsTail(p.id, p.lines) });
      }),
    },
    { method: "GET", path: "/api/logs/follow", auth: "session", handle: followLogs },
    {
      method: "POST",
      path: "/api/action",
      auth: "session",
      handle: withSession(async (req, res) => {
        const body = (await readJson(req)) as { method?: unknown; params?: unknown };
        const method = body?.method;
        if (typeof method !== "string" || !(QUICK_ACTIONS as readonly string[]).includes(method))
          throw new InvalidParams(
            `method must be one of ${QUICK_ACTIONS.join(", ")}; got ${JSON.stringify(method)}`,
            [{ path: "method" }],
          );
        const result = await host.action(method as QuickActionMethod, body.params ?? {});
        sendJson(res, 200, { result });
      }),
    },
  ];
}
