import { readFile, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { RmxError } from "../base/errors.js";
import { assertTrusted } from "../base/fs-trust.js";
import type { DaemonConfig } from "../base/spec.js";
import { EMBEDDED_SOURCE, embeddedConfigText } from "./embedded.js";
import { type ConfigIssue, configInvalid, issuesFromZod, placeIssues } from "./issues.js";
import { expandPath, resolveConfig } from "./resolve.js";
import { buildConfigFileSchema } from "./schema.js";

export interface ConfigLocation {
  path?: string;
  origin: "flag" | "env" | "xdg" | "embedded";
}

const ORIGIN_LABEL = {
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

export async function loadConfig(loc: ConfigLocation, opts: { home?: string } = {}): Promise<DaemonConfig> {
  if (loc.path === undefined)
    return parseConfigText(embeddedConfigText, EMBEDDED_SOURCE, process.cwd(), opts);
  let text: string;
  try {
    text = await readFile(loc.path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RmxError(
      "CONFIG_NOT_FOUND",
      code === "ENOENT"
        ? `config file ${loc.path} (from ${ORIGIN_LABEL[loc.origin]}) does not exist`
        : `config file ${loc.path} (from ${ORIGIN_LABEL[loc.origin]}) cannot be read (${code ?? String(err)})`,
      { path: loc.path, origin: loc.origin },
      { cause: err },
    );
  }
  await assertTrustedConfig(loc.path);
  return parseConfigText(text, loc.path, path.dirname(loc.path), opts);
}

/**
 * The config names the programs rmxd runs: a file (or parent dir) another user can write or own is
 * refused (PATH_UNTRUSTED), as sshd's StrictModes refuses such an authorized_keys. Checked after the
 * read so a missing or unreadable file keeps its CONFIG_NOT_FOUND answer.
 */
export async function assertTrustedConfig(file: string): Promise<void> {
  if (typeof process.getuid !== "function") return; // Windows: no uid/mode model to check against
  await assertTrusted("config file", file, "file", { uid: process.getuid() });
}

/**
 * Parses, validates and resolves config text. Throws RmxError CONFIG_INVALID listing every problem as
 * `file:line:column: path: message`, with `data.issues` as {@link ConfigIssue}s.
 */
export function parseConfigText(
  text: string,
  source: string,
  baseDir: string,
  opts: { home?: string } = {},
): DaemonConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw configInvalid(
      source,
      doc.errors.map((err) => {
        const { line, col } = lines.linePos(err.pos[0]);
        return { line, column: col, path: "", message: `YAML syntax: ${firstLine(err.message)}` };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw configInvalid(source, [
      { line: 1, column: 1, path: "", message: `YAML: ${firstLine(String(err))}` },
    ]);
  }
  // Built for this parse and dropped with it: nothing keeps the config schema between reloads.
  const schema = buildConfigFileSchema();
  const parsed = schema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    throw configInvalid(source, placeIssues(doc, lines, issuesFromZod(parsed.error, schema, data)));
  }
  const { config, issues } = resolveConfig(parsed.data, {
    source,
    baseDir: path.resolve(baseDir),
    home: opts.home ?? os.homedir(),
  });
  if (issues.length > 0) throw configInvalid(source, placeIssues(doc, lines, issues));
  return config;
}

function firstLine(message: string): string {
  return message.split("\n", 1)[0] ?? message;
}

/** The node id: the file's, else RMX_NODE_ID, else ARW_NODE_ID, else the hostname. */
export function resolveNodeId(
  config: Pick<DaemonConfig, "node_id">,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return config.node_id ?? nonEmpty(env.RMX_NODE_ID) ?? nonEmpty(env.ARW_NODE_ID) ?? os.hostname();
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

export type { ConfigIssue };
