#!/usr/bin/env node
/**
 * After tsc: bundles the two entries, dist/daemon/main.js → dist/bin/rmxd.cjs (CommonJS, see
 * bundleDaemon) and dist/ipc/cli/main.js → dist/bin/rmx.js, so a start reads and links one file instead of a few hundred modules (zod and pino
 * alone are over a hundred). package.json's bin entries point at these; dist/ stays as tsc wrote it for
 * the typed client export and the tests.
 *
 * dist/bin/rmx-config.cjs is the config loader rmxd runs in a child for each load (config/load-main.ts):
 * yaml and the config schema are in it and not in rmxd.cjs.
 *
 * The CLI is its own build, sharing nothing with the daemon's. dist/bin/rmx.cjs (package.json's bin) is
 * a small CommonJS file (ipc/cli/bin.ts): it answers `rmx runtime status --json` (the command scripts
 * poll) by itself (ipc/cli/fast-status.ts) and hands everything else to the launcher beside it,
 * dist/bin/rmx-launcher.cjs (ipc/cli/launcher.ts), which runs the CLI core, dist/bin/rmx-core.cjs, one
 * self-contained CommonJS file compiled through a V8 code cache (ipc/cli/code-cache.ts; the core's
 * content hash, written into the launcher, names the cache). Every
 * command but runtime status is a module of dist/bin/rmx-commands/, loaded by its `import()` only when it
 * runs (those share chunks among themselves, not with the core: the few classes that cross over are told
 * apart by name). dist/bin/rmx.js stays, an ES module that runs rmx.cjs, for `node dist/bin/rmx.js`.
 *
 * Each module's `import.meta.url` is rewritten to the URL of its own file in dist/ (computed from the
 * bundle's location at run time), so paths a module derives from it (the stub's entry, package.json,
 * the daemon's entry for `rmx service install`) stay exactly what they are unbundled.
 *
 * External: optional or heavy packages loaded only on some paths (pino-pretty with --pretty,
 * systeminformation on macOS) resolve from node_modules at run time, as before.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = path.join(ROOT, "dist");
const OUT = process.env.RMX_BUNDLE_OUT ?? path.join(DIST, "bin");

export const ENTRIES = [
  { entry: "daemon/main.js", out: "rmxd.cjs" },
  { entry: "ipc/cli/main.js", out: "rmx.js" },
];
const DAEMON_ENTRIES = ENTRIES.filter((e) => e.out === "rmxd.cjs");
/** The daemon bundle's ES module twin, for `node dist/bin/rmxd.js`. */
const DAEMON_ESM_TWIN = "rmxd.js";
const CLI_ENTRY = "ipc/cli/main.js";
/** The commands bundled into rmx.js itself: the one scripts run in a loop. */
const EAGER_COMMANDS = new Set(["runtime-status.js"]);
const COMMANDS_DIR = "rmx-commands";
const EXTERNAL = ["pino-pretty", "systeminformation"];

/**
 * Replaces `import.meta.url` in a dist/ module with the URL that module has when run unbundled; `outDir`
 * is where the output files sit, `selfUrl` the expression for the bundle's own URL there. With
 * `builtinsDirect` it also takes every module's builtins directly (takeBuiltinsDirectly below): esbuild
 * runs one onLoad per file, so both rewrites live in this one.
 */
