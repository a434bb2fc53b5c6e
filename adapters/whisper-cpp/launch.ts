import path from "node:path";
import type { LaunchPlan } from "../types.js";

/**
 * The command for a backend binary: a `.js`/`.mjs` file (the bundled stubs, a user's Node server) is run by
 * this very node, anything else as it is.
 */
export function nodeOrBinary(binary: string, args: string[]): Pick<LaunchPlan, "command" | "args"> {
  return /\.m?js$/i.test(path.basename(binary))
    ? { command: process.execPath, args: [binary, ...args] }
    : { command: binary, args };
}
