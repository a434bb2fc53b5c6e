/**
 * The flags whisper-server's parser accepts (`whisper_params_parse` in examples/server/server.cpp at whisper.cpp
 * f0d2bfb, recorded in test/fixtures/whisper-server/flags.json). whisper-server exits 0 on an unknown flag, so
 * a typo would look like a clean stop: rmxd refuses the config instead.
 */
import { RmxError } from "../../base/errors.js";
import type { RuntimeSpec } from "../../base/spec.js";

export const WHISPER_SERVER_FLAGS: ReadonlySet<string> = new Set([
  "--audio-ctx",
  "--beam-size",
  "--best-of",
  "--convert",
  "--debug-mode",
  "--detect-language",
  "--diarize",
  "--dtw",
  "--duration",
  "--entropy-thold",
  "--flash-attn",
  "--font-path",
  "--help",
  "--host",
  "--inference-path",
  "--language",
  "--logprob-thold",
  "--max-context",
  "--max-len",
  "--model",
  "--no-context",
  "--no-fallback",
  "--no-gpu",
  "--no-speech-thold",
  "--no-timestamps",
  "--offset-n",
  "--offset-t",
  "--ov-e-device",
  "--port",
  "--print-colors",
  "--print-progress",
  "--print-realtime",
  "--print-special",
  "--processors",
  "--prompt",
  "--public",
  "--request-path",
  "--split-on-word",
  "--suppress-nst",
  "--threads",
  "--tinydiarize",
  "--translate",
  "--word-thold",
  "-ac",
  "-bo",
  "-bs",
  "-d",
  "-debug",
  "-di",
  "-dl",
  "-dtw",
  "-et",
  "-fa",
  "-fp",
  "-h",
  "-l",
  "-lpt",
  "-m",
  "-mc",
  "-ml",
  "-nc",
  "-nf",
  "-ng",
  "-nt",
  "-nth",
  "-on",
  "-ot",
  "-oved",
  "-p",
  "-pc",
  "-pp",
  "-pr",
  "-ps",
  "-sns",
  "-sow",
  "-t",
  "-tdrz",
  "-tr",
  "-wt",
]);

/** Throws CONFIG_INVALID for an argument that looks like a flag whisper-server does not know. */
export function checkWhisperArgs(spec: RuntimeSpec, args: readonly string[]): void {
  for (const arg of args) {
    if (!arg.startsWith("-") || /^-\d/.test(arg)) continue; // a value such as -1
    const flag = arg.split("=")[0] as string;
    if (!WHISPER_SERVER_FLAGS.has(flag)) {
      throw new RmxError(
        "CONFIG_INVALID",
        `runtime "${spec.id}": args has "${arg}", which whisper-server does not accept (it would exit 0 ` +
          "as if stopped cleanly); see `whisper-server --help`",
        { runtime: spec.id, field: "args", value: arg },
      );
    }
  }
}
