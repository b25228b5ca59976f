/**
 * A FLAC stream's frames (https://xiph.org/flac/format.html), found in a whole file in memory, for a
 * decoder that takes one frame per call (libFLAC's `process_single` in @wasm-audio-decoders/flac).
 *
 * A frame starts with a header whose CRC-8 holds and ends where the next such header starts that
 * continues the stream (the next frame number, the same parameters) or after which the frame's CRC-16
 * (its last two bytes) holds, so a sync code inside a frame's data is not taken for a boundary. This
 * replaces codec-parser, which required the CRC-16 always (its generator and per-frame objects were
 * ~0.5 ms of a 3 s clip's 1.3 ms of decoding). The last frame runs to the end of the file, or at most
 * MAX_FRAME_BYTES (libFLAC decodes one frame and ignores bytes after it, such as a trailing tag).
 * Metadata blocks are skipped by their lengths; bytes that are not a frame where one should start are
 * skipped to the next valid header, as a damaged file has them. libFLAC checks every frame's CRC-16
 * again as it decodes.
 */

/** The fixed part of a frame header: sync (2 bytes), block size and rate, channels and bit depth. */
const FIXED_HEADER_BYTES = 4;
/**
 * The longest frame handed over: the WASM wrapper splits anything longer (its `_MAX_INPUT_SIZE`,
 * 65535 × 8 bytes, 0.2.11) and libFLAC would decode the pieces apart. Real frames are far shorter (a 16-bit
 * stereo frame of 4096 samples stored verbatim is 16 KB); the format allows ~2 MB (8 channels of 65535
 * 32-bit samples), which such a frame then fails as one whose samples do not all decode (flac.ts).
 */
const MAX_FRAME_BYTES = 65535 * 8;
/** The smallest frame after its header: the CRC-16 footer (a subframe adds at least one byte). */
const MIN_FRAME_BODY = 2;

/** CRC-8, polynomial x^8 + x^2 + x + 1, initial value 0 (FLAC frame header). */
const CRC8 = tableOf(8, 0x07);
/** CRC-16, polynomial x^16 + x^15 + x^2 + 1, initial value 0 (FLAC frame footer). */
const CRC16 = tableOf(16, 0x8005);

function tableOf(bits: 8 | 16, polynomial: number): Uint16Array {
  const top = 1 << (bits - 1);
  const mask = (1 << bits) - 1;
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << (bits - 8);
    for (let bit = 0; bit < 8; bit++) crc = crc & top ? ((crc << 1) ^ polynomial) & mask : (crc << 1) & mask;
    table[byte] = crc;
  }
  return table;
}

/** The CRC-16 `crc` of some bytes continued over bytes[from, to); 0 over a whole frame ending in its own CRC-16. */
function crc16(crc: number, bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ CRC16[(crc >> 8) ^ bytes[i]!]!;
  return crc;
}

/** Bytes of the "UTF-8"-coded frame or sample number starting with `first`; 0 if `first` cannot start one. */
function codedNumberBytes(first: number): number {
  if (first < 0x80) return 1;
  if (first < 0xc0 || first === 0xff) return 0; // a continuation byte, or no zero bit
  let length = 2;
  for (let bit = 0x20; first & bit; bit >>= 1) length++;
  return length;
}

/**
 * The length of the frame header at `at` including its CRC-8, or 0 when there is none: no sync code, a
 * reserved value, a malformed number, the header cut off by the end of the file, or a wrong CRC-8.
 */
export function frameHeaderLength(bytes: Uint8Array, at: number): number {
  if (at + FIXED_HEADER_BYTES >= bytes.length) return 0;
  if (bytes[at] !== 0xff || (bytes[at + 1]! & 0xfe) !== 0xf8) return 0;
  const sizeCode = bytes[at + 2]! >> 4;
  const rateCode = bytes[at + 2]! & 0x0f;
  const layout = bytes[at + 3]!;
  const depthCode = (layout >> 1) & 7;
  // Reserved: block size code 0, rate code 15, channel codes 11–15, bit depth code 3 (7 is 32 bits).
  if (sizeCode === 0 || rateCode === 15 || layout >> 4 > 10 || depthCode === 3) return 0;
  if (layout & 1) return 0;
  const numberBytes = codedNumberBytes(bytes[at + FIXED_HEADER_BYTES]!);
  if (numberBytes === 0) return 0;
  let length = FIXED_HEADER_BYTES + numberBytes;
  if (length >= bytes.length - at) return 0;
  for (let i = at + FIXED_HEADER_BYTES + 1; i < at + length; i++) if ((bytes[i]! & 0xc0) !== 0x80) return 0;
  length += sizeCode === 6 ? 1 : sizeCode === 7 ? 2 : 0;
  length += rateCode === 12 ? 1 : rateCode === 13 || rateCode === 14 ? 2 : 0;
  if (at + length >= bytes.length) return 0;
  let crc = 0;
  for (let i = at; i < at + length; i++) crc = CRC8[crc ^ bytes[i]!]!;
  return crc === bytes[at + length] ? length + 1 : 0;
}

