/**
 * The worst inputs an upload may be (≤ the upload limit, ≤ 10 min) for memory and decoding work, per format: max
 * sample rate, max channels, max duration, smallest frames. Written in TypeScript from the committed
 * fixtures (no encoder needed): FLAC frames are written directly (CONSTANT or VERBATIM subframes), MP3
 * frames and Ogg pages of a fixture are repeated to ten minutes, an M4A's smallest AAC frame to the frame budget. Used by `npm run bench -- --memory`
 * and by test/memory-budget.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MAX_UPLOAD_BYTES } from '../lambdas/app/config.ts';
import { concatenated } from '../lambdas/core/audio/concat.ts';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { MAX_CODEC_FRAMES } from '../lambdas/core/audio/limits.ts';
import { readBoxes } from '../lambdas/core/audio/mp4.ts';
import { OGG_CRC } from './fuzz-layout.ts';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

export interface MemoryCase {
  name: string;
  format: string;
  /** What makes it a worst case. */
  note: string;
  bytes: () => Promise<Uint8Array>;
}

// --- FLAC, written directly ---------------------------------------------------------------------------

class BitWriter {
  #bytes: number[] = [];
  #bits = 0;
  #fill = 0;
  write(value: number, width: number): void {
    if (this.#fill === 0 && width % 8 === 0) {
      // Whole bytes on a byte boundary (most of a frame): a byte at a time, not a bit.
      for (let shift = width - 8; shift >= 0; shift -= 8)
        this.#bytes.push(Math.floor(value / 2 ** shift) & 0xff);
      return;
    }
    for (let i = width - 1; i >= 0; i--) {
      this.#bits = (this.#bits << 1) | (Math.floor(value / 2 ** i) & 1);
      if (++this.#fill === 8) {
        this.#bytes.push(this.#bits);
        this.#bits = 0;
        this.#fill = 0;
      }
    }
  }
  align(): void {
    if (this.#fill > 0) this.write(0, 8 - this.#fill);
  }
  bytes(): number[] {
    return this.#bytes;
  }
}

/** FLAC's frame-header CRC-8 (bit by bit: the writer's own, independent of the reader's tables). */
export const crc8 = (data: Iterable<number>): number => {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
};

/** FLAC's frame CRC-16 (bit by bit, as `crc8`). */
export const crc16 = (data: Iterable<number>): number => {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
};

/** FLAC's UTF-8-like coding of the frame number. */
const utf8Number = (n: number): number[] => {
  if (n < 0x80) return [n];
  const out: number[] = [];
  let value = n;
  let bytes = 1;
  while (value >= 2 ** (6 * bytes + (6 - bytes))) bytes++;
  for (let i = 0; i < bytes; i++) {
    out.unshift(0x80 | (value & 0x3f));
    value = Math.floor(value / 64);
  }
  out.unshift(((0xff << (7 - bytes)) & 0xff) | value);
  return out;
};

interface FlacSpec {
  sampleRate: number;
  channels: number;
  totalFrames: number;
  blockSize: number;
  /** 16-bit samples for one channel (repeated over all channels and looped), or undefined for silence. */
  signal?: Int16Array;
}

const flacHeader = (spec: FlacSpec): number[] => {
  const w = new BitWriter();
  for (const c of 'fLaC') w.write(c.charCodeAt(0), 8);
  w.write(1, 1); // last metadata block
  w.write(0, 7); // STREAMINFO
  w.write(34, 24);
  w.write(spec.blockSize, 16);
  w.write(spec.blockSize, 16);
  w.write(0, 24);
  w.write(0, 24);
  w.write(spec.sampleRate, 20);
  w.write(spec.channels - 1, 3);
  w.write(15, 5); // 16 bits per sample
  w.write(spec.totalFrames, 36);
  for (let i = 0; i < 16; i++) w.write(0, 8); // MD5 unknown
  return w.bytes();
};

const flacFrame = (spec: FlacSpec, index: number, first: number, length: number): number[] => {
  const header = new BitWriter();
  header.write(0xfff8, 16); // sync, fixed block size
  header.write(7, 4); // block size: 16 bits at the end of the header
  header.write(14, 4); // sample rate: 16 bits, in tens of Hz
  header.write(spec.channels - 1, 4); // independent channels
  header.write(4, 3); // 16 bits per sample
  header.write(0, 1);
  for (const byte of utf8Number(index)) header.write(byte, 8);
  header.write(length - 1, 16);
  header.write(spec.sampleRate / 10, 16);
  const headerBytes = header.bytes();
  const w = new BitWriter();
  for (const byte of [...headerBytes, crc8(headerBytes)]) w.write(byte, 8);
  for (let c = 0; c < spec.channels; c++) {
    const { signal } = spec;
    if (!signal) {
      w.write(0, 8); // CONSTANT subframe
      w.write(0, 16);
      continue;
    }
    w.write(2, 8); // VERBATIM subframe
    for (let i = 0; i < length; i++) w.write(signal[(first + i) % signal.length]! & 0xffff, 16);
  }
  w.align();
  const frame = w.bytes();
  const crc = crc16(frame);
  frame.push(crc >> 8, crc & 0xff);
  return frame;
};

export const writeFlac = (spec: FlacSpec): Uint8Array => {
  const parts: number[][] = [flacHeader(spec)];
  let size = parts[0]!.length;
  for (let first = 0, index = 0; first < spec.totalFrames; first += spec.blockSize, index++) {
    const frame = flacFrame(spec, index, first, Math.min(spec.blockSize, spec.totalFrames - first));
    parts.push(frame);
    size += frame.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

// --- WAV / AIFF: 8-bit PCM, the most samples the upload limit can hold --------------------------------

const speech16k = async (): Promise<Float32Array> =>
  (await decodeAudio(readFileSync(join(FIXTURES, 'tess/OAF_bath_angry.flac')), { outputRate: 16000 }))
    .samples;

/** `seconds` of a TESS clip looped (with its pauses), as 16-bit samples at `rate`. */
const loopedSpeech = async (rate: number, seconds: number): Promise<Int16Array> => {
  const clip = (
    await decodeAudio(readFileSync(join(FIXTURES, 'tess/OAF_bath_angry.flac')), { outputRate: rate })
  ).samples;
  return Int16Array.from({ length: Math.round(rate * seconds) }, (_, i) =>
    Math.round(clip[i % clip.length]! * 32767),
  );
};

const wav8 = (rate: number, channels: number, frames: number, sample: (i: number) => number): Uint8Array => {
  const dataBytes = frames * channels;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode('RIFF'), 0);
  view.setUint32(4, 36 + dataBytes, true);
  out.set(new TextEncoder().encode('WAVEfmt '), 8);
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * channels, true);
  view.setUint16(32, channels, true);
  view.setUint16(34, 8, true);
  out.set(new TextEncoder().encode('data'), 36);
  view.setUint32(40, dataBytes, true);
  for (let f = 0; f < frames; f++) {
    const value = 128 + Math.round(sample(f) * 127);
    out.fill(value, 44 + f * channels, 44 + (f + 1) * channels);
  }
  return out;
};

/** The same 8-bit PCM as an AIFF file (signed samples, big-endian chunks). */
const aiff8 = (rate: number, frames: number, sample: (i: number) => number): Uint8Array => {
  const out = new Uint8Array(54 + frames);
  const view = new DataView(out.buffer);
  const ascii = (at: number, text: string) => out.set(new TextEncoder().encode(text), at);
  ascii(0, 'FORM');
  view.setUint32(4, 46 + frames);
  ascii(8, 'AIFF');
  ascii(12, 'COMM');
  view.setUint32(16, 18);
  view.setInt16(20, 1);
  view.setUint32(22, frames);
  view.setInt16(26, 8);
  // 80-bit extended sample rate: exponent and a normalised 64-bit mantissa.
  const exponent = Math.floor(Math.log2(rate));
  view.setUint16(28, 16383 + exponent);
  view.setUint32(30, Math.round((rate / 2 ** exponent) * 2 ** 31) >>> 0);
  ascii(38, 'SSND');
  view.setUint32(42, 8 + frames);
  for (let f = 0; f < frames; f++) view.setInt8(54 + f, Math.round(sample(f) * 127));
  return out;
};

// --- MP3 and Ogg: a fixture's frames or pages repeated to ten minutes ---------------------------------

/** The MPEG frames of a fixture (ID3 and the Xing/Info frame dropped), repeated to `seconds`. */
const repeatMp3 = async (path: string, seconds: number): Promise<Uint8Array> => {
  const bytes = readFileSync(join(FIXTURES, path));
  const id3 =
    bytes[0] === 0x49 ? 10 + ((bytes[6]! << 21) | (bytes[7]! << 14) | (bytes[8]! << 7) | bytes[9]!) : 0;
  // Skip the first frame: LAME's Info frame would declare the fixture's short length.
  let second = id3 + 1;
  while (!(bytes[second] === 0xff && (bytes[second + 1]! & 0xe0) === 0xe0)) second++;
  const hasTag = bytes.subarray(bytes.length - 128, bytes.length - 125).toString() === 'TAG';
  const frames = bytes.subarray(second, hasTag ? bytes.length - 128 : bytes.length);
  // Without the Info frame nothing is trimmed: the frames' own length is what each copy adds.
  const sourceSeconds = (await decodeAudio(frames)).durationSec;
  const copies = Math.floor(seconds / sourceSeconds);
  const out = new Uint8Array(frames.length * copies);
  for (let i = 0; i < copies; i++) out.set(frames, i * frames.length);
  return out;
};

const oggCrc = (page: Uint8Array): number => {
  let crc = 0;
  for (const byte of page) crc = ((crc << 8) ^ OGG_CRC[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
};

interface OggPage {
  bytes: Uint8Array;
  granule: number;
}

const oggPages = (bytes: Uint8Array): OggPage[] => {
  const pages: OggPage[] = [];
  for (let at = 0; at < bytes.length; ) {
    const segments = bytes[at + 26]!;
    let size = 27 + segments;
    for (let s = 0; s < segments; s++) size += bytes[at + 27 + s]!;
    const view = new DataView(bytes.buffer, bytes.byteOffset + at);
    pages.push({
      bytes: bytes.slice(at, at + size),
      granule: view.getUint32(6, true) + view.getUint32(10, true) * 2 ** 32,
    });
    at += size;
  }
  return pages;
};

/** A fixture's audio pages repeated to `seconds`, with granules, sequence numbers, flags and CRCs redone. */
const repeatOgg = (path: string, seconds: number, rate: number): Uint8Array => {
  // A plain Uint8Array: Buffer#slice would return views, and the pages are edited in place.
  const pages = oggPages(new Uint8Array(readFileSync(join(FIXTURES, path))));
  const headers = pages.filter((page) => page.granule === 0);
  const audio = pages.filter((page) => page.granule > 0);
  const span = audio.at(-1)!.granule;
  const copies = Math.floor((seconds * rate) / span);
  const out: Uint8Array[] = headers.map((page) => page.bytes);
  let sequence = headers.length;
  for (let copy = 0; copy < copies; copy++) {
    for (const [i, page] of audio.entries()) {
      const bytes = page.bytes.slice();
      const view = new DataView(bytes.buffer);
      const granule = page.granule + copy * span;
      view.setUint32(6, granule % 2 ** 32, true);
      view.setUint32(10, Math.floor(granule / 2 ** 32), true);
      view.setUint32(18, sequence++, true);
      const last = copy === copies - 1 && i === audio.length - 1;
      bytes[5] = (bytes[5]! & ~4) | (last ? 4 : 0);
      view.setUint32(22, 0, true);
      view.setUint32(22, oggCrc(bytes), true);
      out.push(bytes);
    }
  }
  return concatenated(out, Uint8Array);
};

// --- Crafted Opus: frames that cost nothing in bytes, the most channels ----------------------------------

/** A WebM file with one mono Opus track whose one cluster (unknown size, as recorders write) repeats `block`. */
const webmRepeating = (block: number[], totalBytes: number): Uint8Array => {
  // Sizes as 2-byte vints (every element here is under 16 KB).
  const vint2 = (size: number) => [0x40 | (size >> 8), size & 0xff];
  const sized = (id: number[], content: number[]) => [...id, ...vint2(content.length), ...content];
  const text = (value: string) => [...new TextEncoder().encode(value)];
  const unknownSize = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const track = sized(
    [0xae],
    [
      ...sized([0xd7], [1]),
      ...sized([0x83], [2]),
      ...sized([0x86], text('A_OPUS')),
      ...sized([0xe1], sized([0x9f], [1])),
    ],
  );
  const head = [
    ...sized([0x1a, 0x45, 0xdf, 0xa3], sized([0x42, 0x82], text('webm'))),
    ...[0x18, 0x53, 0x80, 0x67, ...unknownSize],
    ...sized([0x16, 0x54, 0xae, 0x6b], track),
    ...[0x1f, 0x43, 0xb6, 0x75, ...unknownSize],
  ];
  const simpleBlock = sized([0xa3], [0x81, 0, 0, ...block]); // track 1, timecode 0
  const copies = Math.floor((totalBytes - head.length) / simpleBlock.length);
  const out = new Uint8Array(head.length + copies * simpleBlock.length);
  out.set(head);
  for (let i = 0; i < copies; i++) out.set(simpleBlock, head.length + i * simpleBlock.length);
  return out;
};

/** One Ogg page (RFC 3533) of whole packets, its CRC computed. */
const oggPage = (flags: number, granule: number, sequence: number, packets: Uint8Array[]): Uint8Array => {
  const lacing = packets.flatMap((p) => [...new Array(Math.floor(p.length / 255)).fill(255), p.length % 255]);
  const page = concatenated([new Uint8Array(27 + lacing.length), ...packets], Uint8Array);
  const view = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53, 0, flags]);
  view.setBigInt64(6, BigInt(granule), true);
  view.setUint32(14, 1, true);
  view.setUint32(18, sequence, true);
  page[26] = lacing.length;
  page.set(lacing, 27);
  view.setUint32(22, oggCrc(page), true);
  return page;
};

/**
 * Ogg Opus with 64 uncoupled channels (the limit), every packet 6 × 20 ms of CELT with empty frames
 * (120 ms, the most a packet holds, in 191 bytes), and no granule position on the last page: nothing
 * declares the length, so only the decoded-values budget stops it (1024 packets: 94 M values at 16 kHz).
 */
const maxChannelsOpus = (packets: number): Uint8Array => {
  const channels = 64;
  const head = new Uint8Array(21 + channels);
  head.set(new TextEncoder().encode('OpusHead'));
  const view = new DataView(head.buffer);
  head[8] = 1;
  head[9] = channels;
  view.setUint16(10, 312, true);
  view.setUint32(12, 48000, true);
  head.set([255, channels, 0], 18); // mapping family 255: one uncoupled stream per channel
  for (let c = 0; c < channels; c++) head[21 + c] = c;
  const tags = new Uint8Array([...new TextEncoder().encode('OpusTags'), 0, 0, 0, 0, 0, 0, 0, 0]);
  // Code 3 (6 frames, CBR): self-delimited streams first, each with a zero length byte, then the last.
  const packet = new Uint8Array([...new Array(channels - 1).fill([0xfb, 0x06, 0x00]).flat(), 0xfb, 0x06]);
  const pages = [oggPage(2, 0, 0, [head]), oggPage(0, 0, 1, [tags])];
  for (let first = 0, sequence = 2; first < packets; first += 255, sequence++) {
    const count = Math.min(255, packets - first);
    const last = first + count >= packets;
    // Each page's granule honest (120 ms a packet), but none on the last: the header check has none.
    const granule = last ? -1 : (first + count) * 5760;
    pages.push(oggPage(last ? 4 : 0, granule, sequence, new Array(count).fill(packet)));
  }
  return concatenated(pages, Uint8Array);
};

/** Crafted Opus files: what a WebM block or an Opus packet can cost beyond its bytes. */
const craftedOpusCases = (): MemoryCase[] => [
  {
    name: 'empty-laces.webm',
    format: 'WebM Opus',
    note: `${LIMIT} of 7-byte blocks of 256 empty laces (fixed-size lacing): 920 M frames, none of them audio`,
    bytes: async () => webmRepeating([0x80 | (2 << 1), 255], MAX_UPLOAD_BYTES),
  },
  {
    name: 'one-byte-laces.webm',
    format: 'WebM Opus',
    note: `${LIMIT} of blocks of 256 one-byte frames (2.5 ms each at the least): 25 M frames, 240 000 allowed`,
    bytes: async () => webmRepeating([0x80 | (2 << 1), 255, ...new Array(256).fill(0xf8)], MAX_UPLOAD_BYTES),
  },
  {
    name: 'max-channels-120ms.opus',
    format: 'Ogg Opus',
    note: '64 channels of 120 ms packets (191 bytes each), no declared length: over the decoded-values budget',
    bytes: async () => maxChannelsOpus(1024),
  },
];

// --- MP4, the fixture's smallest AAC frame repeated ----------------------------------------------------

type Mp4Box = ReturnType<typeof readBoxes>[number];
const dataView = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const topBox = (bytes: Uint8Array, type: string): Mp4Box =>
  readBoxes(bytes, 0, bytes.length).find((b) => b.type === type)!;
/** The box at `path` under moov (the first of each type). */
export const boxInMoov = (bytes: Uint8Array, path: string[]): Mp4Box =>
  path.reduce(
    (box, type) => readBoxes(bytes, box.content, box.end).find((b) => b.type === type)!,
    topBox(bytes, 'moov'),
  );
const STBL = ['trak', 'mdia', 'minf', 'stbl'];

/** The smallest AAC frame of the fixture (5 bytes of silence). */
const smallestAacFrame = (source: Uint8Array): Uint8Array => {
  const view = dataView(source);
  const stsz = boxInMoov(source, [...STBL, 'stsz']);
  const sizes = Array.from({ length: view.getUint32(stsz.content + 8) }, (_, i) =>
    view.getUint32(stsz.content + 12 + 4 * i),
  );
  const smallest = sizes.indexOf(Math.min(...sizes));
  let offset = view.getUint32(boxInMoov(source, [...STBL, 'stco']).content + 8);
  for (let i = 0; i < smallest; i++) offset += sizes[i]!;
  return source.subarray(offset, offset + sizes[smallest]!);
};

/** Rewrites stts, stsz, stsc, stco in place for `count` samples of `size` bytes in one chunk at `offset`. */
const oneChunkTables = (bytes: Uint8Array, count: number, size: number, delta: number, offset: number) => {
  const view = dataView(bytes);
  const at = (type: string) => boxInMoov(bytes, [...STBL, type]).content;
  for (const [type, values] of Object.entries({
    stts: [1, count, delta],
    stsz: [size, count],
    stsc: [1, 1, count],
    stco: [1, offset],
  })) {
    for (const [i, value] of values.entries()) view.setUint32(at(type) + 4 + 4 * i, value);
  }
  view.setUint32(boxInMoov(bytes, ['trak', 'mdia', 'mdhd']).content + 16, 0); // duration unknown
  // No edit list: it would trim the output to the fixture's length.
  bytes.set([0x66, 0x72, 0x65, 0x65], boxInMoov(bytes, ['trak', 'edts']).start + 4);
};

/**
 * An M4A of `count` copies of the AAC fixture's smallest frame, in an mdat before moov (ffmpeg's layout),
 * whose stts declares `delta` ticks (of 44.1 kHz) per frame and whose mdhd declares no duration.
 */
export const tinyAacFrames = (count: number, delta: number): Uint8Array => {
  const source = readFileSync(join(FIXTURES, 'generated/aac-44k.m4a'));
  const frame = smallestAacFrame(source);
  const moov = topBox(source, 'moov');
  const mdatSize = 8 + count * frame.length;
  const bytes = new Uint8Array(moov.start + mdatSize + (moov.end - moov.start));
  bytes.set(source.subarray(0, moov.start));
  dataView(bytes).setUint32(moov.start, mdatSize);
  bytes.set([0x6d, 0x64, 0x61, 0x74], moov.start + 4);
  for (let i = 0; i < count; i++) bytes.set(frame, moov.start + 8 + i * frame.length);
  bytes.set(source.subarray(moov.start, moov.end), moov.start + mdatSize);
  oneChunkTables(bytes, count, frame.length, delta, moov.start + 8);
  return bytes;
};

// --- The cases -----------------------------------------------------------------------------------------

/** The deployment's default upload limit (lambdas/app/config.ts): the largest file a case may be. */
const MAX_UPLOAD_BYTES = DEFAULT_MAX_UPLOAD_BYTES;
const LIMIT = `${MAX_UPLOAD_BYTES / 1024 / 1024} MB`;
const TEN_MINUTES = 599;

/** FLAC: the files, the largest rates and channel counts, the most frames, the longest speech. */
const flacCases = (): MemoryCase[] => [
  {
    name: 'issue-384k-590s.flac',
    format: 'FLAC',
    note: 'the issue file: 384 kHz, 590 s of silence, 65535-sample frames (committed fixture)',
    bytes: async () => readFileSync(join(FIXTURES, 'bad/silence-384k-590s.flac')),
  },
  {
    name: 'issue-192k-590s.flac',
    format: 'FLAC',
    note: 'the issue file: 192 kHz, 590 s of silence (committed fixture)',
    bytes: async () => readFileSync(join(FIXTURES, 'bad/silence-192k-590s.flac')),
  },
  {
    name: 'max-rate-8ch.flac',
    format: 'FLAC',
    note: '384 kHz × 8 channels (FLAC max), silence, just under the decoded-values budget (21.8 s)',
    bytes: async () =>
      writeFlac({ sampleRate: 384000, channels: 8, totalFrames: 384000 * 21.8, blockSize: 65535 }),
  },
  {
    name: 'max-rate-mono.flac',
    format: 'FLAC',
    note: '384 kHz mono, silence, just under the budget (174 s)',
    bytes: async () =>
      writeFlac({ sampleRate: 384000, channels: 1, totalFrames: 384000 * 174, blockSize: 65535 }),
  },
  {
    name: 'smallest-frames.flac',
    format: 'FLAC',
    note: '16 kHz, 10 min of silence in 16-sample frames (the most frames per second): over the frame budget',
    bytes: async () =>
      writeFlac({ sampleRate: 16000, channels: 1, totalFrames: 16000 * TEN_MINUTES, blockSize: 16 }),
  },
  {
    name: 'smallest-frames-at-budget.flac',
    format: 'FLAC',
    note: '16-sample frames, exactly the frame budget (MAX_CODEC_FRAMES: 131 s at 16 kHz): the most frames accepted',
    bytes: async () =>
      writeFlac({ sampleRate: 16000, channels: 1, totalFrames: 16 * MAX_CODEC_FRAMES, blockSize: 16 }),
  },
  {
    name: 'max-duration-speech.flac',
    format: 'FLAC',
    note: '16 kHz, 10 min of speech (a TESS clip looped), uncompressed frames: every later stage at its longest',
    bytes: async () =>
      writeFlac({
        sampleRate: 16000,
        channels: 1,
        totalFrames: 16000 * TEN_MINUTES,
        blockSize: 4096,
        signal: await loopedSpeech(16000, 30),
      }),
  },
];

/** WAV / AIFF: 8-bit PCM, the most samples the upload limit can hold. */
const pcmCases = (): MemoryCase[] => [
  {
    name: 'max-samples-speech.wav',
    format: 'WAV',
    note: `8-bit mono at 41.9 kHz: the most samples ${LIMIT} holds within 10 min, speech`,
    bytes: async () => {
      const speech = await loopedSpeech(41900, 30);
      const frames = Math.min(41900 * TEN_MINUTES, MAX_UPLOAD_BYTES - 44);
      return wav8(41900, 1, frames, (i) => speech[i % speech.length]! / 32768);
    },
  },
  {
    name: 'max-channels.wav',
    format: 'WAV',
    note: `8-bit, 64 channels (the limit) at 384 kHz: ${LIMIT} of sample values`,
    bytes: async () =>
      wav8(384000, 64, Math.floor((MAX_UPLOAD_BYTES - 44) / 64), (i) => Math.sin(i / 50) * 0.5),
  },
  {
    name: 'max-samples.aiff',
    format: 'AIFF',
    note: `8-bit mono at 41.9 kHz, ${LIMIT} (10 min), speech`,
    bytes: async () => {
      const speech = await speech16k();
      return aiff8(
        41900,
        Math.min(41900 * TEN_MINUTES, MAX_UPLOAD_BYTES - 54),
        (i) => speech[Math.floor((i * 16000) / 41900) % speech.length]!,
      );
    },
  },
];

/** The lossy formats at the longest duration, built from committed fixtures. */
const lossyCases = (): MemoryCase[] => [
  {
    name: 'max-duration.mp3',
    format: 'MP3',
    note: '10 min of the 44.1 kHz fixture repeated frame by frame',
    bytes: () => repeatMp3('generated/mono-44k.mp3', TEN_MINUTES),
  },
  {
    name: 'max-duration.opus',
    format: 'Ogg Opus',
    note: '590 s of the 48 kHz fixture repeated page by page',
    bytes: async () => repeatOgg('generated/opus-48k.opus', 590, 48000),
  },
  {
    name: 'max-duration.ogg',
    format: 'Ogg Vorbis',
    note: 'just under 10 min of the 16 kHz fixture repeated page by page',
    // Repeated, each 1 s copy decodes to 1.024 s (580 copies: 593.9 s, measured), more than its granules
    // say: 599 copies ran past 600 s and ended TOO_LONG, measuring the refusal, not the longest file.
    bytes: async () => repeatOgg('generated/vorbis-16k.ogg', 580, 16000),
  },
  {
    name: 'smallest-frames.m4a',
    format: 'MP4 (AAC)',
    note: '5-byte AAC frames, the frame budget of them (3043 s at 44.1 kHz), moov last, stts and mdhd understating',
    bytes: async () => tinyAacFrames(MAX_CODEC_FRAMES, 1),
  },
];

export const memoryCases = (): MemoryCase[] => [
  ...flacCases(),
  ...pcmCases(),
  ...lossyCases(),
  ...craftedOpusCases(),
];

export interface MemoryOutcome {
  outcome: string;
  peakRssMb: number;
  seconds: number;
}

/** Child mode: predicts one file like `ser predict` and prints its outcome and peak RSS as JSON. */
export const runChild = async (path: string): Promise<void> => {
  const { createPredictor } = await import('../lambdas/core/predict.ts');
  const { isSerError } = await import('../lambdas/core/errors.ts');
  const { DEFAULT_MODEL_DIR } = await import('../lib/paths.ts');
  const predictor = await createPredictor({ modelDir: DEFAULT_MODEL_DIR });
  const started = performance.now();
  let outcome: string;
  try {
    outcome = (await predictor.predict(readFileSync(path))).emotion;
  } catch (error) {
    if (!isSerError(error)) throw error;
    outcome = error.code;
  }
  const result: MemoryOutcome = {
    outcome,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
};
