import { mkdir, mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isRmxError, type RmxError } from "../../base/errors.js";

/** A fresh temporary directory with an empty `home/` in it, for a config test's files and `~`. */
export async function makeConfigHome(prefix: string): Promise<{ dir: string; home: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const home = path.join(dir, "home");
  await mkdir(home);
  return { dir, home };
}

/** The RmxError `promise` rejects with; anything else (a fulfilment, another error) fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<RmxError> {
  try {
    await promise;
  } catch (err) {
    if (isRmxError(err)) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}
