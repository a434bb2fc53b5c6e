/**
 * The `ipc.*` wire-limit keys reach the socket server of a real daemon: a batch past `ipc.max_batch` is
 * refused call by call with that limit, and a line left unfinished past `ipc.line_timeout` is answered
 * LINE_TIMEOUT naming it. Old code (main): the keys were unknown and the config was refused.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RawConn } from "../ipc/helpers.js";
import { stopAll, until } from "../support/daemon-harness.js";
import { configText, removeDaemonDirs, report, startFaultDaemon, stubRuntime } from "./fault-support.js";

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

describe("ipc wire limits from the config", () => {
  it("applies ipc.max_batch and ipc.line_timeout", async () => {
    const h = await startFaultDaemon({
      config: configText({
        ipc: { max_batch: 2, line_timeout: "300ms", max_json_depth: 16 },
        runtimes: [stubRuntime("r1")],
      }),
    });
    const c = await RawConn.open(h.socket);
    const hello = (id: number) => ({ jsonrpc: "2.0", id, method: "daemon.hello" });
    const batch = (await c.request(JSON.stringify([hello(1), hello(2), hello(3)]))) as unknown as Array<{
      id: number;
      result?: unknown;
      error?: { data?: { code?: string; limit?: number } };
    }>;
    const refused = batch.filter((a) => a.error !== undefined);
    c.send('{"jsonrpc":"2.0","id":9,"method":"daemon.hel');
    await until(() => c.closed, 10_000, "the unfinished line to time out");
    const last = c.messages().at(-1) as { error?: { data?: { code?: string; limit?: number } } };
    report("ipc config keys", {
      batch_run: batch.length - refused.length,
      batch_refused: refused.map((a) => a.error?.data?.code),
      line_timeout: last.error?.data,
    });
    expect(batch.length - refused.length).toBe(2);
    expect(refused).toEqual([
      expect.objectContaining({
        id: 3,
        error: expect.objectContaining({
          data: expect.objectContaining({ code: "BATCH_TOO_LARGE", limit: 2 }),
        }),
      }),
    ]);
    expect(last.error?.data).toMatchObject({ code: "LINE_TIMEOUT", limit: 300 });
  }, 60_000);
});