function keepModuleUrls(outDir, selfUrl = "import.meta.url", { builtinsDirect = false } = {}) {
  return {
    name: "keep-module-urls",
    setup(b) {
      b.onLoad({ filter: /\.m?js$/ }, async (args) => {
        const text = await fs.promises.readFile(args.path, "utf8");
        let out = builtinsDirect ? (takeBuiltinsDirectly(text) ?? text) : text;
        if (args.path.startsWith(DIST + path.sep) && out.includes("import.meta.url")) {
          const rel = path.relative(outDir, args.path).split(path.sep).join("/");
          out = out.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, ${selfUrl}).href`);
        }
        return out === text ? undefined : { contents: out, loader: "js" };
      });
    },
  };
}

/** The command table's `import("./commands/x.js")`: eager ones stay in, the rest load from rmx-commands/. */
const lazyCommands = {
  name: "lazy-commands",
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/[\w-]+\.js$/ }, (args) => {
      const file = path.basename(args.path);
      if (EAGER_COMMANDS.has(file) || args.kind !== "dynamic-import") return undefined;
      return { path: `./${COMMANDS_DIR}/${file}`, external: true };
    });
  },
};

/**
 * zod re-exports every locale (`z.locales`, about 360 KB of messages in 50 languages) and nothing here
 * reads them: zod configures its English messages from `locales/en.js` directly. The index is replaced
 * by one that exports English only, so the daemon does not parse (or keep the source of) the rest.
 */
const englishZodLocales = {
  name: "zod-english-locales",
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";\n',
      loader: "js",
      resolveDir: path.join(ROOT, "node_modules", "zod", "v4", "locales"),
    }));
  },
};

/**
 * The daemon's `import … from "node:http"` (and every other builtin) as `process.getBuiltinModule()`,
 * so no builtin gets an ES module facade or esbuild's CommonJS interop copy. Node builds a builtin's
 * ESM facade by reading every export once, and on Node 22+ some are lazy getters: `node:http`'s load
 * tls, http2, zlib, worker_threads, web streams and undici (its WebSocket and fetch classes),
 * `node:crypto`'s webcrypto. esbuild's interop (`__toESM`) reads each export's property descriptor,
 * and on Node 24 that alone loads `node:util`'s lazy parts (worker_threads, its diff and colours, the
 * SIGINT tracer). So each static import statement of a builtin becomes a destructuring of exactly the
 * names it imports (`import { a, b as c } from "node:x"` → `const { a, b: c } = …`; a default or
 * namespace import → the module object), in place, before the module's own code as before. Measured
 * on Node 24: importing http, util, crypto and zlib as ES modules costs 11 MiB more RSS than taking
 * them this way (59 vs 48 MiB; Node 20, 0.6 MiB). Anything else that names a builtin (a dynamic
 * import, a re-export) becomes a CommonJS module of `process.getBuiltinModule()`.
 */
const BUILTINS = new Set(builtinModules);
const isBuiltin = (spec) => spec.startsWith("node:") || BUILTINS.has(spec.split("/")[0] ?? spec);
const builtinSpec = (spec) => (spec.startsWith("node:") ? spec : `node:${spec}`);
const STATIC_IMPORT =
  /^[ \t]*import\s+(?:([\w$]+)\s*(?:,\s*)?)?(?:\*\s*as\s+([\w$]+)|\{([^}]*)\})?\s*from\s*(["'])([^"']+)\4[ \t]*;?/gm;
const SIDE_EFFECT_IMPORT = /^[ \t]*import\s*(["'])([^"']+)\1[ \t]*;?/gm;

/** `text` with its static imports of builtins rewritten (see above); undefined when it has none. */
export function takeBuiltinsDirectly(text) {
  let changed = false;
  const get = (spec) => `process.getBuiltinModule(${JSON.stringify(builtinSpec(spec))})`;
  let out = text.replace(STATIC_IMPORT, (whole, def, ns, named, _q, spec) => {
    if (!isBuiltin(spec) || (def === undefined && ns === undefined && named === undefined)) return whole;
    changed = true;
    const module = def ?? ns;
    const parts = [];
    if (module !== undefined) parts.push(`const ${module} = ${get(spec)};`);
    // Each binding as [name, alias]; `default as x` is the module object itself.
    const bindings = (named ?? "")
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b !== "")
      .map((b) => b.split(/\s+as\s+/));
    for (const [name, alias] of bindings)
      if (name === "default") parts.push(`const ${alias} = ${get(spec)};`);
    const destructured = bindings
      .filter(([name]) => name !== "default")
      .map(([name, alias]) => (alias === undefined ? name : `${name}: ${alias}`));
    if (destructured.length > 0) parts.push(`const { ${destructured.join(", ")} } = ${module ?? get(spec)};`);
    return parts.join(" ");
  });
  out = out.replace(SIDE_EFFECT_IMPORT, (whole, _q, spec) => {
    if (!isBuiltin(spec)) return whole;
    changed = true;
    return `${get(spec)};`;
  });
  return changed ? out : undefined;
}

const builtinsWithoutFacade = {
  name: "builtins-without-facade",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === "import-statement" || args.kind === "dynamic-import"
        ? { path: args.path, namespace: "rmx-builtin" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "rmx-builtin" }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});\n`,
      loader: "js",
    }));
  },
};

