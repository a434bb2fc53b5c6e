const SYLLABLES = [
  "ka",
  "lo",
  "mi",
  "ren",
  "to",
  "su",
  "vel",
  "dra",
  "qui",
  "zen",
  "pa",
  "mor",
  "thi",
  "el",
  "an",
  "ob",
  "ru",
  "sen",
  "ga",
  "fi",
  "nol",
  "bre",
  "ux",
  "ta",
];

/** Words in a text: the stub's stand-in for a tokenizer. */
export function countWords(text: string): number {
  const words = text.trim().split(/\s+/);
  return words.length === 1 && words[0] === "" ? 0 : words.length;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash || 1;
}

/**
 * Deterministic gibberish, one word per token: the same prompt always yields the same text. The
 * first piece has no leading space, like a detokenized answer.
 */
export function createWordStream(seedText: string): () => string {
  let state = fnv1a(seedText);
  let first = true;
  const next = (): number => {
    // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  return () => {
    const syllables = 1 + (next() % 3);
    let word = "";
    for (let i = 0; i < syllables; i++) word += SYLLABLES[next() % SYLLABLES.length];
    const piece = first ? word : ` ${word}`;
    first = false;
    return piece;
  };
}
