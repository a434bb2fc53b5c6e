import { chmod, mkdir, writeFile } from "node:fs/promises";
import type { Server } from "node:net";
import { createServer } from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import { assertModelReadable, resolveBinary } from "../../daemon/process/binary.js";
import { allocatePort, assertPortFree } from "../../daemon/process/port.js";
import { tempDir } from "./fixtures.js";

let dir: string;
let cleanup: () => Promise<void>;
const servers: Server[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  await cleanup();
});

async function catchError(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error("expected a rejection");
  return error;
}

describe("ports", () => {
  it("allocates a free loopback port, and detects one that is taken", async () => {
    const port = await allocatePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65_536);
    await assertPortFree("127.0.0.1", port);

    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const error = await catchError(assertPortFree("127.0.0.1", port));
    expect(isRmxError(error, "PORT_IN_USE")).toBe(true);
    expect(error.message).toBe(`port ${port} on 127.0.0.1 is already in use (by another process)`);
  });
});

describe("resolveBinary", () => {
  async function makeFile(rel: string, mode: number): Promise<string> {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, "#!/bin/sh\nexit 0\n");
    await chmod(file, mode);
    return file;
  }

  it("finds a command on PATH, skipping a non-executable one earlier on PATH", async () => {
    await makeFile("a/fake-server", 0o644);
    const good = await makeFile("b/fake-server", 0o755);
    const env = { PATH: [path.join(dir, "a"), path.join(dir, "b")].join(path.delimiter) };
    expect(await resolveBinary("fake-server", env)).toBe(good);
  });

  it("resolves absolute and relative paths", async () => {
    const good = await makeFile("bin/fake-server", 0o755);
    expect(await resolveBinary(good, {})).toBe(good);
    expect(await resolveBinary(path.relative(process.cwd(), good), {})).toBe(good);
  });

  it("BINARY_NOT_FOUND lists the PATH it searched and the hint", async () => {
    const env = { PATH: [path.join(dir, "x"), path.join(dir, "y")].join(path.delimiter) };
    const error = await catchError(
      resolveBinary("llama-server", env, { hint: "set LLAMA_SERVER_BIN or runtimes[0].binary" }),
    );
    expect(isRmxError(error, "BINARY_NOT_FOUND")).toBe(true);
    expect(error.message).toBe(
      `binary not found: llama-server (searched PATH: ${env.PATH}); set LLAMA_SERVER_BIN or runtimes[0].binary`,
    );
    const missingPath = path.join(dir, "nope", "llama-server");
    const byPath = await catchError(resolveBinary(missingPath, env));
    expect(isRmxError(byPath, "BINARY_NOT_FOUND")).toBe(true);
    expect(byPath.message).toBe(`binary not found: ${missingPath}`);
  });

  it.runIf(process.platform !== "win32")("BINARY_NOT_EXECUTABLE names the file and its mode", async () => {
    const file = await makeFile("bin/plain", 0o644);
    const error = await catchError(resolveBinary(file, {}));
    expect(isRmxError(error, "BINARY_NOT_EXECUTABLE")).toBe(true);
    expect(error.message).toBe(`not executable: ${file} (mode 0644)`);
    const onPath = await catchError(resolveBinary("plain", { PATH: path.join(dir, "bin") }));
    expect(onPath.message).toBe(`not executable: ${file} (mode 0644)`);
    const asDir = await catchError(resolveBinary(path.join(dir, "bin"), {}));
    expect(asDir.message).toBe(`not executable: ${path.join(dir, "bin")} (is a directory)`);
  });
});

describe("assertModelReadable", () => {
  it("returns the size of a readable model and names the path when it is missing or not a file", async () => {
    const model = path.join(dir, "tiny.gguf");
    await writeFile(model, Buffer.alloc(1234, 1));
    expect(await assertModelReadable(model)).toEqual({ size: 1234 });

    const missing = path.join(dir, "absent.gguf");
    const error = await catchError(assertModelReadable(missing));
    expect(isRmxError(error, "MODEL_MISSING")).toBe(true);
    expect(error.message).toBe(`model file not found: ${missing}`);

    const asDir = await catchError(assertModelReadable(dir));
    expect(isRmxError(asDir, "MODEL_MISSING")).toBe(true);
    expect(asDir.message).toBe(`model path is a directory, not a model file: ${dir}`);
  });
});