/**
 * pino as the daemon uses it: one logger writing to a stream in this thread (daemon/log.ts), never a
 * transport. pino still loads its transport code at start (thread-stream and with it node:worker_threads
 * and node:assert), reads `isMainThread` from worker_threads once, and sonic-boom takes node:assert for
 * one argument check. In the daemon's bundle the transport module is one that says it is not there,
 * `isMainThread` is true (rmxd never runs in a worker), and the check throws an Error of its own: two
 * builtins fewer (about 3 MiB of RSS on Node 24, 1.5 on Node 20, measured one by one).
 */
const pinoWithoutWorkers = {
  name: "pino-without-workers",
  setup(b) {
    const inPackage = (importer, pkg) => importer.split(path.sep).join("/").includes(`/node_modules/${pkg}/`);
    b.onLoad({ filter: /[\\/]node_modules[\\/]pino[\\/]lib[\\/]transport\.js$/ }, () => ({
      contents:
        'module.exports = function transport() { throw new Error("pino transports are not in rmxd\'s bundle: it logs to a stream (daemon/log.ts)"); };\n',
      loader: "js",
    }));
    b.onResolve({ filter: /^(node:)?(worker_threads|assert)$/ }, (args) => {
      const name = args.path.replace(/^node:/, "");
      if (name === "worker_threads" && inPackage(args.importer, "pino"))
        return { path: "worker_threads", namespace: "rmx-shim" };
      if (name === "assert" && inPackage(args.importer, "sonic-boom"))
        return { path: "assert", namespace: "rmx-shim" };
      return undefined;
    });
    b.onLoad({ filter: /.*/, namespace: "rmx-shim" }, (args) => ({
      contents:
        args.path === "worker_threads"
          ? "module.exports = { isMainThread: true };\n"
          : "module.exports = function assert(ok, message) { if (!ok) throw new Error(message); };\n",
      loader: "js",
    }));
  },
};

const COMMON = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20.19",
  external: EXTERNAL,
  // CommonJS packages (pino, yaml) call require() for builtins: give the ESM bundle one.
  banner: {
    js: 'import { createRequire as __rmxCreateRequire } from "node:module"; const require = __rmxCreateRequire(import.meta.url);',
  },
  legalComments: "none",
  logLevel: "warning",
};

function sourceOf(entry) {
  const source = path.join(DIST, entry);
  if (!fs.existsSync(source)) throw new Error(`bundle: ${source} is missing: run tsc first (npm run build)`);
  return source;
}

/**
 * The bundle's own URL in CommonJS, where `import.meta` is not: a function, so a run that derives no path
 * from it (a plain status) never converts __filename to a URL.
 */
const CJS_SELF_URL = "__rmxSelfUrl";
/** The CLI core: the bundle the launcher (rmx-launcher.cjs) compiles through its code cache (ipc/cli/launcher.ts). */
const CLI_CORE = "rmx-core.cjs";
const CLI_BIN_ENTRY = "ipc/cli/bin.js";
const CLI_LAUNCHER_ENTRY = "ipc/cli/launcher.js";
/** The launcher, which the bin (ipc/cli/bin.ts) reads from beside itself in OUT. */
const CLI_LAUNCHER = "rmx-launcher.cjs";
/** The bin's `import()`, handed to the core: code compiled by vm.Script cannot import by itself. */
const CORE_IMPORT = "__rmxImport";

