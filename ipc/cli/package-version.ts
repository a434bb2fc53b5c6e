/** The CLI's version, read from package.json only when asked (keeps start-up free of file reads). */
import { packageVersion } from "../../base/version.js";

export async function cliVersion(): Promise<string> {
  return packageVersion() ?? "unknown";
}
