/**
 * Where the fuzzer's structured mutations aim (`npm run fuzz`, bin/fuzz.ts): for a file of each format
 * the core decodes, its header fields (sample rate, channels, block sizes, chunk/box/EBML sizes,
 * durations, counts) and its chunks (RIFF/AIFF chunks, FLAC metadata blocks and frames, MP3 frames, Ogg
 * pages, MP4 boxes, EBML elements). Pure: bytes in, positions out; written independently of the core's
 * decoders so a decoder's misreading of a field does not hide it from the fuzzer.
 */
import type { AudioFormat } from '../lambdas/core/audio/formats.ts';

/** What a header field means, so the summary can say which kind of extreme broke what. */
export type FieldKind = 'rate' | 'channels' | 'block' | 'size' | 'duration' | 'count' | 'bits' | 'codec';

/**
 * A header field: `bits` wide, starting `bitOffset` bits (from the most significant) into the byte at
 * `offset`; big-endian unless `littleEndian` (then byte-aligned, a whole number of bytes).
 */
export interface Field {
  name: string;
  kind: FieldKind;
  offset: number;
  bitOffset: number;
  bits: number;
  littleEndian: boolean;
  /** Rewrites the checksum that covers this field (FLAC frame header CRC-8, Ogg page CRC-32). */
  repair?: (bytes: Uint8Array) => void;
}

/** A self-contained unit of the file that can be removed or duplicated as a whole. */
export interface Chunk {
  name: string;
  offset: number;
  length: number;
}

export interface Layout {
  fields: Field[];
  chunks: Chunk[];
  /** Rewrites the file's checksums after any mutation (Ogg pages), so damage reaches the decoder. */
  repair?: (bytes: Uint8Array) => void;
}

const MAX_ITEMS = 400;

const ascii = (bytes: Uint8Array, at: number, length = 4): string =>
  String.fromCharCode(...bytes.subarray(at, at + length));

const be = (name: string, kind: FieldKind, offset: number, bytes: number): Field => ({
  name,
  kind,
  offset,
  bitOffset: 0,
  bits: bytes * 8,
  littleEndian: false,
});
const le = (name: string, kind: FieldKind, offset: number, bytes: number): Field => ({
  ...be(name, kind, offset, bytes),
  littleEndian: true,
});
const bitsAt = (name: string, kind: FieldKind, offset: number, bitOffset: number, bits: number): Field => ({
  name,
  kind,
  offset,
  bitOffset,
  bits,
  littleEndian: false,
});

/** Reads a field's value (up to 53 bits). */
export const readField = (bytes: Uint8Array, field: Field): number => {
  if (field.littleEndian) {
    let value = 0;
    for (let i = field.bits / 8 - 1; i >= 0; i--) value = value * 256 + (bytes[field.offset + i] ?? 0);
    return value;
  }
  let value = 0;
  for (let i = 0; i < field.bits; i++) {
    const bit = field.bitOffset + i;
    value = value * 2 + (((bytes[field.offset + (bit >> 3)] ?? 0) >> (7 - (bit & 7))) & 1);
  }
  return value;
};

