/**
 * The CLI's launcher, dist/bin/rmx-launcher.cjs (scripts/bundle.mjs), loaded by the bin (bin.ts) for every
 * command it does not answer itself: runs the CLI core, dist/bin/rmx-core.cjs, compiled from its V8 code
 * cache when there is a good one (code-cache.ts), and leaves one behind after a successful run when there
 * is none, when V8 rejected it, or when it lacks the hot path's functions (`runtime status`, the command
 * scripts poll) and this run has them. Bundled as CommonJS, never run as the ES module tsc writes:
 * `__dirname` and `require` are CommonJS's (the bin's directory: both files sit in dist/bin/).
 *
 * The core's `import()` of a lazily loaded command is rewritten by the bundler to `__rmxImport`, the
 * bin's own `import()` (handed to `launch`): code compiled by `vm.Script`, the core and this file both,
 * has no module loader of its own to import with.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  codeCacheDir,
  codeCacheName,
  decodeCodeCache,
  encodeCodeCache,
  pruneOtherBundles,
  readOwnFile,
  writeFileAtomic,
} from "./code-cache.js";

/** The core's content hash, written in by the bundler (scripts/bundle.mjs `bundleCli`). */
declare const RMX_CORE_ID: string;

const CORE = join(__dirname, "rmx-core.cjs");
const WRAPPER_PARAMS = "exports, require, module, __filename, __dirname, __rmxImport";

/** `rmx … runtime status …`: the run whose functions the cache should hold. */
function isHotPath(argv: readonly string[]): boolean {
  const words = argv.filter((a) => !a.startsWith("-"));
  return words.includes("runtime") && words.includes("status");
}

function cacheFile(): string | undefined {
  try {
    const dir = codeCacheDir(process.env);
    return dir === undefined
      ? undefined
      : join(dir, codeCacheName(RMX_CORE_ID, process.version, process.arch));
  } catch {
    return undefined;
  }
}

/** An `import()` of a module that has a loader: the bin's. Specifiers resolve from dist/bin/. */
export type Importer = (specifier: string) => Promise<unknown>;

/** Runs the CLI core on this process's argv. */
export function launch(importer: Importer): void {
  // node:vm is not in Node's start-up snapshot: loaded here, where the core runs, not on the fast path.
  const { Script } = process.getBuiltinModule("node:vm");
  // A shebang is not JavaScript inside a function body; the core has one only when built from main.ts.
  const source = readFileSync(CORE, "utf8").replace(/^#!.*/, "");
  const file = cacheFile();
  const bytes = file === undefined ? undefined : readOwnFile(file);
  const cached = bytes === undefined ? undefined : decodeCodeCache(bytes, RMX_CORE_ID);
  const script = new Script(`(function (${WRAPPER_PARAMS}) {${source}\n})`, {
    filename: CORE,
    ...(cached === undefined ? {} : { cachedData: cached.payload }),
  });
  const hot = isHotPath(process.argv.slice(2));
  const stale = cached === undefined || script.cachedDataRejected === true;
  if (file !== undefined && (stale || (hot && !cached.hot))) {
    // At exit, so the cache holds every function this run compiled; only after a run that worked.
    process.once("exit", (code) => {
      if (code !== 0) return;
      try {
        writeFileAtomic(file, encodeCodeCache(RMX_CORE_ID, script.createCachedData(), hot));
        if (stale) pruneOtherBundles(file);
      } catch {
        // No cache this time: the next run compiles again, as one without a cache does.
      }
    });
  }
  const core = script.runInThisContext() as (...args: unknown[]) => void;
  const module = { exports: {} };
  core(module.exports, require, module, CORE, __dirname, importer);
}
