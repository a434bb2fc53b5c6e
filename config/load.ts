import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { RmxError } from "../base/errors.js";
import { assertTrusted } from "../base/fs-trust.js";
import type { DaemonConfig } from "../base/spec.js";
import { EMBEDDED_SOURCE, embeddedConfigText } from "./embedded.js";
import { type ConfigIssue, configInvalid, issuesFromZod, placeIssues } from "./issues.js";
import { type ConfigLocation, ORIGIN_LABEL } from "./locate.js";
import { resolveConfig } from "./resolve.js";
import { buildConfigFileSchema } from "./schema.js";

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
