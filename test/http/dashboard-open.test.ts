/**
 * `rmx dashboard --open` for real: the opener is `--opener CMD`, else `$BROWSER`, else the platform's; a test
 * points it at a script that records the URL it was given, then logs in with that URL over real HTTP (the
 * cookie HttpOnly and SameSite=Strict, the URL single-use). A missing opener is BROWSER_OPEN_FAILED (exit 1)
 * saying to open the printed URL by hand.
 */
import { afterAll, describe, expect, it } from "vitest";
import { openers } from "../../ipc/cli/commands/dashboard-opener.js";
import { stopAll, tempDir } from "../support/daemon-harness.js";
import { recordingOpener, startObservedDaemon } from "./http-support.js";
import { raw } from "./support.js";

afterAll(stopAll);

/** Follows a login URL as a browser would: the session cookie it sets, or the refusal. */
async function redeem(url: string) {
  const u = new URL(url);
  return raw(u.host, { path: `${u.pathname}${u.search}`, headers: { host: u.host } });
}

describe("rmx dashboard --open", () => {
  it("hands the login URL to $BROWSER, which logs in once; --opener beats $BROWSER", {
    timeout: 60_000,
  }, async () => {
    const node = await startObservedDaemon("open");
    const dir = await tempDir("rmx-opener-");
    const browser = await recordingOpener(dir, "browser");
    const flagged = await recordingOpener(dir, "flagged");

    const r = await node.daemon.cli(["dashboard", "--open"], { env: { BROWSER: browser.script } });
    expect(r.code, r.stderr).toBe(0);
    const printed = r.stdout.split("\n")[0] as string;
    expect(printed).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?token=/);
    const opened = await browser.next();
    expect(opened).toBe(printed);

    const first = await redeem(opened as string);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe("/");
    const cookie = String(first.headers["set-cookie"] ?? "");
    expect(cookie).toMatch(/^rmx_session=/);
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    const host = new URL(printed).host;
    const page = await raw(host, { path: "/", headers: { host, cookie: cookie.split(";")[0] as string } });
    expect(page.status).toBe(200);
    expect(page.body).toContain("<html");
    // One-time: the same URL again is refused and sets no cookie.
    const second = await redeem(opened as string);
    expect(second.status).toBe(401);
    expect(second.headers["set-cookie"]).toBeUndefined();

    const f = await node.daemon.cli(["dashboard", "--opener", flagged.script], {
      env: { BROWSER: browser.script },
    });
    expect(f.code, f.stderr).toBe(0);
    const byFlag = await flagged.next();
    expect(byFlag).toBe(f.stdout.split("\n")[0]);
    expect(await browser.urls()).toHaveLength(1);
    expect((await redeem(byFlag as string)).status).toBe(303);
  });

  it("a missing opener: BROWSER_OPEN_FAILED, exit 1, the URL still printed to open by hand", {
    timeout: 60_000,
  }, async () => {
    const node = await startObservedDaemon("noopen");
    const missing = "/nonexistent/rmx-test-browser";
    const r = await node.daemon.cli(["dashboard", "--open"], { env: { BROWSER: missing } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?token=\S+$/m);
    expect(r.stderr).toContain(`${missing} ($BROWSER): not found`);
    expect(r.stderr).toMatch(/Open the login URL printed above by hand/);

    const j = await node.daemon.cli(["dashboard", "--json", "--opener", missing]);
    expect(j.code).toBe(1);
    expect((JSON.parse(j.stdout) as { url: string }).url).toMatch(/\/login\?token=/);
    const error = JSON.parse(j.stderr) as { error: { code: string; message: string } };
    expect(error.error.code).toBe("BROWSER_OPEN_FAILED");
    expect(error.error.message).toContain(`${missing} (--opener): not found`);
    // The URL printed is still good: opening it by hand logs in.
    expect((await redeem((JSON.parse(j.stdout) as { url: string }).url)).status).toBe(303);
  });
});

describe("which opener", () => {
  const url = "http://127.0.0.1:1/login?token=t&x=1";
  it("--opener, else each $BROWSER entry in turn (%s is the URL), else the platform's", () => {
    expect(openers(url, "mybrowser --new-window", { BROWSER: "other" })).toEqual([
      { source: "--opener", argv: ["mybrowser", "--new-window", url] },
    ]);
    expect(openers(url, undefined, { BROWSER: `a:b --app=%s:` })).toEqual([
      { source: "$BROWSER", argv: ["a", url] },
      { source: "$BROWSER", argv: ["b", `--app=${url}`] },
    ]);
    const fallback = openers(url, undefined, {});
    expect(fallback).toHaveLength(1);
    expect(fallback[0]?.source).toBe("platform default");
    expect(fallback[0]?.argv.at(-1)).toBe(url);
  });
});
