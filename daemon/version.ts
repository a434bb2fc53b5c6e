import { packageVersion } from "../base/version.js";

/** The daemon's version for `daemon.hello` and logs; "0.0.0" when package.json cannot be found. */
export function productVersion(): string {
  return packageVersion() ?? "0.0.0";
}
