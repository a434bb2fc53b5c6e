/**
 * The OpenAI-compatible HTTP gateway of rmxd, on Node's own `http` (no framework: every microsecond and
 * megabyte a framework adds is paid on each token streamed). Listens on `http.listen`; a port in use at
 * start-up is a warning naming the port and the key, and the daemon runs on without the gateway.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { RmxError } from "../../base/errors.js";
import { monotonicMs } from "../../base/monotonic.js";
import type { HttpSpec } from "../../base/spec.js";
import { httpExposure } from "../../config/http-exposure.js";
import { formatListen } from "../../config/http-listen.js";
import type { GatewayView } from "../../ipc/protocol/gateway.js";
import { INFER_ROUTE } from "../policy/infer.js";
import { type GatewayError, notFound, sendError, sendJson } from "./answer.js";
import { type BodyResult, readBodyThen } from "./body.js";
import { guard } from "./guard.js";
import type { GatewayHost } from "./host.js";
import { INFER_PATH } from "./infer-route.js";
import { INFERENCE_ROUTES, type InferenceContext, type InferenceRoute, serveInference } from "./inference.js";
import { listModels } from "./models.js";
import type { Route } from "./observability-host.js";
import { RouteTable } from "./route-table.js";
import { serveTranscriptions, TRANSCRIPTIONS_ROUTE } from "./transcriptions.js";
import { UpstreamTargets } from "./upstream.js";

export type { GatewayView };

/** Whether a mounted route needs the bearer token (session routes check their own cookie). */
function needsBearer(route: Route, metricsAuth: HttpSpec["metrics_auth"]): boolean {
  return route.auth === "token" || (route.auth === "metrics" && metricsAuth === "token");
}

function internalError(): GatewayError {
  return {
    status: 500,
    type: "server_error",
    code: "internal_error",
    message: "the route failed; see rmxd's log",
    klass: "upstream",
  };
}

/** What the 404 of an unknown path lists: every route the gateway itself serves. */
export const GATEWAY_ROUTES = [
  "POST /v1/chat/completions",
  "POST /v1/completions",
  "POST /v1/embeddings",
  `POST ${TRANSCRIPTIONS_ROUTE}`,
  `POST ${INFER_ROUTE}`,
  "GET /v1/models",
  "GET /health",
] as const;

/** The route label a refused request is counted under: a route the gateway serves, else "(other)". */
function routeLabel(path: string): string {
  if ((INFERENCE_ROUTES as readonly string[]).includes(path) || path === TRANSCRIPTIONS_ROUTE) return path;
  return INFER_PATH.test(path) ? INFER_ROUTE : "(other)";
}

export class Gateway {
  private server: http.Server | undefined;
  private address: string | undefined;
  private problem: string | undefined;
  private inFlight = 0;
  private readonly waiting = new Map<string, number>();
  private readonly ctx: InferenceContext;
  private readonly createdSeconds = Math.floor(Date.now() / 1000);
  private readonly mounted: RouteTable;

  constructor(
    private readonly spec: HttpSpec,
    private readonly token: string | undefined,
    private readonly host: GatewayHost,
  ) {
    this.ctx = { host, spec, waiting: this.waiting, upstreams: new UpstreamTargets() };
    this.mounted = new RouteTable(host.routes ?? []);
  }

