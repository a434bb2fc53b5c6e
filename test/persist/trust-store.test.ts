import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { isRmxError, RmxError } from "../../base/errors.js";
import { assertTrusted, ensureTrustedDir } from "../../base/fs-trust.js";
import { StateStore } from "../../daemon/persist/state-store.js";
import { ProblemBoard } from "../../daemon/problems.js";

const uid = process.getuid?.() ?? 0;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-trust-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as RmxError,
  );

describe("assertTrusted", () => {
  it("accepts an own 0700 dir under a sticky /tmp and refuses group-writable unless the group is exempt", async () => {
    const d = path.join(dir, "state");
    await mkdir(d, { mode: 0o700 });
    await assertTrusted("state dir", d, "directory", { uid });
    await chmod(d, 0o770);
    const error = await refusal(assertTrusted("state dir", d, "directory", { uid }));
    expect(isRmxError(error, "PATH_UNTRUSTED")).toBe(true);
    expect(error?.message).toContain("writable by group");
    expect(error?.message).toContain("mode 0770");
    const gid = process.getgid?.() ?? 0;
    await assertTrusted("state dir", d, "directory", { uid, writableGroup: gid });
    // The exemption is for directories only: a group-writable config is still refused.
    const file = path.join(dir, "rmx.yaml");
    await writeFile(file, "runtimes: []\n");
    await chmod(file, 0o660);
    expect(
      await refusal(assertTrusted("config file", file, "file", { uid, writableGroup: gid })),
    ).toBeDefined();
  });

  it("refuses a symlink leaf and a parent writable by others, naming that parent", async () => {
    const real = path.join(dir, "real.yaml");
    await writeFile(real, "");
    await symlink(real, path.join(dir, "link.yaml"));
    const link = await refusal(assertTrusted("config file", path.join(dir, "link.yaml"), "file", { uid }));
    expect(link?.message).toContain("symbolic link");
    const open = path.join(dir, "open");
    await mkdir(path.join(open, "state"), { recursive: true, mode: 0o700 });
    await chmod(open, 0o777);
    const parent = await refusal(assertTrusted("state dir", path.join(open, "state"), "directory", { uid }));
    expect(parent?.message).toContain(`parent of state dir ${open} is not trusted`);
    expect(parent?.data?.fix).toBe(`chmod go-w ${open}`);
  });

  it("ensureTrustedDir creates missing levels 0700", async () => {
    const d = path.join(dir, "a", "b");
    await ensureTrustedDir("state dir", d, { uid });
    const { stat } = await import("node:fs/promises");
    expect((await stat(path.join(dir, "a"))).mode & 0o777).toBe(0o700);
    expect((await stat(d)).mode & 0o777).toBe(0o700);
  });
});

describe("StateStore write health and ProblemBoard", () => {
  it("committed() rejects while the newest write failed; the problem keeps its since and clears on success", async () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const board = new ProblemBoard(clock);
    const file = path.join(dir, "sub", "state.json");
    const store = new StateStore(
      file,
      (v) => v as { n: number },
      () => ({ n: 0 }),
      {
        onWrite: (error) => board.report("state", error),
      },
    );
    await store
      .update((d) => {
        d.n = 1;
      })
      .catch(() => undefined);
    const failed = await refusal(store.committed());
    expect(isRmxError(failed, "STATE_WRITE_FAILED")).toBe(true);
    expect(failed?.message).toContain("no such file or directory (ENOENT)");
    const [problem] = board.list();
    expect(problem).toMatchObject({
      code: "STATE_WRITE_FAILED",
      path: file,
      since: "2025-01-01T00:00:00.000Z",
    });
    clock.advance(5000);
    await store
      .update((d) => {
        d.n = 2;
      })
      .catch(() => undefined);
    expect(board.list()[0]?.since).toBe("2025-01-01T00:00:00.000Z");
    await mkdir(path.dirname(file));
    await store.update((d) => {
      d.n = 3;
    });
    await store.committed();
    expect(store.writeError).toBeUndefined();
    expect(board.list()).toEqual([]);
    board.report("log:x", new RmxError("LOG_WRITE_FAILED", "cannot write log", { path: "/x" }));
    expect(board.list()).toHaveLength(1);
  });
});
