import type { AudioFormat } from './types.ts';

/** The four ASCII bytes at `offset` (a RIFF/AIFF chunk id or an MP4 box type); past the end reads as NUL. */
export const fourCc = (bytes: Uint8Array, offset: number): string =>
  String.fromCharCode(bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!, bytes[offset + 3]!);

const ascii = (bytes: Uint8Array, offset: number, text: string): boolean => {
  if (offset + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  }
  return true;
};

/** Size of an ID3v2 tag starting at `offset` (header + body + optional footer), or 0 if there is none. */
export const id3v2Size = (bytes: Uint8Array, offset = 0): number => {
  if (!ascii(bytes, offset, 'ID3') || bytes.length < offset + 10) return 0;
  const flags = bytes[offset + 5]!;
  // Synchsafe integer: 7 bits per byte, top bits must be clear.
  let size = 0;
  for (let i = 6; i < 10; i++) {
    const b = bytes[offset + i]!;
    if (b & 0x80) return 0;
    size = size * 128 + b;
  }
  const footer = flags & 0x10 ? 10 : 0;
  return 10 + size + footer;
};

/** True when a valid MPEG audio (layer I/II/III) frame header starts at `offset`. */
export const isMpegFrameHeader = (bytes: Uint8Array, offset: number): boolean => {
  if (offset + 4 > bytes.length) return false;
  const b1 = bytes[offset + 1]!;
  const b2 = bytes[offset + 2]!;
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return false;
  const version = (b1 >> 3) & 3; // 1 is reserved
  const layer = (b1 >> 1) & 3; // 0 is reserved
  const bitrateIndex = b2 >> 4; // 15 is invalid
  const rateIndex = (b2 >> 2) & 3; // 3 is reserved
  return version !== 1 && layer !== 0 && bitrateIndex !== 15 && rateIndex !== 3;
};

/** Ogg codec of the first packet in the first page (the identification header), if we support it. */
const oggCodec = (bytes: Uint8Array): AudioFormat | undefined => {
  if (bytes.length < 27) return undefined;
  const segments = bytes[26]!;
  const packet = 27 + segments;
  if (ascii(bytes, packet, '\x01vorbis')) return 'ogg-vorbis';
  if (ascii(bytes, packet, 'OpusHead')) return 'ogg-opus';
  return undefined;
};

/** ISO BMFF brands that are images, not audio or video (HEIF/AVIF stills). */
const IMAGE_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1', 'avif', 'avis']);

/** MP4/M4A/MOV/3GP: an `ftyp` box first (or, in old QuickTime files, a `moov`/`mdat`/`wide`/`free` box). */
const isIsoMedia = (bytes: Uint8Array): boolean => {
  if (ascii(bytes, 4, 'ftyp'))
    return bytes.length >= 12 && !IMAGE_BRANDS.has(String.fromCharCode(...bytes.subarray(8, 12)));
  return ['moov', 'mdat', 'wide', 'free'].some((type) => ascii(bytes, 4, type)) && bytes[0]! <= 1; // size < 32 MB
};

/** Matroska/WebM: the EBML magic, and a DocType of webm or matroska in the header that follows. */
const isMatroska = (bytes: Uint8Array): boolean => {
  if (!(bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3)) return false;
  const header = String.fromCharCode(...bytes.subarray(4, 64));
  return header.includes('webm') || header.includes('matroska');
};

/**
 * The audio format of `bytes` judged only from magic bytes (never a file name: users upload AIFF named
 * `.wav` and HTML named `.mp3`). Undefined when the bytes are not a format we decode.
 */
export const detectFormat = (bytes: Uint8Array): AudioFormat | undefined => {
  if (bytes.length < 4) return undefined;
  if (
    (ascii(bytes, 0, 'RIFF') || ascii(bytes, 0, 'RIFX') || ascii(bytes, 0, 'RF64')) &&
    ascii(bytes, 8, 'WAVE')
  ) {
    return 'wav';
  }
  if (ascii(bytes, 0, 'FORM') && (ascii(bytes, 8, 'AIFF') || ascii(bytes, 8, 'AIFC'))) return 'aiff';
  if (ascii(bytes, 0, 'fLaC')) return 'flac';
  if (ascii(bytes, 0, 'OggS')) return oggCodec(bytes);
  if (isIsoMedia(bytes)) return 'mp4';
  if (isMatroska(bytes)) return 'webm';
  const tagSize = id3v2Size(bytes);
  if (tagSize > 0) {
    // An ID3v2 tag is used in front of FLAC too (rarely); look at what follows it.
    if (ascii(bytes, tagSize, 'fLaC')) return 'flac';
    if (tagSize >= bytes.length) return 'mp3'; // tag only: it is an MP3 with no frames (decode reports it)
    return isMpegFrameHeader(bytes, tagSize) || findMpegSync(bytes, tagSize) >= 0 ? 'mp3' : undefined;
  }
  // Raw MPEG stream: require two consecutive frame headers would be stricter, but short clips
  // can be a single frame; a valid first header is already a strong signal.
  if (isMpegFrameHeader(bytes, 0)) return 'mp3';
  return undefined;
};

/** Offset of the first MPEG frame header at or after `from` within a short window (padding after tags). */
export const findMpegSync = (bytes: Uint8Array, from: number, window = 4096): number => {
  const end = Math.min(bytes.length - 3, from + window);
  for (let i = from; i < end; i++) {
    if (bytes[i] === 0xff && isMpegFrameHeader(bytes, i)) return i;
  }
  return -1;
};
