import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShellWordsError, splitShellWords } from "../smoke/shell-words.js";

/** How a shell user would quote a word so that it survives as one argument. */
function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

describe("splitShellWords (LLAMA_SERVER_ARGS)", () => {
  it.each([
    ["", []],
    ["   \t ", []],
    ["-ngl 99 -c 4096", ["-ngl", "99", "-c", "4096"]],
    ["  --flash-attn\t--mlock\n", ["--flash-attn", "--mlock"]],
    [`--alias 'my model'`, ["--alias", "my model"]],
    [`--alias "my \\"quoted\\" model"`, ["--alias", 'my "quoted" model']],
    [`--chat-template "{{ a }} \\n"`, ["--chat-template", "{{ a }} \\n"]],
    [`-m /models/a\\ b.gguf`, ["-m", "/models/a b.gguf"]],
    [`--x ''`, ["--x", ""]],
    [`a'b'"c"d`, ["abcd"]],
    ["$HOME ~/x *.gguf", ["$HOME", "~/x", "*.gguf"]],
    ["-t 4 \\\n -c 8", ["-t", "4", "-c", "8"]],
  ])("%j → %j", (text, words) => {
    expect(splitShellWords(text)).toEqual(words);
  });

  it.each([
    [`--alias 'open`, /unterminated single quote at character 9/],
    [`--alias "open`, /unterminated double quote at character 9/],
    ["trailing\\", /backslash ends the text/],
  ])("%j is refused: %s", (text, message) => {
    expect(() => splitShellWords(text)).toThrow(ShellWordsError);
    expect(() => splitShellWords(text)).toThrow(message);
  });

  it("gives back any list of words that was quoted word by word", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "grapheme-ascii" })), (words) => {
        expect(splitShellWords(words.map(quote).join(" "))).toEqual(words);
      }),
    );
  });

  it("splits unquoted plain words on any run of blanks", () => {
    const plain = fc.stringMatching(/^[A-Za-z0-9_./=:-]{1,12}$/);
    const blanks = fc.stringMatching(/^[ \t\n]{1,3}$/);
    fc.assert(
      fc.property(fc.array(plain, { minLength: 1 }), blanks, (words, gap) => {
        expect(splitShellWords(`${gap}${words.join(gap)}${gap}`)).toEqual(words);
      }),
    );
  });
});
