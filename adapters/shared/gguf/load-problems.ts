/**
 * What llama.cpp's model loader (b4748, `src/llama-model.cpp` and `src/llama-vocab.cpp`) refuses in a GGUF
 * file, so that `rmx models inspect`, the fit check and reload can say "not loadable" before a backend is
 * started on it and dies of SIGABRT with "key not found in model".
 */

/** `general.architecture` values the b4748 loader knows (`LLM_ARCH_NAMES`). */
export const LLAMA_CPP_ARCHITECTURES: ReadonlySet<string> = new Set(
  (
    "llama deci falcon grok gpt2 gptj gptneox mpt baichuan starcoder refact bert nomic-bert jina-bert-v2 bloom " +
    "stablelm qwen qwen2 qwen2moe qwen2vl phi2 phi3 phimoe plamo codeshell orion internlm2 minicpm minicpm3 gemma " +
    "gemma2 starcoder2 mamba xverse command-r cohere2 dbrx olmo olmo2 olmoe openelm arctic deepseek deepseek2 " +
    "chatglm bitnet t5 t5encoder jais nemotron exaone rwkv6 rwkv6qwen2 granite granitemoe chameleon wavtokenizer-dec"
  ).split(" "),
);

/** Keys `load_hparams` reads without a default, for every architecture (`{arch}` is the architecture). */
const REQUIRED_FOR_ALL = ["{arch}.context_length", "{arch}.embedding_length", "{arch}.block_count"];

/** Keys the architecture's own case in `load_hparams` requires on top (only the llama family is listed). */
const REQUIRED_BY_ARCH: Readonly<Record<string, readonly string[]>> = Object.assign(Object.create(null), {
  llama: ["{arch}.attention.layer_norm_rms_epsilon"],
  deci: ["{arch}.attention.layer_norm_rms_epsilon"],
  minicpm: ["{arch}.attention.layer_norm_rms_epsilon"],
  granite: ["{arch}.attention.layer_norm_rms_epsilon"],
  granitemoe: ["{arch}.attention.layer_norm_rms_epsilon"],
});

/** The vocabulary loader requires the tokenizer model and its token list. */
const REQUIRED_TOKENIZER = ["tokenizer.ggml.model", "tokenizer.ggml.tokens"];

/**
 * Why llama.cpp's loader would refuse a GGUF with these metadata keys, in the words a user acts on
 * ("missing llama.attention.layer_norm_rms_epsilon"); empty when it would load as far as metadata goes.
 */
export function llamaCppLoadProblems(
  architecture: string | undefined,
  hasKey: (key: string) => boolean,
): string[] {
  if (architecture === undefined) return ["missing general.architecture"];
  if (!LLAMA_CPP_ARCHITECTURES.has(architecture)) {
    return [`unknown architecture "${architecture}" (llama.cpp b4748 does not load it)`];
  }
  const keys = [...REQUIRED_FOR_ALL, ...(REQUIRED_BY_ARCH[architecture] ?? []), ...REQUIRED_TOKENIZER];
  return keys
    .map((k) => k.replace("{arch}", architecture))
    .filter((k) => !hasKey(k))
    .map((k) => `missing ${k}`);
}