/** The next offset at or after `from` where a valid frame header starts, or -1. */
function nextHeader(bytes: Uint8Array, from: number, until = bytes.length): number {
  for (let at = bytes.indexOf(0xff, from); at >= 0 && at < until; at = bytes.indexOf(0xff, at + 1)) {
    if (frameHeaderLength(bytes, at) > 0) return at;
  }
  return -1;
}

/** The frame number (fixed block size) or first sample number (variable) the header at `at` codes. */
function codedNumber(bytes: Uint8Array, at: number): number {
  const first = bytes[at + FIXED_HEADER_BYTES]!;
  const length = codedNumberBytes(first);
  if (length === 1) return first;
  let value = first & (0x7f >> length);
  for (let i = 1; i < length; i++) value = value * 64 + (bytes[at + FIXED_HEADER_BYTES + i]! & 0x3f);
  return value;
}

/** Samples per channel in the frame whose header is at `at`. */
export function blockSize(bytes: Uint8Array, at: number): number {
  const code = bytes[at + 2]! >> 4;
  const after = at + FIXED_HEADER_BYTES + codedNumberBytes(bytes[at + FIXED_HEADER_BYTES]!);
  if (code === 1) return 192;
  if (code <= 5) return 576 * 2 ** (code - 2);
  if (code === 6) return bytes[after]! + 1;
  if (code === 7) return ((bytes[after]! << 8) | bytes[after + 1]!) + 1;
  return 256 * 2 ** (code - 8);
}

/** Channels of the frame whose header is at `at` (codes 8–10: stereo coded as side/mid). */
export function frameChannels(bytes: Uint8Array, at: number): number {
  const code = bytes[at + 3]! >> 4;
  return code < 8 ? code + 1 : 2;
}

/**
 * Whether the header at `next` is the one that follows the header at `start`: the same blocking
 * strategy, rate code, channels and bit depth, and the next frame number (or the sample number one
 * block on). A header inside a frame's data passes this by chance about once in 2^40 positions
 * (15 sync bits, the CRC-8, ~12 parameter bits, the number): no less safe than the CRC-16.
 */
function continues(bytes: Uint8Array, start: number, next: number): boolean {
  if (bytes[next + 1] !== bytes[start + 1] || bytes[next + 3] !== bytes[start + 3]) return false;
  if ((bytes[next + 2]! & 0x0f) !== (bytes[start + 2]! & 0x0f)) return false;
  const step = bytes[start + 1]! & 1 ? blockSize(bytes, start) : 1;
  return codedNumber(bytes, next) === codedNumber(bytes, start) + step;
}

/**
 * Where the frame starting at `start` ends: at the first valid header that continues it (`continues`) or
 * after which the CRC-16 holds (a file with a frame missing or parameters changing), else at the end of
 * the file (or of the longest frame allowed). The CRC-16 is computed only when needed and runs on from
 * one candidate to the next, so a file full of false headers costs one pass, not one per candidate.
 */
function frameEnd(bytes: Uint8Array, start: number): number {
  const until = Math.min(bytes.length, start + MAX_FRAME_BYTES);
  let crc = 0;
  let checked = start;
  for (
    let next = nextHeader(bytes, start + frameHeaderLength(bytes, start) + MIN_FRAME_BODY, until);
    next >= 0;
    next = nextHeader(bytes, next + 1, until)
  ) {
    if (continues(bytes, start, next)) return next;
    crc = crc16(crc, bytes, checked, next);
    checked = next;
    if (crc === 0) return next;
  }
  return until;
}

/**
 * Where to look for the first frame: after the "fLaC" marker (at `start`, after any ID3v2 tag) and the
 * metadata blocks, each of which says whether it is the last and how long it is. When that chain runs
 * past the end of the file or does not end at a frame header (a damaged length), the search starts right
 * after the marker, as codec-parser's did.
 */
export function firstFrameOffset(bytes: Uint8Array, start: number): number {
  const fallback = start + 4;
  let at = fallback;
  for (;;) {
    if (at + 4 > bytes.length) return fallback;
    const last = (bytes[at]! & 0x80) !== 0;
    at += 4 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
    if (last) return frameHeaderLength(bytes, at) > 0 ? at : fallback;
  }
}

/**
 * The frames of the FLAC stream in `bytes` (views, not copies), from the first frame header at or after
 * `from`, lazily: a caller that stops early (a budget) has not paid for the rest.
 */
export function* flacFrames(bytes: Uint8Array, from: number): Generator<Uint8Array> {
  let start = nextHeader(bytes, from);
  while (start >= 0) {
    const end = frameEnd(bytes, start);
    yield bytes.subarray(start, end);
    start = nextHeader(bytes, end);
  }
}
