/**
 * Model files are opened non-blocking and fstat-checked: a FIFO, socket, directory or device is refused
 * with MODEL_INVALID naming the path and what it is, before any read (a FIFO never blocks a thread).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGgufHeader } from "../../adapters/shared/gguf/reader.js";
import { isRmxError } from "../../base/errors.js";
import { assertModelReadable } from "../../daemon/process/binary.js";

let dir: string;
let server: net.Server;
const sock = () => path.join(dir, "model.sock");

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-open-model-"));
  execFileSync("mkfifo", [path.join(dir, "pipe.gguf")]);
  server = net.createServer();
  await new Promise<void>((resolve) => server.listen(sock(), resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (error) {
    if (isRmxError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("opening model files", () => {
  it.each([
    ["a FIFO (named pipe)", () => path.join(dir, "pipe.gguf")],
    ["a socket", sock],
    ["a directory", () => dir],
    ["a character device", () => "/dev/null"],
  ])("readGgufHeader refuses %s before reading", async (kind, target) => {
    const file = target();
    // Many at once: with a blocking open, four FIFOs would fill libuv's threadpool and this would hang.
    const results = await Promise.all(Array.from({ length: 8 }, () => refusal(readGgufHeader(file))));
    for (const r of results) {
      expect(r.code).toBe("MODEL_INVALID");
      expect(r.message).toBe(`model file ${file} is ${kind}, not a regular file; point it at a .gguf file`);
    }
  });

  it("assertModelReadable refuses a FIFO and a socket naming what they are", async () => {
    const fifo = path.join(dir, "pipe.gguf");
    expect(await refusal(assertModelReadable(fifo))).toEqual({
      code: "MODEL_INVALID",
      message: `model file ${fifo} is a FIFO (named pipe), not a regular file; point it at a .gguf file`,
    });
    expect((await refusal(assertModelReadable(sock()))).message).toContain("is a socket");
  });
});
