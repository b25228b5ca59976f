/**
 * Control characters (C0, DEL, C1) shown as `\u001b` and the like: a file name, a key or a message quoting
 * one is the user's data, and printed raw a newline would split its line and an escape sequence would
 * rewrite the terminal.
 */
export function printable(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? `\\u${code.toString(16).padStart(4, '0')}` : char;
  }
  return out;
}
