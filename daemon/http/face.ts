/**
 * rmxd's HTTP face: the gateway's listener (OpenAI routes, /metrics, the dashboard, /badge.svg under one Host
 * check and token), and the socket methods that hand out the token
 * (`http.token`) and a dashboard login (`dashboard.login`). The daemon wires it; it asks only for this host.
 */

import type { Logger } from "pino";
import { rfc3339 } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import type { DaemonConfig } from "../../base/spec.js";
import { parseListen } from "../../config/http-listen.js";
import { paramSchemas } from "../../ipc/protocol/schemas.js";
import type { MethodTable } from "../../ipc/server/types.js";
import type { ModelCatalog } from "../models/catalog.js";
import type { Policy } from "../policy/service.js";
import { Gateway } from "./gateway.js";
import { inferRoute } from "./infer-route.js";
import { httpMethods } from "./methods.js";
import type { DaemonMetrics } from "./metrics.js";
import type { ObservabilityHost } from "./observability-host.js";
import { observabilityRoutes } from "./routes.js";
import type { DashboardSessions } from "./session.js";
import { loadOrCreateToken } from "./token.js";

export interface HttpFaceHost {
  readonly logger: Logger;
  readonly stateDir: string;
  readonly metrics: DaemonMetrics;
  readonly sessions: DashboardSessions;
  config(): DaemonConfig;
  policy(): Policy | undefined;
  models(): ModelCatalog;
  observabilityHost(): ObservabilityHost;
  formatTime(iso: string): string;
  /** The gateway counted a request (the status snapshot is stale). */
  noteChange(): void;
}

/** `--http` beats the file's `http.listen`; a malformed value is a start-up error naming the flag. */
export function withHttpListen(config: DaemonConfig, flag: string | undefined): DaemonConfig {
  if (flag === undefined) return config;
  const listen = parseListen(flag);
  if (listen === undefined)
    throw new RmxError(
      "CONFIG_INVALID",
      `--http ${flag}: expected HOST:PORT (e.g. 127.0.0.1:8765), [IPv6]:PORT or off`,
      { flag: "--http", value: flag },
    );
  const http = { ...config.http };
  if (listen === null) delete http.listen;
  else http.listen = listen;
  return { ...config, http };
}

export class HttpFace {
  gateway: Gateway | undefined;
  private token: string | undefined;
  /** Settles when the gateway's start was attempted; `http.token` waits for it so an early caller sees its outcome. */
  private readonly attempted: Promise<void>;
  private markAttempted: () => void = () => {};

  constructor(private readonly host: HttpFaceHost) {
    this.attempted = new Promise<void>((resolve) => {
      this.markAttempted = resolve;
    });
  }

  /** `http.token` and `dashboard.login`, for the socket's method table. */
  methods(): MethodTable {
    return {
      ...httpMethods({
        started: () => this.attempted,
        token: () => this.token,
        auth: () => this.host.config().http.auth,
        listening: () => this.gateway?.listening,
        problem: () => this.gateway?.notListening,
      }),
      "dashboard.login": { params: paramSchemas["dashboard.login"], handler: () => this.dashboardLogin() },
    };
  }

  /** The gateway on policy's routing (the token made or read first). */
  async start(): Promise<void> {
    try {
      await this.startGateway();
    } finally {
      this.markAttempted();
    }
  }

  /** `dashboard.login`: a one-time URL (60 s) to the dashboard; DASHBOARD_UNAVAILABLE without a listener. */
  dashboardLogin(): { url: string; expires_at: string } {
    const listening = this.gateway?.listening;
    if (listening === undefined)
      throw new RmxError(
        "DASHBOARD_UNAVAILABLE",
        `no HTTP listener for the dashboard: ${this.gateway?.notListening ?? "the gateway is off"} (set http.listen in the config or start rmxd with --http HOST:PORT)`,
      );
    const base = `http://${listening}`;
    const { token, expiresAt } = this.host.sessions.issueLogin();
    return { url: `${base}/login?token=${token}`, expires_at: rfc3339(expiresAt) };
  }

  async close(): Promise<void> {
    await this.gateway?.close();
  }

  private routes() {
    return observabilityRoutes({
      host: this.host.observabilityHost(),
      metrics: this.host.metrics,
      sessions: this.host.sessions,
      formatTime: (iso) => this.host.formatTime(iso),
    });
  }

  private async startGateway(): Promise<void> {
    const spec = this.host.config().http;
    const policy = this.host.policy();
    if (spec.listen === undefined || policy === undefined) return;
    if (spec.auth === "token") {
      const { token, created, file } = await loadOrCreateToken(this.host.stateDir);
      this.token = token;
      if (created) this.host.logger.info({ file }, "HTTP gateway token created (rmx http token prints it)");
    }
    this.gateway = new Gateway(spec, this.token, {
      logger: this.host.logger.child({ component: "http" }),
      // /metrics, the dashboard and /badge.svg on the same listener, under the same Host checks and token.
      routes: [
        ...this.routes(),
        inferRoute({
          routing: policy.serving(),
          maxBodyBytes: spec.max_body_bytes,
          bodyTimeoutMs: spec.body_timeout_ms,
        }),
      ],
      routing: policy.serving(),
      lookupModel: (m) => this.host.models().get(m),
      onCounted: () => this.host.noteChange(),
    });
    await this.gateway.start();
  }
}