/** Writes `value` (taken modulo 2^bits) into a field, leaving the neighbouring bits as they were. */
export const writeField = (bytes: Uint8Array, field: Field, value: number): void => {
  const bounded = ((value % 2 ** field.bits) + 2 ** field.bits) % 2 ** field.bits;
  if (field.littleEndian) {
    let rest = bounded;
    for (let i = 0; i < field.bits / 8; i++) {
      if (field.offset + i < bytes.length) bytes[field.offset + i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    return;
  }
  for (let i = 0; i < field.bits; i++) {
    const bit = field.bitOffset + i;
    const at = field.offset + (bit >> 3);
    if (at >= bytes.length) continue;
    const mask = 1 << (7 - (bit & 7));
    const set = Math.floor(bounded / 2 ** (field.bits - 1 - i)) % 2 === 1;
    bytes[at] = set ? bytes[at]! | mask : bytes[at]! & ~mask;
  }
};

// --- RIFF/WAV and AIFF: chunk walks ------------------------------------------------------------------

const wavLayout = (bytes: Uint8Array): Layout => {
  const littleEndian = ascii(bytes, 0) !== 'RIFX';
  const field = littleEndian ? le : be;
  const layout: Layout = { fields: [field('RIFF.size', 'size', 4, 4)], chunks: [] };
  for (let at = 12; at + 8 <= bytes.length && layout.chunks.length < MAX_ITEMS; ) {
    const id = ascii(bytes, at);
    const size = readField(bytes, field(id, 'size', at + 4, 4));
    layout.fields.push(field(`${id}.size`, 'size', at + 4, 4));
    layout.chunks.push({ name: id, offset: at, length: Math.min(8 + size + (size & 1), bytes.length - at) });
    if (id === 'fmt ') {
      const body = at + 8;
      layout.fields.push(
        field('fmt.formatTag', 'codec', body, 2),
        field('fmt.channels', 'channels', body + 2, 2),
        field('fmt.sampleRate', 'rate', body + 4, 4),
        field('fmt.byteRate', 'rate', body + 8, 4),
        field('fmt.blockAlign', 'block', body + 12, 2),
        field('fmt.bitsPerSample', 'bits', body + 14, 2),
      );
    }
    at += 8 + size + (size & 1);
  }
  return layout;
};

const aiffLayout = (bytes: Uint8Array): Layout => {
  const layout: Layout = { fields: [be('FORM.size', 'size', 4, 4)], chunks: [] };
  for (let at = 12; at + 8 <= bytes.length && layout.chunks.length < MAX_ITEMS; ) {
    const id = ascii(bytes, at);
    const size = readField(bytes, be(id, 'size', at + 4, 4));
    const body = at + 8;
    layout.fields.push(be(`${id}.size`, 'size', at + 4, 4));
    layout.chunks.push({ name: id, offset: at, length: Math.min(8 + size + (size & 1), bytes.length - at) });
    if (id === 'COMM') {
      layout.fields.push(
        be('COMM.channels', 'channels', body, 2),
        be('COMM.frames', 'duration', body + 2, 4),
        be('COMM.sampleSize', 'bits', body + 6, 2),
        be('COMM.rateExponent', 'rate', body + 8, 2),
        be('COMM.rateMantissa', 'rate', body + 10, 4),
      );
      if (size >= 22) layout.fields.push(be('COMM.compression', 'codec', body + 18, 4));
    } else if (id === 'SSND') {
      layout.fields.push(be('SSND.offset', 'size', body, 4), be('SSND.blockSize', 'block', body + 4, 4));
    }
    at += 8 + size + (size & 1);
  }
  return layout;
};

// --- FLAC: metadata blocks and frames ----------------------------------------------------------------

const crc8 = (bytes: Uint8Array, from: number, to: number): number => {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc ^= bytes[i]!;
    for (let b = 0; b < 8; b++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
};

/** Length of a FLAC frame header up to (not including) its CRC-8, from the codes it holds. */
const flacHeaderLength = (bytes: Uint8Array, at: number): number => {
  const first = bytes[at + 4] ?? 0;
  let utf8 = 1;
  while (utf8 < 7 && first & (0x80 >> (utf8 - 1)) && first & (0x80 >> utf8)) utf8++;
  const blockCode = (bytes[at + 2] ?? 0) >> 4;
  const rateCode = (bytes[at + 2] ?? 0) & 15;
  const blockExtra = blockCode === 6 ? 1 : blockCode === 7 ? 2 : 0;
  const rateExtra = rateCode === 12 ? 1 : rateCode === 13 || rateCode === 14 ? 2 : 0;
  return 4 + utf8 + blockExtra + rateExtra;
};

const isFlacFrame = (bytes: Uint8Array, at: number): boolean => {
  if (bytes[at] !== 0xff || (bytes[at + 1]! & 0xfe) !== 0xf8) return false;
  const length = flacHeaderLength(bytes, at);
  return at + length < bytes.length && crc8(bytes, at, at + length) === bytes[at + length];
};

const flacFrameFields = (at: number, index: number): Field[] => {
  const repair = (bytes: Uint8Array) => {
    const length = flacHeaderLength(bytes, at);
    if (at + length < bytes.length) bytes[at + length] = crc8(bytes, at, at + length);
  };
  return [
    bitsAt(`frame${index}.blockSizeCode`, 'block', at + 2, 0, 4),
    bitsAt(`frame${index}.rateCode`, 'rate', at + 2, 4, 4),
    bitsAt(`frame${index}.channelAssignment`, 'channels', at + 3, 0, 4),
    bitsAt(`frame${index}.sampleSizeCode`, 'bits', at + 3, 4, 3),
    be(`frame${index}.number`, 'count', at + 4, 1),
  ].map((field) => ({ ...field, repair }));
};

const flacLayout = (bytes: Uint8Array): Layout => {
  const layout: Layout = { fields: [], chunks: [] };
  let at = 4;
  for (let last = false; !last && at + 4 <= bytes.length; ) {
    const type = bytes[at]! & 0x7f;
    last = (bytes[at]! & 0x80) !== 0;
    const length = readField(bytes, be('', 'size', at + 1, 3));
    layout.fields.push(be(`block${type}.length`, 'size', at + 1, 3));
    layout.chunks.push({
      name: `metadata${type}`,
      offset: at,
      length: Math.min(4 + length, bytes.length - at),
    });
    if (type === 0) {
      const b = at + 4;
      layout.fields.push(
        be('STREAMINFO.minBlockSize', 'block', b, 2),
        be('STREAMINFO.maxBlockSize', 'block', b + 2, 2),
        be('STREAMINFO.minFrameSize', 'size', b + 4, 3),
        be('STREAMINFO.maxFrameSize', 'size', b + 7, 3),
        bitsAt('STREAMINFO.sampleRate', 'rate', b + 10, 0, 20),
        bitsAt('STREAMINFO.channels', 'channels', b + 12, 4, 3),
        bitsAt('STREAMINFO.bitsPerSample', 'bits', b + 12, 7, 5),
        bitsAt('STREAMINFO.totalSamples', 'duration', b + 13, 4, 36),
      );
    }
    at += 4 + length;
  }
  const starts: number[] = [];
  for (let i = at; i + 6 < bytes.length && starts.length < MAX_ITEMS; i++)
    if (isFlacFrame(bytes, i)) starts.push(i);
  starts.forEach((start, index) => {
    const end = starts[index + 1] ?? bytes.length;
    layout.chunks.push({ name: 'frame', offset: start, length: end - start });
    if (index < 4 || index === starts.length - 1) layout.fields.push(...flacFrameFields(start, index));
  });
  return layout;
};

// --- MP3: ID3v2, frame headers, Xing/Info and LAME -------------------------------------------------

const MPEG_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};
const KBPS = {
  v1: [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  v2: [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
};

/** Bytes of the MPEG audio frame whose header is at `at`, or 0 when it is not a usable header. */
const mpegFrameLength = (bytes: Uint8Array, at: number): number => {
  if (bytes[at] !== 0xff || (bytes[at + 1]! & 0xe0) !== 0xe0) return 0;
  const version = (bytes[at + 1]! >> 3) & 3;
  const layer = 4 - ((bytes[at + 1]! >> 1) & 3); // 1, 2 or 3 (4: reserved)
  const rate = MPEG_RATES[version]?.[(bytes[at + 2]! >> 2) & 3];
  const kbps = (version === 3 ? KBPS.v1 : KBPS.v2)[layer - 1]?.[bytes[at + 2]! >> 4];
  if (!rate || !kbps) return 0;
  const padding = (bytes[at + 2]! >> 1) & 1;
  if (layer === 1) return (Math.floor((12 * kbps * 1000) / rate) + padding) * 4;
  const factor = layer === 3 && version !== 3 ? 72 : 144;
  return Math.floor((factor * kbps * 1000) / rate) + padding;
};

const xingFields = (bytes: Uint8Array, frame: number, length: number): Field[] => {
  const fields: Field[] = [];
  for (const tag of ['Xing', 'Info', 'VBRI']) {
    const at = bytes.subarray(frame, frame + length).findIndex((_, i) => ascii(bytes, frame + i) === tag);
    if (at < 0) continue;
    const x = frame + at;
    if (tag === 'VBRI')
      fields.push(be('VBRI.frames', 'duration', x + 14, 4), be('VBRI.bytes', 'size', x + 10, 4));
    else fields.push(be(`${tag}.frames`, 'duration', x + 8, 4), be(`${tag}.bytes`, 'size', x + 12, 4));
  }
  const lame = bytes.subarray(frame, frame + length).findIndex((_, i) => ascii(bytes, frame + i) === 'LAME');
  if (lame >= 0) {
    fields.push(bitsAt('LAME.delay', 'duration', frame + lame + 21, 0, 12));
    fields.push(bitsAt('LAME.padding', 'duration', frame + lame + 22, 4, 12));
  }
  return fields;
};

const mp3Layout = (bytes: Uint8Array): Layout => {
  const layout: Layout = { fields: [], chunks: [] };
  let at = 0;
  if (ascii(bytes, 0, 3) === 'ID3') {
    layout.fields.push(be('ID3.size', 'size', 6, 4));
    at =
      10 +
      (((bytes[6]! & 0x7f) << 21) |
        ((bytes[7]! & 0x7f) << 14) |
        ((bytes[8]! & 0x7f) << 7) |
        (bytes[9]! & 0x7f));
    layout.chunks.push({ name: 'ID3', offset: 0, length: Math.min(at, bytes.length) });
  }
  while (at < bytes.length && bytes[at] !== 0xff) at++;
  for (let index = 0; at + 4 <= bytes.length && layout.chunks.length < MAX_ITEMS; index++) {
    const length = mpegFrameLength(bytes, at);
    if (length === 0) break;
    layout.chunks.push({ name: 'frame', offset: at, length: Math.min(length, bytes.length - at) });
    if (index < 3) {
      layout.fields.push(
        bitsAt(`frame${index}.version`, 'codec', at + 1, 3, 2),
        bitsAt(`frame${index}.layer`, 'codec', at + 1, 5, 2),
        bitsAt(`frame${index}.bitrateIndex`, 'block', at + 2, 0, 4),
        bitsAt(`frame${index}.rateIndex`, 'rate', at + 2, 4, 2),
        bitsAt(`frame${index}.channelMode`, 'channels', at + 3, 0, 2),
      );
    }
    if (index === 0) layout.fields.push(...xingFields(bytes, at, length));
    at += length;
  }
  return layout;
};

// --- Ogg: pages, Vorbis and Opus identification headers ----------------------------------------------

/** CRC-32 table of Ogg pages (polynomial 0x04c11db7, unreflected); also used by memory-cases.ts. */
export const OGG_CRC = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** Page starts found by walking page sizes from the first "OggS" (a damaged size ends the walk). */
const oggPageStarts = (bytes: Uint8Array): Array<{ at: number; size: number }> => {
  const pages = [];
  for (let at = 0; at + 27 <= bytes.length && ascii(bytes, at) === 'OggS' && pages.length < MAX_ITEMS; ) {
    const segments = bytes[at + 26]!;
    let size = 27 + segments;
    for (let s = 0; s < segments; s++) size += bytes[at + 27 + s] ?? 0;
    pages.push({ at, size: Math.min(size, bytes.length - at) });
    at += size;
  }
  return pages;
};

/** Recomputes every page's CRC-32, so a mutation reaches the decoder instead of its checksum test. */
export const repairOggCrcs = (bytes: Uint8Array): void => {
  for (const { at, size } of oggPageStarts(bytes)) {
    bytes.fill(0, at + 22, at + 26);
    let crc = 0;
    for (let i = at; i < at + size; i++)
      crc = ((crc << 8) ^ OGG_CRC[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0;
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(at + 22, crc, true);
  }
};

const oggIdFields = (bytes: Uint8Array, packet: number): Field[] =>
  ascii(bytes, packet + 1, 6) === 'vorbis'
    ? [
        le('vorbis.channels', 'channels', packet + 11, 1),
        le('vorbis.sampleRate', 'rate', packet + 12, 4),
        le('vorbis.bitrateNominal', 'rate', packet + 20, 4),
        bitsAt('vorbis.blocksize0', 'block', packet + 28, 4, 4),
        bitsAt('vorbis.blocksize1', 'block', packet + 28, 0, 4),
      ]
    : [
        le('OpusHead.channels', 'channels', packet + 9, 1),
        le('OpusHead.preSkip', 'duration', packet + 10, 2),
        le('OpusHead.inputRate', 'rate', packet + 12, 4),
        le('OpusHead.gain', 'bits', packet + 16, 2),
        le('OpusHead.mappingFamily', 'codec', packet + 18, 1),
      ];

const oggLayout = (bytes: Uint8Array): Layout => {
  const layout: Layout = { fields: [], chunks: [] };
  const pages = oggPageStarts(bytes);
  pages.forEach(({ at, size }, index) => {
    layout.chunks.push({ name: 'page', offset: at, length: size });
    if (index < 3 || index >= pages.length - 2) {
      layout.fields.push(
        le(`page${index}.flags`, 'codec', at + 5, 1),
        le(`page${index}.granule`, 'duration', at + 6, 8),
        le(`page${index}.sequence`, 'count', at + 18, 4),
        le(`page${index}.segments`, 'count', at + 26, 1),
        le(`page${index}.lacing0`, 'size', at + 27, 1),
      );
    }
    if (index === 0) layout.fields.push(...oggIdFields(bytes, at + 27 + bytes[at + 26]!));
  });
  for (const field of layout.fields) field.repair = repairOggCrcs;
  return { ...layout, repair: repairOggCrcs };
};

// --- MP4: boxes, movie/media headers, sample entries and sample tables --------------------------------

const MP4_CONTAINERS = new Set([
  'moov',
  'trak',
  'mdia',
  'minf',
  'stbl',
  'edts',
  'dinf',
  'udta',
  'mvex',
  'moof',
  'traf',
]);

/** Fields inside a leaf box, by type (ISO/IEC 14496-12 layouts; version 1 where it moves them). */
const mp4BoxFields = (bytes: Uint8Array, type: string, content: number): Field[] => {
  const v1 = bytes[content] === 1;
  switch (type) {
    case 'mvhd':
    case 'mdhd':
      return v1
        ? [
            be(`${type}.timescale`, 'rate', content + 20, 4),
            be(`${type}.duration`, 'duration', content + 24, 8),
          ]
        : [
            be(`${type}.timescale`, 'rate', content + 12, 4),
            be(`${type}.duration`, 'duration', content + 16, 4),
          ];
    case 'stsd': {
      const entry = content + 8;
      return [
        be('stsd.entries', 'count', content + 4, 4),
        be('stsd.entry.size', 'size', entry, 4),
        be('stsd.entry.channels', 'channels', entry + 24, 2),
        be('stsd.entry.sampleSize', 'bits', entry + 26, 2),
        be('stsd.entry.sampleRate', 'rate', entry + 32, 4),
      ];
    }
    case 'stts':
      return [be('stts.entries', 'count', content + 4, 4), be('stts.delta0', 'duration', content + 12, 4)];
    case 'stsz':
      return [be('stsz.sampleSize', 'size', content + 4, 4), be('stsz.count', 'count', content + 8, 4)];
    case 'stsc':
      return [
        be('stsc.entries', 'count', content + 4, 4),
        be('stsc.samplesPerChunk0', 'block', content + 12, 4),
      ];
    case 'stco':
    case 'co64':
      return [be(`${type}.entries`, 'count', content + 4, 4), be(`${type}.offset0`, 'size', content + 8, 4)];
    case 'esds':
    case 'dOps':
      return type === 'dOps'
        ? [be('dOps.channels', 'channels', content + 1, 1), be('dOps.inputRate', 'rate', content + 4, 4)]
        : [be('esds.config', 'codec', content + 30, 2)];
    default:
      return [];
  }
};

const walkMp4 = (bytes: Uint8Array, from: number, to: number, layout: Layout, depth: number): void => {
  for (let at = from; at + 8 <= to && layout.chunks.length < MAX_ITEMS; ) {
    const size = readField(bytes, be('', 'size', at, 4));
    const type = ascii(bytes, at + 4);
    const end = size === 0 ? to : size === 1 ? at + 16 : at + size;
    if (size !== 1 && size < 8) break;
    layout.fields.push(be(`${type}.size`, 'size', at, 4));
    layout.chunks.push({ name: type, offset: at, length: Math.min(end, bytes.length) - at });
    const content = at + (size === 1 ? 16 : 8);
    if (MP4_CONTAINERS.has(type) && depth < 8) walkMp4(bytes, content, Math.min(end, to), layout, depth + 1);
    else
      layout.fields.push(
        ...mp4BoxFields(bytes, type, content).filter((f) => f.offset + f.bits / 8 <= bytes.length),
      );
    if (type === 'stsd' && depth < 8) {
      // The sample entry's own children (esds, dOps) follow its 28 bytes of audio fields.
      const entry = content + 8;
      walkMp4(
        bytes,
        entry + 36,
        Math.min(entry + readField(bytes, be('', 'size', entry, 4)), to),
        layout,
        depth + 1,
      );
    }
    at = end;
  }
};

const mp4Layout = (bytes: Uint8Array): Layout => {
  const layout: Layout = { fields: [], chunks: [] };
  walkMp4(bytes, 0, bytes.length, layout, 0);
  return layout;
};

// --- Matroska/WebM: EBML element sizes and the audio track's fields -----------------------------------

const EBML_MASTERS = new Set([
  0x1a45dfa3, 0x18538067, 0x114d9b74, 0x4dbb, 0x1549a966, 0x1654ae6b, 0xae, 0xe1, 0x1f43b675, 0xa0,
  0x1c53bb6b, 0xbb, 0xb7, 0x1254c367,
]);

const EBML_LEAVES: Record<number, { name: string; kind: FieldKind }> = {
  181: { name: 'SamplingFrequency', kind: 'rate' },
  159: { name: 'Channels', kind: 'channels' },
  17545: { name: 'Duration', kind: 'duration' },
  2807729: { name: 'TimestampScale', kind: 'duration' },
  25188: { name: 'BitDepth', kind: 'bits' },
  22186: { name: 'CodecDelay', kind: 'duration' },
  215: { name: 'TrackNumber', kind: 'count' },
  131: { name: 'TrackType', kind: 'codec' },
  17139: { name: 'EBMLMaxSizeLength', kind: 'size' },
};

/** Length in bytes of the EBML variable-length integer starting with `first` (0: invalid). */
const vintLength = (first: number): number => (first === 0 ? 0 : Math.clz32(first) - 23);

const ebmlLeafFields = (bytes: Uint8Array, id: number, body: number, size: number): Field[] => {
  const leaf = EBML_LEAVES[id];
  if (leaf && size >= 1 && size <= 8) return [be(leaf.name, leaf.kind, body, size)];
  if (id === 0x63a2 && ascii(bytes, body, 8) === 'OpusHead') {
    return [
      le('OpusHead.channels', 'channels', body + 9, 1),
      le('OpusHead.preSkip', 'duration', body + 10, 2),
    ];
  }
  if (id === 0xa3 && size >= 4) {
    // SimpleBlock: track number (1-byte vint in practice), timecode, flags whose bits 5–6 are the lacing.
    return [
      bitsAt('SimpleBlock.lacing', 'count', body + 3, 5, 2),
      be('SimpleBlock.timecode', 'duration', body + 1, 2),
    ];
  }
  return [];
};

const walkEbml = (bytes: Uint8Array, from: number, to: number, layout: Layout, depth: number): void => {
  for (let at = from; at < to && layout.chunks.length < MAX_ITEMS; ) {
    const idLength = vintLength(bytes[at]!);
    const sizeAt = at + idLength;
    const sizeLength = vintLength(bytes[sizeAt] ?? 0);
    if (idLength === 0 || idLength > 4 || sizeLength === 0 || sizeAt + sizeLength > to) return;
    const id = readField(bytes, be('', 'codec', at, idLength));
    const sizeField = bitsAt(`0x${id.toString(16)}.size`, 'size', sizeAt, sizeLength, 7 * sizeLength);
    const size = readField(bytes, sizeField);
    const body = sizeAt + sizeLength;
    const unknown = size === 2 ** (7 * sizeLength) - 1;
    const end = unknown ? to : Math.min(body + size, to);
    layout.fields.push(sizeField);
    layout.chunks.push({ name: `0x${id.toString(16)}`, offset: at, length: end - at });
    if (EBML_MASTERS.has(id) && depth < 8) walkEbml(bytes, body, end, layout, depth + 1);
    else layout.fields.push(...ebmlLeafFields(bytes, id, body, size));
    at = end;
  }
};

const webmLayout = (bytes: Uint8Array): Layout => {
  const layout: Layout = { fields: [], chunks: [] };
  walkEbml(bytes, 0, bytes.length, layout, 0);
  return layout;
};

const LAYOUTS: Record<AudioFormat, (bytes: Uint8Array) => Layout> = {
  wav: wavLayout,
  aiff: aiffLayout,
  flac: flacLayout,
  mp3: mp3Layout,
  'ogg-vorbis': oggLayout,
  'ogg-opus': oggLayout,
  mp4: mp4Layout,
  webm: webmLayout,
};

/** The fields and chunks of a (well-formed) file of `format`; fields past the end are dropped. */
export const layoutOf = (format: AudioFormat, bytes: Uint8Array): Layout => {
  const layout = LAYOUTS[format](bytes);
  const inside = (f: Field) => f.offset + Math.ceil((f.bitOffset + f.bits) / 8) <= bytes.length;
  return {
    ...layout,
    fields: layout.fields.filter(inside),
    chunks: layout.chunks.filter((c) => c.length > 0),
  };
};
