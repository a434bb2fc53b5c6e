#!/usr/bin/env node
/**
 * After tsc: bundles the two entries, dist/daemon/main.js → dist/bin/rmxd.js and dist/ipc/cli/main.js →
 * dist/bin/rmx.js, so a start reads and links one file instead of a few hundred modules (zod and pino
 * alone are over a hundred). package.json's bin entries point at these; dist/ stays as tsc wrote it for
 * the typed client export and the tests.
 *
 * Each module's `import.meta.url` is rewritten to the URL of its own file in dist/ (computed from the
 * bundle's location at run time), so paths a module derives from it (the stub's entry, package.json,
 * the daemon's entry for `rmx service install`) stay exactly what they are unbundled.
 *
 * External: optional or heavy packages loaded only on some paths (pino-pretty with --pretty,
 * systeminformation on macOS) resolve from node_modules at run time, as before.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = path.join(ROOT, "dist");
const OUT = process.env.RMX_BUNDLE_OUT ?? path.join(DIST, "bin");

export const ENTRIES = [
  { entry: "daemon/main.js", out: "rmxd.js" },
  { entry: "ipc/cli/main.js", out: "rmx.js" },
];
const EXTERNAL = ["pino-pretty", "systeminformation"];

/** Replaces `import.meta.url` in a dist/ module with the URL that module has when run unbundled. */
const keepModuleUrls = {
  name: "keep-module-urls",
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, "utf8");
      if (!args.path.startsWith(DIST + path.sep) || !text.includes("import.meta.url")) return undefined;
      const rel = path.relative(OUT, args.path).split(path.sep).join("/");
      return {
        contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`),
        loader: "js",
      };
    });
  },
};

export async function bundle() {
  fs.rmSync(OUT, { recursive: true, force: true });
  const entryPoints = {};
  for (const { entry, out } of ENTRIES) {
    const source = path.join(DIST, entry);
    if (!fs.existsSync(source))
      throw new Error(`bundle: ${source} is missing: run tsc first (npm run build)`);
    entryPoints[out.replace(/\.js$/, "")] = source;
  }
  await build({
    entryPoints,
    outdir: OUT,
    // Code behind a dynamic import() (the CLI's commands, the daemon's optional parts) goes to chunks
    // loaded only when that path runs: one 1.3 MB file would cost more to parse than it saves in lookups.
    // Chunks sit beside the entries, so the import.meta.url rewrite above holds for them too.
    splitting: true,
    chunkNames: "chunk-[hash]",
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20.19",
    external: EXTERNAL,
    plugins: [keepModuleUrls],
    // CommonJS packages (pino, yaml) call require() for builtins: give the ESM bundle one.
    banner: {
      js: 'import { createRequire as __rmxCreateRequire } from "node:module"; const require = __rmxCreateRequire(import.meta.url);',
    },
    legalComments: "none",
    logLevel: "warning",
  });
  for (const { out } of ENTRIES) fs.chmodSync(path.join(OUT, out), 0o755);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await bundle();
}
