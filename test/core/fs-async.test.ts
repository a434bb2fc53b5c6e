import { constants } from "node:fs";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fsa from "../../base/fs-async.js";

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "rmx-fs-async-"));
});
afterAll(async () => fsp.rm(dir, { recursive: true, force: true }));

/** What a rejection carries that callers read: the errno code, the syscall, the path. */
async function failure(p: Promise<unknown>): Promise<Record<string, unknown>> {
  const error = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as NodeJS.ErrnoException | undefined;
  expect(error, "it rejects").toBeInstanceOf(Error);
  return {
    code: error?.code,
    errno: error?.errno,
    syscall: error?.syscall,
    path: error?.path,
    message: error?.message,
  };
}

describe("base/fs-async: node:fs/promises' calls without loading it", () => {
  it("answers as node:fs/promises does, results and errors alike", async () => {
    const file = path.join(dir, "a.txt");
    await fsa.writeFile(file, "one\ntwo\n", { mode: 0o640 });
    expect(await fsa.readFile(file, "utf8")).toBe(await fsp.readFile(file, "utf8"));
    expect((await fsa.stat(file)).size).toBe((await fsp.stat(file)).size);
    expect((await fsa.stat(file)).mode & 0o777).toBe(0o640);
    await fsa.mkdir(path.join(dir, "d", "e"), { recursive: true, mode: 0o700 });
    expect((await fsa.readdir(dir)).sort()).toEqual((await fsp.readdir(dir)).sort());
    const typed = await fsa.readdir(dir, { withFileTypes: true });
    expect(typed.filter((d) => d.isDirectory()).map((d) => d.name)).toEqual(["d"]);
    await fsa.link(file, path.join(dir, "b.txt"));
    await fsa.rename(path.join(dir, "b.txt"), path.join(dir, "c.txt"));
    expect((await fsa.lstat(path.join(dir, "c.txt"))).nlink).toBe(2);
    await fsp.symlink(file, path.join(dir, "s"));
    expect(await fsa.readlink(path.join(dir, "s"))).toBe(file);
    expect(await fsa.realpath(path.join(dir, "s"))).toBe(await fsp.realpath(file));
    await fsa.chmod(file, 0o600);
    await fsa.access(file, constants.R_OK);
    await fsa.unlink(path.join(dir, "c.txt"));
    await fsa.rmdir(path.join(dir, "d", "e"));

    const missing = path.join(dir, "missing");
    expect(await failure(fsa.stat(missing))).toEqual(await failure(fsp.stat(missing)));
    expect(await failure(fsa.readFile(missing, "utf8"))).toEqual(
      await failure(fsp.readFile(missing, "utf8")),
    );
    const full = path.join(dir, "d");
    await fsa.mkdir(path.join(full, "f"));
    expect(await failure(fsa.rmdir(full))).toEqual(await failure(fsp.rmdir(full)));
  });

  it("open: a FileHandle that reads, writes, syncs and closes its descriptor; flags and mode as given", async () => {
    const file = path.join(dir, "h.bin");
    const created = await fsa.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    await created.writeFile("hello ");
    const { bytesWritten } = await created.write(Buffer.from("world!"), 0, 5);
    expect(bytesWritten).toBe(5);
    expect((await created.stat()).size).toBe(11);
    await created.sync();
    await created.close();
    expect((await fsa.stat(file)).mode & 0o777).toBe(0o600);

    const reading = await fsa.open(file, "r");
    const buffer = Buffer.alloc(5);
    const read = await reading.read(buffer, 0, 5, 6);
    expect(read.bytesRead).toBe(5);
    expect(read.buffer.toString()).toBe("world");
    expect(await reading.readFile("utf8")).toBe("hello world");
    await reading.close();
    // Closed means closed: the descriptor is gone.
    expect((await failure(reading.stat())).code).toBe("EBADF");

    expect(await failure(fsa.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL))).toEqual(
      await failure(fsp.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL)),
    );
    await fsp.symlink(file, path.join(dir, "link"));
    const nofollow = constants.O_RDONLY | constants.O_NOFOLLOW;
    expect(await failure(fsa.open(path.join(dir, "link"), nofollow))).toEqual(
      await failure(fsp.open(path.join(dir, "link"), nofollow)),
    );
  });
});
