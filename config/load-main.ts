/**
 * The config loader's process (dist/bin/rmx-config.cjs): reads one request from stdin, loads the
 * configuration it names, answers with one JSON text on stdout, and exits. rmxd runs it for every load
 * (config/load-apart.ts) so the YAML parser, the config schema and what they allocate live and die here,
 * not in the daemon's heap for the rest of its life.
 */
import { isRmxError } from "../base/errors.js";
import { loadConfig } from "./load.js";
import { type LoaderAnswer, parseLoaderRequest } from "./loader-wire.js";

async function answer(input: string): Promise<LoaderAnswer> {
  try {
    const request = parseLoaderRequest(input);
    const config = await loadConfig(
      request.location,
      request.home === undefined ? {} : { home: request.home },
    );
    return { ok: true, config };
  } catch (err) {
    if (isRmxError(err)) return { ok: false, error: err.toJSON() };
    return {
      ok: false,
      error: {
        code: "INTERNAL",
        message: `config loader: ${err instanceof Error ? err.message : String(err)}`,
      },
    };
  }
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  process.stdout.write(`${JSON.stringify(await answer(Buffer.concat(chunks).toString("utf8")))}\n`);
}

void main();
