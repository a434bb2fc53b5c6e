#!/usr/bin/env node
/**
 * A whisper-server stand-in held to the real one's recorded behaviour (test/fixtures/whisper-server/): same
 * flags, same routes and answers, same exits (unknown flag 0, missing model 3, `/load` of a non-model 1), no
 * signal handlers. It "transcribes" every audio as empty text, as the real server does with the test model.
 * Stub-only knobs are environment variables so its command line stays whisper-server's:
 * WHISPER_STUB_LOAD_MS (delay before it binds), WHISPER_STUB_MS_PER_AUDIO_SECOND (time per audio second).
 */
import { readWhisperModel } from "../ggml.js";
import { parseStubArgs, USAGE } from "./options.js";
import { serveWhisperStub } from "./server.js";

async function main(): Promise<void> {
  const parsed = parseStubArgs(process.argv.slice(2));
  if (parsed.kind === "help") {
    process.stderr.write(USAGE);
    process.exit(0);
  }
  if (parsed.kind === "unknown") {
    // whisper-server: prints the error and the usage, then exit(0) (flags.json `unknown_flag`).
    process.stderr.write(`error: unknown argument: ${parsed.arg}\n${USAGE}`);
    process.exit(0);
  }
  const { options } = parsed;
  try {
    await readWhisperModel(options.model);
  } catch {
    process.stderr.write(
      `whisper_init_from_file_with_params_no_state: failed to open '${options.model}'\n` +
        "error: failed to initialize whisper context\n",
    );
    process.exit(3);
  }
  const loadMs = Number(process.env.WHISPER_STUB_LOAD_MS ?? 0);
  if (loadMs > 0) await new Promise((resolve) => setTimeout(resolve, loadMs));
  process.stderr.write("whisper_init_state: compute buffer (decode) =   95.89 MB\n");
  const msPerAudioSecond = Number(process.env.WHISPER_STUB_MS_PER_AUDIO_SECOND ?? 0);
  const server = await serveWhisperStub({ ...options, msPerAudioSecond });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  process.stdout.write(`\nwhisper server listening at http://${options.host}:${port}\n\n`);
}

void main();
