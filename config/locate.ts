/**
 * Where the configuration comes from, without reading it: the daemon's own process needs this much,
 * and nothing that parses YAML or builds the schema (config/load-apart.ts loads the file in a child).
 */

import os from "node:os";
import path from "node:path";
import { RmxError } from "../base/errors.js";
import { stat } from "../base/fs-async.js";
import { expandPath } from "./expand-path.js";

export interface ConfigLocation {
  path?: string;
  origin: "flag" | "env" | "xdg" | "embedded";
}

export const ORIGIN_LABEL = {
  flag: "--config",
  env: "RMX_CONFIG",
  xdg: "XDG config",
  embedded: "embedded",
} as const;

/** `$XDG_CONFIG_HOME/runtime-matrix/rmx.yaml`, XDG_CONFIG_HOME defaulting to `~/.config` (and ignored if relative). */
export function xdgConfigPath(env: NodeJS.ProcessEnv, home: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(home, ".config");
  return path.join(base, "runtime-matrix", "rmx.yaml");
}

async function fileKind(p: string): Promise<"file" | "other" | "absent"> {
  try {
    return (await stat(p)).isFile() ? "file" : "other";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "absent";
    throw new RmxError("CONFIG_NOT_FOUND", `config file ${p} cannot be read (${code ?? String(err)})`, {
      path: p,
    });
  }
}

/**
 * Where the config comes from: --config, then RMX_CONFIG, then the XDG file if it exists, else the embedded
 * default. An explicit path that is missing is an error, never a silent fall-back.
 */
export async function locateConfig(opts: {
  flag?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
}): Promise<ConfigLocation> {
  const env = opts.env ?? process.env;
  const home = opts.home ?? os.homedir();
  const explicit: Array<["flag" | "env", string | undefined]> = [
    ["flag", opts.flag],
    ["env", env.RMX_CONFIG],
  ];
  for (const [origin, given] of explicit) {
    if (given === undefined || given === "") continue;
    const p = expandPath(given, { baseDir: process.cwd(), home });
    const kind = await fileKind(p);
    if (kind === "file") return { path: p, origin };
    throw new RmxError(
      "CONFIG_NOT_FOUND",
      kind === "absent"
        ? `config file ${p} (from ${ORIGIN_LABEL[origin]}) does not exist`
        : `config file ${p} (from ${ORIGIN_LABEL[origin]}) is not a regular file`,
      { path: p, origin },
    );
  }
  const xdg = xdgConfigPath(env, home);
  if ((await fileKind(xdg)) === "file") return { path: xdg, origin: "xdg" };
  return { origin: "embedded" };
}
