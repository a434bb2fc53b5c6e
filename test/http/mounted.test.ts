/**
 * The "see it" routes on the gateway's own listener: /metrics with the gateway's token (or without it under
 * `http.metrics_auth: none`), /badge.svg with the token, and the dashboard through a one-time login URL that
 * `dashboard.login` builds on the gateway's address — one listener, one Host check, one token.
 */
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../policy-e2e/support.js";
import { RMXD, stopAll } from "../support/daemon-harness.js";
import { raw, startGateway } from "./support.js";

const CONFIG = `
runtimes:
  - { id: alpha, adapter: llama-stub, args: ["--alias", "alpha"], auto_start: true }
`;

afterAll(async () => {
  await stopAll();
});

describe("observability routes mounted on the gateway", () => {
  it("serves /metrics and /badge.svg with the token only, and the dashboard through its login URL", async () => {
    const g = await startGateway({ config: CONFIG });
    await g.d.waitForState("alpha", ["ready"], 20_000);
    const bearer = { authorization: `Bearer ${g.token}` };

    const refused = await raw(g.listen, { path: "/metrics", headers: { host: g.listen } });
    expect(refused.status).toBe(401);
    const metrics = await raw(g.listen, { path: "/metrics", headers: { host: g.listen, ...bearer } });
    expect(metrics.status).toBe(200);
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(/^rmx_restart_budget_remaining\{[^}]*runtime="alpha"[^}]*\} 3$/m);

    expect((await raw(g.listen, { path: "/badge.svg", headers: { host: g.listen } })).status).toBe(401);
    const badge = await raw(g.listen, { path: "/badge.svg", headers: { host: g.listen, ...bearer } });
    expect(badge.status).toBe(200);
    expect(badge.body).toContain("<svg");

    // The Host check covers the mounted routes too (DNS rebinding).
    const foreign = await raw(g.listen, { path: "/metrics", headers: { host: "evil.example", ...bearer } });
    expect(foreign.status).toBe(403);

    const login = await call<{ url: string; expires_at: string }>(g.d, "dashboard.login");
    expect(login.url.startsWith(`http://${g.listen}/login?token=`)).toBe(true);
    const path = login.url.slice(`http://${g.listen}`.length);
    const redeemed = await raw(g.listen, { path, headers: { host: g.listen } });
    const cookie = String(redeemed.headers["set-cookie"] ?? "");
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const page = await raw(g.listen, {
      path: "/",
      headers: { host: g.listen, cookie: cookie.split(";")[0] as string },
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain("<html");
    // Single use.
    expect(
      (await raw(g.listen, { path, headers: { host: g.listen } })).headers["set-cookie"],
    ).toBeUndefined();
  }, 60_000);

  it("http.metrics_auth: none opens /metrics (and only /metrics) without the token", async () => {
    const g = await startGateway({ config: `http: { metrics_auth: none }\n${CONFIG}` });
    const open = await raw(g.listen, { path: "/metrics", headers: { host: g.listen } });
    expect(open.status).toBe(200);
    expect(open.body).toContain("rmx_runtime_ready");
    expect((await raw(g.listen, { path: "/badge.svg", headers: { host: g.listen } })).status).toBe(401);
    expect((await raw(g.listen, { path: "/v1/models", headers: { host: g.listen } })).status).toBe(401);
  }, 60_000);

  it("the temporary --observability / --metrics-auth listener is gone: rmxd refuses the flags", () => {
    for (const flag of [
      ["--observability", "127.0.0.1:0"],
      ["--metrics-auth", "none"],
    ]) {
      const r = spawnSync(process.execPath, [RMXD, ...flag], { encoding: "utf8", timeout: 20_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`Unknown option '${flag[0]}'`);
    }
  });
});
