/**
 * Text from models and backend logs goes to a terminal: control bytes in it (ESC sequences, NUL, BEL,
 * bidirectional overrides) could move the cursor, retitle the window or hide text. Text output shows them
 * as visible escapes; JSON output carries the exact string instead.
 */

// C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidi embeddings/overrides/isolates.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function visible(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** `text` with every terminal control character written as `\xNN` / `\uNNNN`; tab and newline kept. */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, visible);
}

/** One line for the terminal: like `escapeControl`, and a newline too becomes visible. */
export function escapeLine(text: string): string {
  return escapeControl(text).replace(/\n/g, "\\n");
}