  /** Listens; resolves with the address, or undefined (logged) when the port is taken. Throws on a config error. */
  async start(): Promise<string | undefined> {
    const listen = this.spec.listen;
    if (listen === undefined) return undefined;
    const exposure = httpExposure(this.spec);
    if (exposure !== undefined) throw new RmxError("CONFIG_INVALID", exposure, { key: "http.auth" });
    if (this.spec.auth === "none")
      this.host.logger.warn(
        { listen: formatListen(listen) },
        "http.auth is none: any local process (and any page a browser opens that passes the Host check) can use the gateway without a token",
      );
    const server = http.createServer(
      {
        headersTimeout: this.spec.headers_timeout_ms,
        requestTimeout: Math.max(60_000, this.spec.headers_timeout_ms + this.spec.body_timeout_ms),
        connectionsCheckingInterval: Math.min(
          1000,
          Math.max(50, Math.floor(this.spec.headers_timeout_ms / 4)),
        ),
        keepAliveTimeout: 5_000,
        noDelay: true,
      },
      (req, res) => this.handle(req, res),
    );
    server.on("clientError", (_error, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
      else socket.destroy();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(listen.port, listen.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const where = formatListen(listen);
      this.problem =
        code === "EADDRINUSE"
          ? `port ${listen.port} is in use: the HTTP gateway is off; set http.listen (or rmxd --http HOST:PORT) to a free port, or off`
          : `cannot listen on ${where}: ${(error as Error).message}; the HTTP gateway is off (http.listen)`;
      this.host.logger.warn({ listen: where, code }, this.problem);
      return undefined;
    }
    this.server = server;
    const bound = server.address() as AddressInfo;
    this.address = formatListen({ host: bound.address, port: bound.port });
    this.host.logger.info({ listen: this.address, auth: this.spec.auth }, "HTTP gateway listening");
    return this.address;
  }

  get listening(): string | undefined {
    return this.address;
  }

  /** Why it is not listening though configured. */
  get notListening(): string | undefined {
    return this.problem;
  }

  view(): GatewayView {
    const v: GatewayView = {
      auth: this.spec.auth,
      in_flight: this.inFlight,
      requests: this.host.routing.telemetry(),
    };
    if (this.address !== undefined) v.listen = this.address;
    if (this.problem !== undefined) v.problem = this.problem;
    return v;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const mounted = this.mounted.find(req.method, path);
    const open =
      (req.method === "GET" && path === "/health") ||
      (mounted !== undefined && !needsBearer(mounted, this.spec.metrics_auth));
    const verdict = guard(req, this.spec, this.token, open);
    if (verdict.error !== undefined) {
      sendError(res, verdict.error, {
        ...verdict.cors,
        ...(verdict.error.status === 401 ? { "www-authenticate": "Bearer" } : {}),
      });
      // Counted under its route only when it is one the gateway serves: a made-up path is not a series.
      this.host.routing.observe({
        model: "",
        cell: "",
        route: routeLabel(path),
        ms: 0,
        code: verdict.error.status,
        error: verdict.error.klass,
      });
      this.host.onCounted();
      return;
    }
    if (verdict.preflight) {
      res.writeHead(204, verdict.cors);
      res.end();
      return;
    }
    if (mounted !== undefined) {
      // Inference requests on a mounted route (KServe infer) are in flight like chat's; /metrics is not.
      const inference = mounted.path === INFER_PATH;
      if (inference) this.inFlight++;
      mounted
        .handle(req, res)
        .catch((error: unknown) => {
          this.host.logger.error({ err: error, route: path }, "HTTP route failed");
          if (!res.headersSent) sendError(res, internalError(), verdict.cors);
          else res.destroy();
        })
        .finally(() => {
          if (!inference) return;
          this.inFlight--;
          this.host.onCounted();
        });
      return;
    }
    if (open) {
      sendJson(res, 200, { status: "ok" }, verdict.cors);
      return;
    }
    if (req.method === "GET" && path === "/v1/models") {
      sendJson(res, 200, listModels(this.host.routing.candidates(), this.createdSeconds), verdict.cors);
      return;
    }
    if (path === TRANSCRIPTIONS_ROUTE) {
      this.inFlight++;
      void serveTranscriptions(this.ctx, req, res, verdict.cors).finally(() => {
        this.inFlight--;
        this.host.onCounted();
      });
      return;
    }
    if ((INFERENCE_ROUTES as readonly string[]).includes(path)) {
      if (req.method !== "POST") {
        sendError(
          res,
          {
            status: 405,
            type: "invalid_request_error",
            code: "method_not_allowed",
            message: `${path} takes POST`,
            klass: "client",
          },
          { ...verdict.cors, allow: "POST" },
        );
        return;
      }
      void this.inference(path as InferenceRoute, req, res, verdict.cors);
      return;
    }
    sendError(
      res,
      notFound(
        `no route ${req.method} ${path.slice(0, 200)}: the gateway serves ${GATEWAY_ROUTES.join(", ")}`,
        "unknown_route",
      ),
      verdict.cors,
    );
  }

  private inference(
    route: InferenceRoute,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    cors: Readonly<Record<string, string>>,
  ): void {
    this.inFlight++;
    const started = monotonicMs();
    // The answer goes on in the body's own callback: the request reaches the backend in the same turn
    // of the event loop as its last byte, not after a promise's hop.
    readBodyThen(req, this.spec.max_body_bytes, this.spec.body_timeout_ms, (body) => {
      void this.answer(route, req, res, body, cors, started);
    });
  }

  private async answer(
    route: InferenceRoute,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: BodyResult,
    cors: Readonly<Record<string, string>>,
    started: number,
  ): Promise<void> {
    try {
      if (!body.ok) {
        sendError(res, body.error, { ...cors, connection: "close" });
        this.host.routing.observe({
          model: "",
          cell: "",
          route,
          ms: monotonicMs() - started,
          code: body.error.status,
          error: body.error.klass,
        });
        return;
      }
      await serveInference(this.ctx, route, req, res, body.body, cors, started);
    } catch (error) {
      this.host.logger.error({ err: error, route }, "HTTP gateway request failed");
      if (!res.headersSent)
        sendError(
          res,
          {
            status: 500,
            type: "server_error",
            code: "internal",
            message: (error as Error).message,
            klass: "upstream",
          },
          cors,
        );
      else res.destroy();
    } finally {
      this.inFlight--;
      this.host.onCounted();
    }
  }
}
