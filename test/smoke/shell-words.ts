/**
 * Splits `LLAMA_SERVER_ARGS` the way a POSIX shell splits words, without expanding anything: blanks separate
 * words; 'single quotes' keep everything literal; "double quotes" keep blanks and honour \" \\ \$ \`;
 * a backslash outside quotes escapes the next character. `$VAR`, globs and `~` are NOT expanded: the value
 * is passed to llama-server as written.
 */
export class ShellWordsError extends Error {
  override readonly name = "ShellWordsError";
}

const DOUBLE_QUOTE_ESCAPES = new Set(['"', "\\", "$", "`"]);

export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  /** A word has started (so `""` yields an empty word). */
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new ShellWordsError(`unterminated single quote at character ${i + 1}`);
      word += text.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw new ShellWordsError(`unterminated double quote at character ${i + 1}`);
        const d = text[j] as string;
        if (d === '"') break;
        if (d === "\\" && j + 1 < text.length && DOUBLE_QUOTE_ESCAPES.has(text[j + 1] as string)) {
          word += text[j + 1];
          j += 2;
          continue;
        }
        word += d;
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= text.length) throw new ShellWordsError("a backslash ends the text: nothing to escape");
      // Backslash-newline is a line continuation, as in a shell.
      if (text[i + 1] !== "\n") word += text[i + 1];
      else if (word === "") inWord = false;
      i += 2;
      continue;
    }
    word += c;
    i++;
  }
  if (inWord) words.push(word);
  return words;
}
