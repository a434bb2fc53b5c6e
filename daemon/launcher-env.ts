/**
 * What our launchers put in rmxd's environment for rmxd alone (packaging/node-options.ts): glibc read it
 * when the process started, so it has done its work by the time this runs. Removed, so that backends
 * start with the allocator settings of the environment the user gave, not the daemon's. A value the
 * user set themselves (anything else) is theirs and stays.
 */
import { DAEMON_ENVIRONMENT } from "../packaging/node-options.js";

export function forgetLauncherEnvironment(env: NodeJS.ProcessEnv): string[] {
  const removed: string[] = [];
  for (const [name, value] of Object.entries(DAEMON_ENVIRONMENT)) {
    if (env[name] !== value) continue;
    delete env[name];
    removed.push(name);
  }
  return removed;
}
