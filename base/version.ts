import { readFileSync } from "node:fs";

const PACKAGE_NAME = "runtime-matrix";

/**
 * The package version from our package.json, walking up from this module (`base/` in the sources,
 * `dist/base/` when built); `undefined` when it cannot be found. Read when called, never at import.
 */
export function packageVersion(): string | undefined {
  let dir = new URL("./", import.meta.url);
  for (let depth = 0; depth < 6; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here: keep walking up
    }
    dir = new URL("../", dir);
  }
  return undefined;
}
