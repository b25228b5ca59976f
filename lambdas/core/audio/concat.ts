/**
 * The non-empty parts one after the other in a new `Type` array; a single non-empty part is returned as
 * it is, not copied (callers own their parts, or keep views into a buffer that outlives the result).
 */
export function concatenated<T extends Float32Array | Uint8Array>(
  parts: readonly T[],
  Type: new (length: number) => T,
): T {
  const filled = parts.filter((part) => part.length > 0);
  if (filled.length === 1) return filled[0]!;
  const out = new Type(filled.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of filled) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
