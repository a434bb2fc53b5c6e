import { WHISPER_SERVER_FLAGS } from "../flags.js";

export interface StubOptions {
  model: string;
  host: string;
  port: number;
}

export type ParsedArgs =
  | { kind: "run"; options: StubOptions }
  | { kind: "help" }
  | { kind: "unknown"; arg: string };

/** Flags that take a value (from `--help`). */
const VALUED = new Set(
  (
    "-t --threads -p --processors -ot --offset-t -on --offset-n -d --duration -mc --max-context -ml --max-len " +
    "-bo --best-of -bs --beam-size -ac --audio-ctx -wt --word-thold -et --entropy-thold -lpt --logprob-thold " +
    "-l --language --prompt -m --model -oved --ov-e-device -dtw --dtw --host --port --public --request-path " +
    "--inference-path -nth --no-speech-thold -fp --font-path"
  ).split(" "),
);

export const USAGE =
  "\nusage: whisper-server [options] \n\noptions:\n" +
  "  -h,        --help              [default] show this help message and exit\n" +
  "  -m FNAME,  --model FNAME       [models/ggml-base.en.bin] model path\n" +
  "  --host HOST,                   [127.0.0.1] Hostname/ip-adress for the server\n" +
  "  --port PORT,                   [8080   ] Port number for the server\n\n";

export function parseStubArgs(argv: readonly string[]): ParsedArgs {
  const options: StubOptions = { model: "models/ggml-base.en.bin", host: "127.0.0.1", port: 8080 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "-h" || arg === "--help") return { kind: "help" };
    if (!WHISPER_SERVER_FLAGS.has(arg)) return { kind: "unknown", arg };
    if (!VALUED.has(arg)) continue;
    const value = argv[++i] ?? "";
    if (arg === "-m" || arg === "--model") options.model = value;
    else if (arg === "--host") options.host = value;
    else if (arg === "--port") options.port = Number(value);
  }
  return { kind: "run", options };
}
