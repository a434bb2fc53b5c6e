/**
 * The dashboard in a real headless Chromium over a real rmxd (the gateway's listener): one-time login
 * through `rmx dashboard --open` (its $BROWSER a script that hands the URL to this test), the badge, each
 * cell's tokens/s and error rate, a killed
 * backend seen in the cell and the badge within 1 s, quick actions validated like the socket's, the live
 * log tail, and axe-core with no serious or critical violation. With RMX_SCREENSHOT=1 it rewrites docs/dashboard.png.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, stopAll, tempDir } from "../support/daemon-harness.js";
import {
  CHROMIUM,
  hasChromium,
  type ObservedDaemon,
  recordingOpener,
  startObservedDaemon,
} from "./http-support.js";

const CHANGE_BOUND_MS = 1000;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await stopAll();
});

if (!hasChromium)
  console.warn(`skipping the dashboard browser test: ${CHROMIUM} is absent (apt-get install chromium)`);

/** Records every badge and cell text change with its wall time, in the page. */
async function recordChanges(page: Page): Promise<void> {
  // In-page code as text: this file is type-checked without the DOM library.
  await page.evaluate(`(() => {
    window.changes = [];
    const snap = () => {
      const badge = document.getElementById("badge")?.textContent ?? "";
      const cell = document.querySelector('td.cell[data-runtimes~="llama-stub"]')?.getAttribute("data-code") ?? "";
      const last = window.changes.at(-1);
      if (!last || last.badge !== badge || last.cell !== cell) window.changes.push({ at: Date.now(), badge, cell });
    };
    new MutationObserver(snap).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    snap();
  })()`);
}