/**
 * dist/bin/rmx.cjs (the bin), dist/bin/rmx-launcher.cjs (the launcher), dist/bin/rmx-core.cjs (the CLI
 * core: no chunks), its ES module twin rmx.js, and dist/bin/rmx-commands/ (the lazy commands).
 */
async function bundleCli() {
  await build({
    ...COMMON,
    entryPoints: { "rmx-core": sourceOf(CLI_ENTRY) },
    outdir: OUT,
    outExtension: { ".js": ".cjs" },
    format: "cjs",
    splitting: false,
    banner: { js: `const ${CJS_SELF_URL} = () => require("node:url").pathToFileURL(__filename).href;` },
    plugins: [lazyCommands, keepModuleUrls(OUT, `${CJS_SELF_URL}()`), englishZodLocales],
  });
  const corePath = path.join(OUT, CLI_CORE);
  // The core runs as a function body (the launcher wraps it): no shebang, and its lazy commands are
  // imported by the launcher.
  let core = fs.readFileSync(corePath, "utf8").replace(/^#!.*\n/, "");
  core = core.replaceAll(`import("./${COMMANDS_DIR}/`, `${CORE_IMPORT}("./${COMMANDS_DIR}/`);
  const stray = /\bimport\(/.exec(core);
  if (stray) {
    const line = core.slice(0, stray.index).split("\n").length;
    throw new Error(`bundle: ${corePath}:${line} has an import() the launcher does not provide`);
  }
  fs.writeFileSync(corePath, core);
  const coreId = createHash("sha256").update(core).digest("hex").slice(0, 16);
  await build({
    ...COMMON,
    entryPoints: { [CLI_LAUNCHER.replace(/\.cjs$/, "")]: sourceOf(CLI_LAUNCHER_ENTRY) },
    outdir: OUT,
    outExtension: { ".js": ".cjs" },
    format: "cjs",
    splitting: false,
    banner: {},
    define: { RMX_CORE_ID: JSON.stringify(coreId) },
  });
  await build({
    ...COMMON,
    entryPoints: { rmx: sourceOf(CLI_BIN_ENTRY) },
    outdir: OUT,
    outExtension: { ".js": ".cjs" },
    format: "cjs",
    splitting: false,
    banner: {},
  });
  const bin = fs.readFileSync(path.join(OUT, "rmx.cjs"), "utf8");
  if (/code-cache|ipc\/cli\/launcher/.test(bin) || !bin.includes(`"${CLI_LAUNCHER}"`))
    throw new Error(`bundle: ${path.join(OUT, "rmx.cjs")} must load ${CLI_LAUNCHER}, not hold the launcher`);
  fs.writeFileSync(
    path.join(OUT, "rmx.js"),
    [
      "#!/usr/bin/env node",
      "// `node dist/bin/rmx.js`: the CLI is rmx.cjs (package.json's bin), see scripts/bundle.mjs.",
      'import { createRequire } from "node:module";',
      'createRequire(import.meta.url)("./rmx.cjs");',
      "",
    ].join("\n"),
  );
  fs.chmodSync(path.join(OUT, "rmx.cjs"), 0o755);
  const commandsDir = path.join(DIST, "ipc/cli/commands");
  const lazy = fs
    .readdirSync(commandsDir)
    .filter((f) => f.endsWith(".js") && !EAGER_COMMANDS.has(f))
    .map((f) => path.join(commandsDir, f));
  const outDir = path.join(OUT, COMMANDS_DIR);
  await build({
    ...COMMON,
    entryPoints: lazy,
    outdir: outDir,
    splitting: true,
    chunkNames: "chunk-[hash]",
    plugins: [keepModuleUrls(outDir), englishZodLocales],
  });
}

/**
 * esbuild's options for a self-contained CommonJS entry (`name` → dist/bin/`name`.cjs): the daemon and
 * its config loader. `plugins` come before the ones every such entry takes.
 */
function cjsEntryOptions(name, entry, plugins = []) {
  return {
    entryPoints: { [name]: sourceOf(entry) },
    outdir: OUT,
    outExtension: { ".js": ".cjs" },
    bundle: true,
    platform: "node",
    format: "cjs",
    splitting: false,
    target: "node20.19",
    external: EXTERNAL,
    plugins: [
      builtinsWithoutFacade,
      ...plugins,
      keepModuleUrls(OUT, `${CJS_SELF_URL}()`, { builtinsDirect: true }),
      englishZodLocales,
    ],
    // V8 keeps a module's whole source text for the process's life (lazy compilation, toString), on the
    // heap. Comments and indentation are a quarter of it, and one non-ASCII character in a comment (a
    // dash, an arrow) makes V8 store the whole text as UTF-16: 1.57 MB of bundle held 3.0 MiB. Without
    // whitespace and comments (esbuild escapes non-ASCII in strings itself) it is one byte per character:
    // about 1 MiB. Names stay as written (no identifier mangling), so stack traces still name functions.
    minifyWhitespace: true,
    minifySyntax: true,
    // A declaration after the code (hoisted): a banner would come before esbuild's "use strict", which
    // then is no directive, and the whole daemon would run in sloppy mode.
    footer: {
      js: `function ${CJS_SELF_URL}() { return require("node:url").pathToFileURL(__filename).href; }`,
    },
    legalComments: "none",
    logLevel: "warning",
  };
}

/**
 * The config loader rmxd runs for each load (config/load-apart.ts), dist/bin/rmx-config.cjs. The
 * daemon's bundle must not hold what this one does: that is the point of running it apart.
 */
const CONFIG_LOADER = { entry: "config/load-main.js", out: "rmx-config.cjs" };
/** yaml's document parser: in the config loader, never in the daemon. */
const YAML_MARKER = "parseDocument";

async function bundleConfigLoader() {
  await build(cjsEntryOptions(CONFIG_LOADER.out.replace(/\.cjs$/, ""), CONFIG_LOADER.entry));
}

/**
 * The daemon: dist/bin/rmxd.cjs, one CommonJS file (package.json's bin, the service files, `npm start`).
 * CommonJS because Node sets up its ES module loader only for an ES module entry: measured with an
 * otherwise empty entry, 2.9 MiB of RSS on Node 20 and 3.4 MiB on Node 24 (its modules, the loader's
 * state), for good. Its optional parts (pidusage, on macOS) are in the file, left uncompiled until used;
 * systeminformation and pino-pretty stay in node_modules (`EXTERNAL`). dist/bin/rmxd.js stays, an ES
 * module that runs it, for `node dist/bin/rmxd.js`.
 */
async function bundleDaemon() {
  const [{ entry, out }] = DAEMON_ENTRIES;
  await build(cjsEntryOptions(out.replace(/\.cjs$/, ""), entry, [pinoWithoutWorkers]));
  const bundled = path.join(OUT, out);
  const text = fs.readFileSync(bundled, "utf8");
  const stray = /\bimport\((?!"(?:systeminformation|pino-pretty)")/.exec(text);
  if (stray) {
    const line = text.slice(0, stray.index).split("\n").length;
    throw new Error(`bundle: ${bundled}:${line} has an import() of a module that should be in the bundle`);
  }
  if (text.includes(YAML_MARKER))
    throw new Error(`bundle: ${bundled} holds yaml's parser; the config is loaded by ${CONFIG_LOADER.out}`);
  fs.writeFileSync(
    path.join(OUT, DAEMON_ESM_TWIN),
    [
      "#!/usr/bin/env node",
      `// \`node dist/bin/${DAEMON_ESM_TWIN}\`: the daemon is ${out} (package.json's bin), see scripts/bundle.mjs.`,
      'import { createRequire } from "node:module";',
      `createRequire(import.meta.url)("./${out}");`,
      "",
    ].join("\n"),
  );
  fs.chmodSync(path.join(OUT, DAEMON_ESM_TWIN), 0o755);
}

export async function bundle() {
  fs.rmSync(OUT, { recursive: true, force: true });
  await bundleDaemon();
  await bundleConfigLoader();
  await bundleCli();
  for (const { out } of ENTRIES) fs.chmodSync(path.join(OUT, out), 0o755);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await bundle();
}
