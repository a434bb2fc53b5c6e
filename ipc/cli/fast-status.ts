/**
 * `rmx runtime status --json` (global flags anywhere), the command scripts poll, answered by the bin
 * itself: one connection, one request, the answer printed as the core prints it
 * (`JSON.stringify(result, null, 2)`), without compiling or running the CLI core.
 *
 * Only the clean case is handled here. Anything else (no daemon, an error answer, a connection closed or
 * a line that is not the answer) calls `fallback` before a byte is printed, and the launcher runs the core,
 * which does the command from the start: every failure reads, and exits, exactly as it always has. The
 * request is a read, so asking twice is harmless.
 */
import { LineDecoder } from "../framing.js";
import { defaultSocketPath } from "../socket-path.js";
import { connectPipe } from "./bare-pipe.js";
import { writeOutThenExit } from "./stdout.js";

/** Beyond this the core's client gives up on an answer too (its MAX_ANSWER_LINE_BYTES). */
const MAX_ANSWER_LINE_BYTES = 256 * 1024 * 1024;
const REQUEST = '{"jsonrpc":"2.0","id":1,"method":"runtime.status"}\n';

/**
 * The socket to ask when argv is `runtime status` and `--json` with nothing but global flags
 * (`--no-color`, `--socket PATH`, `--socket=PATH`) around them, resolved as the core resolves it; else
 * undefined (the core runs).
 */
export function fastStatusSocket(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  let json = false;
  let socket: string | undefined;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--json") json = true;
    else if (arg === "--no-color") continue;
    else if (arg === "--socket") {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("-")) return undefined;
      socket = value;
      i += 1;
    } else if (arg.startsWith("--socket=") && arg.length > "--socket=".length) socket = arg.slice(9);
    else if (arg.startsWith("-")) return undefined;
    else words.push(arg);
  }
  if (!json || words.length !== 2 || words[0] !== "runtime" || words[1] !== "status") return undefined;
  if (socket !== undefined) return socket;
  if (env.RMX_SOCKET !== undefined && env.RMX_SOCKET !== "") return env.RMX_SOCKET;
  return defaultSocketPath({ env });
}

/** The answer's `result` when `line` is the clean answer to REQUEST; `none` for a line to skip; else undefined. */
function resultOf(line: string): { result: unknown } | "skip" | undefined {
  if (line.trim() === "") return "skip";
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (message === null || typeof message !== "object" || Array.isArray(message)) return undefined;
  const m = message as { id?: unknown; method?: unknown; result?: unknown; error?: unknown };
  // A notification (no id) is not for us; the core's client skips it too.
  if (typeof m.method === "string" && m.id === undefined) return "skip";
  if (m.id !== 1 || m.error !== undefined || !("result" in m)) return undefined;
  return { result: m.result };
}

/**
 * Asks the daemon at `socketPath` for its status and prints it; on anything unexpected, calls `fallback`.
 * The connection is bare-pipe.ts's: libuv's pipe handle where it may be used, else node:net.
 */
export function runFastStatus(socketPath: string, fallback: () => void): void {
  const decoder = new LineDecoder(MAX_ANSWER_LINE_BYTES);
  let settled = false;
  const giveUp = (): void => {
    if (settled) return;
    settled = true;
    pipe.destroy();
    fallback();
  };
  const pipe = connectPipe(socketPath, {
    end: giveUp,
    connected: () => pipe.write(REQUEST),
    data: (chunk) => {
      if (settled) return;
      const { lines, overflow } = decoder.push(chunk);
      for (const line of lines) {
        const answer = resultOf(line);
        if (answer === "skip") continue;
        if (answer === undefined) return giveUp();
        settled = true;
        pipe.destroy();
        // Once the output is out, nothing is left to do: exiting then skips the socket's close and the
        // heap's teardown at the loop's end (~1 ms of a ~30 ms run).
        writeOutThenExit(`${JSON.stringify(answer.result, null, 2)}\n`);
        return;
      }
      if (overflow) giveUp();
    },
  });
}
