/**
 * Which command opens the dashboard's login URL, and starting it. `--opener CMD` beats `$BROWSER`, which beats
 * the platform's URL handler (xdg-open; macOS `open`; Windows `rundll32 url.dll,FileProtocolHandler`, which
 * takes the URL without a shell parsing its `&`). `$BROWSER` follows its convention: a list of commands
 * separated by the path delimiter, tried in turn; `%s` in a command stands for the URL, else the URL is its
 * last argument.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { RmxError } from "../../../base/errors.js";

export interface Opener {
  /** Where it came from, for the error message. */
  source: "--opener" | "$BROWSER" | "platform default";
  argv: readonly string[];
}

function commandArgv(command: string, url: string): string[] {
  const words = command.trim().split(/\s+/);
  return words.some((w) => w.includes("%s")) ? words.map((w) => w.replaceAll("%s", url)) : [...words, url];
}

function platformDefault(url: string): string[] {
  if (process.platform === "darwin") return ["open", url];
  if (process.platform === "win32") return ["rundll32.exe", "url.dll,FileProtocolHandler", url];
  return ["xdg-open", url];
}

/** The commands to try, in order. */
export function openers(url: string, flag: string | undefined, env: NodeJS.ProcessEnv): Opener[] {
  if (flag !== undefined && flag.trim() !== "") return [{ source: "--opener", argv: commandArgv(flag, url) }];
  const browser = (env.BROWSER ?? "")
    .split(path.delimiter)
    .filter((c) => c.trim() !== "")
    .map((c): Opener => ({ source: "$BROWSER", argv: commandArgv(c, url) }));
  return browser.length > 0 ? browser : [{ source: "platform default", argv: platformDefault(url) }];
}

/** Starts one opener, detached (the browser outlives `rmx`); resolves once it runs, rejects if it cannot start. */
function start(argv: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: "ignore", detached: true });
    child.once("error", reject);
    child.once("spawn", () => {
      child.unref();
      resolve();
    });
  });
}

/**
 * Tries each opener until one starts. None starting: BROWSER_OPEN_FAILED naming each command tried and why,
 * and that the printed URL can be opened by hand.
 */
export async function openUrl(url: string, candidates: readonly Opener[]): Promise<Opener> {
  const failures: string[] = [];
  for (const opener of candidates) {
    try {
      await start(opener.argv);
      return opener;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      failures.push(`${opener.argv[0]} (${opener.source}): ${code === "ENOENT" ? "not found" : code}`);
    }
  }
  throw new RmxError(
    "BROWSER_OPEN_FAILED",
    `cannot open the dashboard: ${failures.join("; ")}. Open the login URL printed above by hand (single use, valid 60 s), or name a browser with --opener CMD or $BROWSER`,
    { url, tried: candidates.map((o) => o.argv[0]) },
  );
}