describe.skipIf(!hasChromium)("dashboard in headless Chromium", () => {
  it("logs in, shows live state within 1 s, runs quick actions, passes axe", {
    timeout: 120_000,
  }, async () => {
    const node: ObservedDaemon = await startObservedDaemon("dash");
    // Routed requests first, so the cell has throughput and requests to show.
    for (let i = 0; i < 3; i++) {
      const chat = await node.daemon.cli(["chat", "--model", "stub-model", `hello ${i}`]);
      expect(chat.code, chat.stderr).toBe(0);
    }
    const opener = await recordingOpener(await tempDir("rmx-browser-"));
    const cli = await node.daemon.cli(["dashboard", "--open", "--json"], { env: { BROWSER: opener.script } });
    expect(cli.code, cli.stderr).toBe(0);
    const login = JSON.parse(cli.stdout) as { url: string; expires_at: string };
    expect(login.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?token=/);
    expect(await opener.next()).toBe(login.url);

    // Without a session: the page says how to log in; the API refuses.
    expect((await fetch(`${node.url}/`)).status).toBe(401);
    expect((await fetch(`${node.url}/api/state`)).status).toBe(401);
    expect((await fetch(`${node.url}/badge.svg`)).status).toBe(401);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    // bypassCSP only so the test can inject axe-core: the page's own CSP allows scripts from itself only.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    // Script errors only: the refused requests below are logged by Chromium as failed resources.
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(login.url);
    expect(new URL(page.url()).pathname).toBe("/");
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "rmx_session");
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");

    // The login URL is single-use.
    expect((await fetch(login.url, { redirect: "manual" })).status).toBe(401);

    const badge = page.locator("#badge");
    await expect.poll(() => badge.textContent(), { timeout: 20_000 }).toContain("1/1 ready");
    expect(await badge.getAttribute("role")).toBe("status");
    expect(await badge.getAttribute("aria-label")).toMatch(/1\/1 ready · 3 restarts left/);
    await page.locator("#live", { hasText: "live" }).waitFor();
    const cell = page.locator('td.cell[data-runtimes~="llama-stub"]');
    expect(await cell.getAttribute("data-code")).toBe("ready");
    expect(await cell.locator("[role=status]").getAttribute("aria-label")).toMatch(/\S+\. \S+/);
    // Tokens/s and the error rate of each cell, as text (not colour) and as data.
    await expect
      .poll(() => cell.getAttribute("data-tokens-per-second"), { timeout: 20_000 })
      .toMatch(/^\d+(\.\d+)?$/);
    const facts = (await cell.locator(".facts").textContent()) ?? "";
    console.log(`dashboard: cell facts "${facts}"`);
    expect(facts).toMatch(/^\d+\.\d tok\/s · /);
    expect(facts).toMatch(/\d+\.\d% (request|probe) errors/);
    expect(await cell.getAttribute("data-error-rate")).toMatch(/^\d+(\.\d+)?(e-?\d+)?$/);
    // What the cell serves, as a caption of words, and the unit its rate is in.
    expect(await cell.locator(".caps").textContent()).toBe("chat · completion · embeddings");
    expect(await cell.getAttribute("data-capabilities")).toBe("chat completion embeddings");
    expect(await cell.getAttribute("data-rate-unit")).toBe("tok/s");

    // Kill the backend: the cell and the badge change within 1 s.
    await recordChanges(page);
    const rt = (await node.daemon.status()).runtimes.find((r) => r.id === "llama-stub");
    const killedAt = Date.now();
    process.kill(rt?.pid as number, "SIGKILL");
    const changed = await page.waitForFunction(
      `(() => {
        const first = window.changes[0];
        return window.changes.find((c) => c.badge !== first?.badge && c.cell !== "ready") ?? false;
      })()`,
      undefined,
      { timeout: 10_000, polling: 20 },
    );
    const change = (await changed.jsonValue()) as { at: number; badge: string; cell: string };
    const latency = change.at - killedAt;
    console.log(`dashboard: kill → badge "${change.badge}", cell ${change.cell} after ${latency} ms`);
    expect(latency).toBeLessThanOrEqual(CHANGE_BOUND_MS);

    // It comes back on its own, with one restart used.
    await expect
      .poll(() => badge.textContent(), { timeout: 30_000 })
      .toContain("1/1 ready · 2 restarts left");
    const row = page.locator('tr[data-runtime="llama-stub"]');
    expect(await row.locator("td[data-budget]").textContent()).toMatch(/^2 of 3 restarts left/);

    // Quick action: stop, then start, through the buttons.
    await row.locator('button[data-action="stop"]').click();
    await page.locator('tr[data-runtime="llama-stub"][data-state="stopped"]').waitFor({ timeout: 30_000 });
    await page.locator('tr[data-runtime="llama-stub"] button[data-action="start"]').click();
    await page.locator('tr[data-runtime="llama-stub"][data-state="ready"]').waitFor({ timeout: 30_000 });

    // Validated exactly like the socket: an unknown key is refused by runtime.restore's schema; no CSRF → 403.
    type Answer = { status: number; body: { error: { code: string; message: string } } };
    const refused = (await page.evaluate(`(async () => {
      const csrf = document.querySelector('meta[name="rmx-csrf"]').content;
      const post = (headers, body) =>
        fetch("/api/action", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })
          .then(async (r) => ({ status: r.status, body: await r.json() }));
      return {
        bogus: await post({ "x-rmx-csrf": csrf }, { method: "runtime.restore", params: { id: "llama-stub", reset_buget: true } }),
        unknown: await post({ "x-rmx-csrf": csrf }, { method: "runtime.restore", params: { id: "nope" } }),
        other: await post({ "x-rmx-csrf": csrf }, { method: "config.reload", params: {} }),
        noCsrf: await post({}, { method: "runtime.stop", params: { id: "llama-stub" } }),
      };
    })()`)) as Record<"bogus" | "unknown" | "other" | "noCsrf", Answer>;
    expect(refused.bogus.status).toBe(400);
    expect(refused.bogus.body.error.message).toBe('runtime.restore: params: unknown key "reset_buget"');
    expect(refused.unknown.status).toBe(404);
    expect(refused.unknown.body.error.code).toBe("RUNTIME_NOT_FOUND");
    expect(refused.other.status).toBe(400);
    expect(refused.noCsrf.status).toBe(403);

    // Open logs: a live tail.
    await row.locator('button[data-action="logs"]').click();
    await expect
      .poll(async () => (await page.locator("#logs").textContent())?.length ?? 0, { timeout: 10_000 })
      .toBeGreaterThan(0);

    // axe-core: no serious or critical violation, in the light and the dark scheme.
    const axeSource = readFileSync(path.join(REPO, "node_modules/axe-core/axe.min.js"), "utf8");
    await page.addScriptTag({ content: axeSource });
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const violations = (await page.evaluate(
        "axe.run().then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help })))",
      )) as { id: string; impact: string; help: string }[];
      const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      expect(bad, `${scheme}: ${JSON.stringify(bad)}`).toEqual([]);
    }

    await page.emulateMedia({ colorScheme: "light" });
    await page.locator("#logs-close").click();
    // The README's screenshot is rewritten only on request (RMX_SCREENSHOT=1): a test run leaves the tree clean.
    const shot = await page.screenshot({
      fullPage: true,
      ...(process.env.RMX_SCREENSHOT === "1" ? { path: path.join(REPO, "docs/dashboard.png") } : {}),
    });
    expect(shot.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(pageErrors).toEqual([]);
  });
});
