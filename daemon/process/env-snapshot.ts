/**
 * `process.env` as one shared, frozen copy for the launches prepared from it.
 *
 * Each read of a `process.env` entry makes a new string, so a copy per prepared launch held its own
 * strings: with 50 runtimes, 100 copies of the whole environment (the one prepared ahead for the next
 * respawn and the one the running child was spawned with). A copy that equals the last one is dropped
 * and the last one returned, so the held launches share a single copy until the environment changes.
 */
type Environment = Readonly<NodeJS.ProcessEnv>;

let last: Environment | undefined;

export function environmentSnapshot(env: NodeJS.ProcessEnv = process.env): Environment {
  const fresh: NodeJS.ProcessEnv = { ...env };
  if (last !== undefined && sameEntries(last, fresh)) return last;
  last = Object.freeze(fresh);
  return last;
}

function sameEntries(a: Environment, b: Environment): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || a[key] !== b[key]) return false;
  }
  return true;
}
