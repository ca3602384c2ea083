/**
 * POSIX shell single-quote escaping. Inside single quotes nothing is special except the quote
 * itself, so each `'` becomes `'\''` (close, escaped quote, reopen). Works for every string,
 * including newlines, `$`, backticks and backslashes; the empty string becomes `''`.
 */
export function shellQuote(s: string): string {
  if (s.includes("\0")) {
    // A NUL cannot travel in an argv element: refusing beats silently truncating.
    throw new Error("shellQuote: value contains a NUL byte");
  }
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
