/**
 * The CLI's code cache file (ipc/cli/code-cache.ts): what is fed to V8 is exactly what was written for
 * this bundle or nothing, whatever happened to the file; where it lives; which files are trusted.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  codeCacheDir,
  codeCacheName,
  decodeCodeCache,
  encodeCodeCache,
  PRUNE_AFTER_MS,
  pruneOtherBundles,
  readOwnFile,
  writeFileAtomic,
} from "../../ipc/cli/code-cache.js";

const idArb = fc.stringMatching(/^[0-9a-f]{1,32}$/);
const payloadArb = fc.uint8Array({ minLength: 1, maxLength: 512 });

describe("code cache file format", () => {
  it("decodes what it encoded, for the bundle it was made for only", () => {
    fc.assert(
      fc.property(idArb, idArb, payloadArb, fc.boolean(), (id, other, payload, hot) => {
        const file = encodeCodeCache(id, payload, hot);
        const back = decodeCodeCache(file, id);
        expect(back?.hot).toBe(hot);
        expect(Buffer.from(back?.payload ?? [])).toEqual(Buffer.from(payload));
        if (other !== id) expect(decodeCodeCache(file, other)).toBeUndefined();
      }),
    );
  });

  it("a changed byte anywhere yields nothing or the very payload written (never other bytes for V8)", () => {
    fc.assert(
      fc.property(
        idArb,
        payloadArb,
        fc.boolean(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (id, payload, hot, at, xor) => {
          const file = encodeCodeCache(id, payload, hot);
          const i = at % file.length;
          file[i] = (file[i] as number) ^ xor;
          const back = decodeCodeCache(file, id);
          if (back !== undefined) expect(Buffer.from(back.payload)).toEqual(Buffer.from(payload));
        },
      ),
    );
  });

  it("a truncated or extended file, or one of zeros or garbage, yields nothing", () => {
    fc.assert(
      fc.property(idArb, payloadArb, fc.boolean(), fc.nat(), (id, payload, hot, cut) => {
        const file = encodeCodeCache(id, payload, hot);
        expect(decodeCodeCache(file.subarray(0, cut % file.length), id)).toBeUndefined();
        expect(decodeCodeCache(Buffer.concat([file, Buffer.from([0])]), id)).toBeUndefined();
        expect(decodeCodeCache(Buffer.alloc(file.length), id)).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(idArb, fc.uint8Array({ maxLength: 2048 }), (id, garbage) => {
        expect(decodeCodeCache(Buffer.from(garbage), id)).toBeUndefined();
      }),
    );
  });
});

describe("code cache location", () => {
  it("is under XDG_CACHE_HOME, else ~/.cache, else nowhere; RMX_NO_CODE_CACHE=1 turns it off", () => {
    expect(codeCacheDir({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" }, "linux")).toBe(
      "/x/cache/runtime-matrix/cli",
    );
    expect(codeCacheDir({ XDG_CACHE_HOME: "relative", HOME: "/home/u" }, "linux")).toBe(
      "/home/u/.cache/runtime-matrix/cli",
    );
    expect(codeCacheDir({ HOME: "/home/u" }, "darwin")).toBe("/home/u/.cache/runtime-matrix/cli");
    expect(codeCacheDir({}, "linux")).toBeUndefined();
    expect(codeCacheDir({ HOME: "" }, "linux")).toBeUndefined();
    expect(codeCacheDir({ HOME: "/home/u", RMX_NO_CODE_CACHE: "1" }, "linux")).toBeUndefined();
  });

  it("names one file per bundle and Node build", () => {
    expect(codeCacheName("abc", "v20.19.0", "x64")).toBe("rmx-core-abc-v20.19.0-x64.bin");
  });
});

describe("code cache files", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmx-code-cache-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("are written whole into a private directory it creates", () => {
    const file = path.join(dir, "new", "sub", "c.bin");
    writeFileAtomic(file, Buffer.from("abc"));
    expect(fs.readFileSync(file, "utf8")).toBe("abc");
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    writeFileAtomic(file, Buffer.from("defg"));
    expect(readOwnFile(file)?.toString()).toBe("defg");
    expect(fs.readdirSync(path.dirname(file))).toEqual(["c.bin"]);
  });

  it("are read only when they are our own regular files that nobody else may write", () => {
    const own = path.join(dir, "own.bin");
    fs.writeFileSync(own, "ok", { mode: 0o600 });
    expect(readOwnFile(own)?.toString()).toBe("ok");
    const link = path.join(dir, "link.bin");
    fs.symlinkSync(own, link);
    expect(readOwnFile(link)).toBeUndefined();
    const shared = path.join(dir, "shared.bin");
    fs.writeFileSync(shared, "x");
    fs.chmodSync(shared, 0o666);
    expect(readOwnFile(shared)).toBeUndefined();
    fs.chmodSync(shared, 0o620);
    expect(readOwnFile(shared)).toBeUndefined();
    expect(readOwnFile(dir)).toBeUndefined();
    expect(readOwnFile(path.join(dir, "missing.bin"))).toBeUndefined();
  });

  it("of other builds are pruned once unused for a week; ours, recent ones and unrelated files stay", () => {
    const sub = path.join(dir, "prune");
    fs.mkdirSync(sub);
    const now = Date.now();
    const old = new Date(now - PRUNE_AFTER_MS - 60_000);
    const names = {
      own: codeCacheName("new", "v20.1.0", "x64"),
      oldBundle: codeCacheName("old", "v20.1.0", "x64"),
      oldNode: codeCacheName("new", "v18.1.0", "x64"),
      recent: codeCacheName("other", "v20.1.0", "x64"),
      oldTemp: `.${codeCacheName("new", "v20.1.0", "x64")}.123.tmp`,
      unrelated: "unrelated.txt",
    };
    for (const name of Object.values(names)) fs.writeFileSync(path.join(sub, name), "x");
    for (const name of [names.own, names.oldBundle, names.oldNode, names.oldTemp, names.unrelated])
      fs.utimesSync(path.join(sub, name), old, old);
    pruneOtherBundles(path.join(sub, names.own), now);
    expect(fs.readdirSync(sub).sort()).toEqual([names.own, names.recent, names.unrelated].sort());
    pruneOtherBundles(path.join(dir, "gone", "x.bin"), now);
  });
});
