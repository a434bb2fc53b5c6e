import { readFileSync } from "node:fs";

/** The package version, read once from package.json (two levels above both `daemon/` and `dist/daemon/`). */
export function productVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8"));
      if (pkg.name === "runtime-matrix" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return "0.0.0";
}
