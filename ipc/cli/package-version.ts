/** The CLI's version, read from package.json only when asked (keeps start-up free of file reads). */
import { readFile } from "node:fs/promises";

const PACKAGE_NAME = "runtime-matrix";

/** Walks up from this module (`ipc/cli/` in the sources, `dist/ipc/cli/` when built) to our package.json. */
export async function cliVersion(): Promise<string> {
  let dir = new URL("./", import.meta.url);
  for (let depth = 0; depth < 6; depth++) {
    try {
      const pkg = JSON.parse(await readFile(new URL("package.json", dir), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here: keep walking up
    }
    dir = new URL("../", dir);
  }
  return "unknown";
}
