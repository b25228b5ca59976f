import { AudioError } from '../errors.ts';
import { mp4Package } from './codec-packages.ts';
import { concatenated } from './concat.ts';
import { fourCc } from './detect.ts';
import { checkCodecFrames, checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import {
  type ChunkedDecodeResult,
  createMonoCollector,
  type DecodedChunk,
  type MonoOptions,
} from './stream.ts';
import type { MonoPcm } from './types.ts';

interface Box {
  type: string;
  /** Offset of the box's header. */
  start: number;
  /** Offset of the box's content (after its header). */
  content: number;
  /** Offset just past the box; may exceed the file when it was cut off. */
  end: number;
}

/** The boxes between `from` and `to` (ISO/IEC 14496-12 §4.2: 32-bit size, 1 = 64-bit size follows, 0 = to the end). */
export const readBoxes = (bytes: Uint8Array, from: number, to: number): Box[] => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: Box[] = [];
  let at = from;
  while (at + 8 <= to) {
    let size = view.getUint32(at);
    let header = 8;
    if (size === 1) {
      if (at + 16 > to) break;
      size = view.getUint32(at + 8) * 2 ** 32 + view.getUint32(at + 12);
      header = 16;
    } else if (size === 0) {
      size = to - at;
    }
    if (size < header) throw new AudioError('CORRUPT_AUDIO', `MP4 box at byte ${at} declares ${size} bytes`);
    boxes.push({ type: fourCc(bytes, at + 4), start: at, content: at + header, end: at + size });
    at += size;
  }
  return boxes;
};

const child = (bytes: Uint8Array, parent: Box, type: string): Box | undefined =>
  readBoxes(bytes, parent.content, Math.min(parent.end, bytes.length)).find((b) => b.type === type);

const path = (bytes: Uint8Array, from: Box, types: string[]): Box | undefined =>
  types.reduce<Box | undefined>((box, type) => (box ? child(bytes, box, type) : undefined), from);

interface SoundTrack {
  /** Declared length in seconds (the track's media header); 0 when unknown (fragmented files). */
  durationSec: number;
  codec: string;
  channels: number;
  sampleRate: number;
  /** The track's media timescale (mdhd), in which its sample table (stts) counts time; 0 when unknown. */
  timescale: number;
  /** Seconds of media the edit list presents (a trim keeps part of mdhd's); undefined when it does not say. */
  editedSec?: number;
  /** tkhd's track_ID, which a fragment's tfhd names; 0 when unknown. */
  id: number;
  trak: Box;
}

/**
 * Σ segment_duration of the media edits (ISO/IEC 14496-12 §8.6.6; media_time −1 is an empty edit, a pause
 * the decoder does not render), in the movie timescale (mvhd). Undefined without an edit list, without a
 * movie timescale, or when an edit's duration is 0 (it runs to the media's end).
 */
const editListSeconds = (bytes: Uint8Array, moov: Box, trak: Box): number | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const elst = path(bytes, trak, ['edts', 'elst']);
  const mvhd = child(bytes, moov, 'mvhd');
  if (!elst || !mvhd || mvhd.content + 24 > bytes.length || elst.content + 8 > bytes.length) return undefined;
  const movieTimescale = view.getUint32(mvhd.content + (bytes[mvhd.content] === 1 ? 20 : 12));
  const v1 = bytes[elst.content] === 1;
  const [entryBytes, count] = [v1 ? 20 : 12, view.getUint32(elst.content + 4)];
  if (
    movieTimescale === 0 ||
    count === 0 ||
    elst.content + 8 + count * entryBytes > Math.min(elst.end, bytes.length)
  )
    return undefined;
  let ticks = 0;
  for (let i = 0, at = elst.content + 8; i < count; i++, at += entryBytes) {
    const duration = v1 ? view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4) : view.getUint32(at);
    if (view.getInt32(at + (v1 ? 8 : 4)) === -1) continue;
    if (duration === 0) return undefined;
    ticks += duration;
  }
  return ticks / movieTimescale;
};

/** tkhd's track_ID (ISO/IEC 14496-12 §8.3.2), 0 when there is none. */
const trackId = (bytes: Uint8Array, trak: Box): number => {
  const tkhd = child(bytes, trak, 'tkhd');
  const at = tkhd ? tkhd.content + (bytes[tkhd.content] === 1 ? 20 : 12) : -1;
  return at >= 0 && at + 4 <= Math.min(tkhd!.end, bytes.length)
    ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(at)
    : 0;
};

/** The first sound track's header facts (what the decoder will use: the first audio track). */
const readSoundTrack = (bytes: Uint8Array, moov: Box): SoundTrack | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const trak of readBoxes(bytes, moov.content, moov.end).filter((b) => b.type === 'trak')) {
    const hdlr = path(bytes, trak, ['mdia', 'hdlr']);
    if (!hdlr || hdlr.content + 12 > bytes.length || fourCc(bytes, hdlr.content + 8) !== 'soun') continue;
    const mdhd = path(bytes, trak, ['mdia', 'mdhd']);
    let durationSec = 0;
    let timescale = 0;
    if (mdhd && mdhd.content + 32 <= bytes.length) {
      const v1 = bytes[mdhd.content] === 1;
      timescale = view.getUint32(mdhd.content + (v1 ? 20 : 12));
      const duration = v1
        ? view.getUint32(mdhd.content + 24) * 2 ** 32 + view.getUint32(mdhd.content + 28)
        : view.getUint32(mdhd.content + 16);
      if (timescale > 0 && duration !== 0xffffffff) durationSec = duration / timescale;
    }
    const stsd = path(bytes, trak, ['mdia', 'minf', 'stbl', 'stsd']);
    // stsd: version/flags (4), entry count (4), then the first sample entry box; its audio fields
    // (ISO/IEC 14496-12 §12.2.3) sit 16 (channels) and 24 (rate, 16.16) bytes into its content.
    const entry = stsd ? stsd.content + 8 : -1;
    const editedSec = editListSeconds(bytes, moov, trak);
    const id = trackId(bytes, trak);
    if (entry < 0 || entry + 8 + 28 > bytes.length)
      return { durationSec, codec: '?', channels: 0, sampleRate: 0, timescale, editedSec, id, trak };
    return {
      durationSec,
      timescale,
      editedSec,
      id,
      trak,
      codec: fourCc(bytes, entry + 4),
      channels: view.getUint16(entry + 8 + 16),
      sampleRate: view.getUint32(entry + 8 + 24) / 65536,
    };
  }
  return undefined;
};

/** Bytes per entry of the sample tables whose entries follow a version/flags word and an entry count. */
const TABLE_ENTRY_BYTES: Record<string, number> = { stts: 8, ctts: 8, stss: 4, stsc: 12, stco: 4, co64: 8 };

/**
 * Each sample table's entry count must fit in its box (and constant-size samples in the file): the
 * decoder trusts the counts, and one set to 2^31 made it loop for minutes (found by `npm run fuzz`).
 */
const checkSampleTable = (bytes: Uint8Array, table: Box): void => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = Math.min(table.end, bytes.length) - table.content;
  const corrupt = (detail: string) =>
    new AudioError('CORRUPT_AUDIO', `MP4 sample table '${table.type}' ${detail} (damaged header?)`);
  if (table.type === 'stsz') {
    if (size < 12) throw corrupt(`is ${size} bytes`);
    const sampleSize = view.getUint32(table.content + 4);
    const count = view.getUint32(table.content + 8);
    if (sampleSize === 0 && 12 + 4 * count > size)
      throw corrupt(`declares ${count} samples in ${size} bytes`);
    if (sampleSize * count > bytes.length) throw corrupt(`declares ${count} samples of ${sampleSize} bytes`);
    // Samples do not share bytes: more than the file is damage (or a crafted re-read of the same bytes).
    let total = 0;
    for (let i = 0; i < count && sampleSize === 0; i++) total += view.getUint32(table.content + 12 + 4 * i);
    if (total > bytes.length)
      throw corrupt(`declares samples of ${total} bytes in all, in a file of ${bytes.length}`);
    return;
  }
  const entryBytes = TABLE_ENTRY_BYTES[table.type];
  if (entryBytes === undefined) return;
  if (size < 8) throw corrupt(`is ${size} bytes`);
  const count = view.getUint32(table.content + 4);
  if (8 + count * entryBytes > size) throw corrupt(`declares ${count} entries in ${size} bytes`);
};

/** The sample tables of every track (the decoder reads them all, not only the sound track's). */
const checkSampleTables = (bytes: Uint8Array, moov: Box): void => {
  for (const trak of readBoxes(bytes, moov.content, Math.min(moov.end, bytes.length))) {
    if (trak.type !== 'trak') continue;
    const stbl = path(bytes, trak, ['mdia', 'minf', 'stbl']);
    if (!stbl) continue;
    for (const table of readBoxes(bytes, stbl.content, Math.min(stbl.end, bytes.length))) {
      checkSampleTable(bytes, table);
    }
  }
};

/** Sample entries of PCM: one MP4 sample is one PCM frame there, not a codec frame to decode. */
const PCM_CODECS = new Set([
  'sowt',
  'twos',
  'in24',
  'in32',
  'fl32',
  'fl64',
  'lpcm',
  'ipcm',
  'fpcm',
  'raw ',
  'NONE',
  'ulaw',
  'alaw',
]);

/** The track's length by its sample tables: Σ count × delta of stts (in the timescale), and stsz's sample count. */
const sampleTableLength = (bytes: Uint8Array, trak: Box): { ticks: number; samples: number } => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stbl = path(bytes, trak, ['mdia', 'minf', 'stbl']);
  const stts = stbl && child(bytes, stbl, 'stts');
  const stsz = stbl && child(bytes, stbl, 'stsz');
  let ticks = 0;
  // Both fit their boxes: checkSampleTables ran first.
  const entries = stts ? view.getUint32(stts.content + 4) : 0;
  for (let i = 0, at = (stts?.content ?? 0) + 8; i < entries; i++, at += 8) {
    ticks += view.getUint32(at) * view.getUint32(at + 4);
  }
  return { ticks, samples: stsz ? view.getUint32(stsz.content + 8) : 0 };
};

/** Sample defaults of a fragmented track (trex, ISO/IEC 14496-12 §8.8.3), and where the file's moof boxes are. */
interface FragmentDefaults {
  duration: number;
  size: number;
  moofs: Box[];
  /** Where a byte of the file is in the moov-first stream the decoder reads (`moovFirst`). */
  streamAt: (offset: number) => number;
}

/**
 * The decoder reads samples from moof boxes when moov has an mvex/trex and the track's stsz lists none
 * (docs/dependencies.md); undefined otherwise.
 */
const fragmentDefaults = (bytes: Uint8Array, moov: Box, track: SoundTrack): FragmentDefaults | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mvex = child(bytes, moov, 'mvex');
  const trexes = mvex ? readBoxes(bytes, mvex.content, Math.min(mvex.end, bytes.length)) : [];
  if (!trexes.some((b) => b.type === 'trex') || sampleTableLength(bytes, track.trak).samples > 0)
    return undefined;
  const trex = trexes.find(
    (b) => b.type === 'trex' && b.content + 20 <= b.end && view.getUint32(b.content + 4) === track.id,
  );
  const size = moov.end - moov.start;
  return {
    duration: trex ? view.getUint32(trex.content + 12) : 0,
    size: trex ? view.getUint32(trex.content + 16) : 0,
    moofs: readBoxes(bytes, 0, bytes.length).filter((b) => b.type === 'moof'),
    streamAt: (offset) => (offset < moov.start ? offset + size : offset),
  };
};

/** The state of one traf's walk: its base offset, defaults, and where its next run starts. */
interface Traf {
  base: number;
  duration: number;
  size: number;
  next?: number;
}

const fragmentCorrupt = (box: Box, detail: string) =>
  new AudioError(
    'CORRUPT_AUDIO',
    `MP4 fragment's '${box.type}' at byte ${box.start} ${detail} (damaged header?)`,
  );

/** Optional fields as the flags select them, in order, with their widths. */
const optionalFields = (flags: number, fields: [number, number][]): number =>
  fields.reduce((sum, [flag, width]) => sum + (flags & flag ? width : 0), 0);

/**
 * tfhd (§8.8.7): its track, and the traf's base as the decoder takes it (an explicit base data offset,
 * else the moof's start, whatever default-base-is-moof says) with its default duration and size.
 */
const readTfhd = (bytes: Uint8Array, tfhd: Box, moofAt: number, defaults: FragmentDefaults) => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = tfhd.content + 8 <= tfhd.end ? view.getUint32(tfhd.content) & 0xffffff : 0;
  const width = optionalFields(flags, [
    [0x1, 8],
    [0x2, 4],
    [0x8, 4],
    [0x10, 4],
    [0x20, 4],
  ]);
  if (tfhd.content + 8 + width > Math.min(tfhd.end, bytes.length))
    throw fragmentCorrupt(tfhd, `is too short for its fields`);
  let at = tfhd.content + 8;
  const traf: Traf = { base: moofAt, duration: defaults.duration, size: defaults.size };
  if (flags & 0x1) traf.base = view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
  at += optionalFields(flags, [
    [0x1, 8],
    [0x2, 4],
  ]);
  if (flags & 0x8) traf.duration = view.getUint32(at);
  at += optionalFields(flags, [[0x8, 4]]);
  if (flags & 0x10) traf.size = view.getUint32(at);
  return { trackId: view.getUint32(tfhd.content + 4), traf };
};

/** Per-sample fields of a trun (§8.8.8): duration, size, flags, composition offset, 4 bytes each. */
const TRUN_SAMPLE_FIELDS: [number, number][] = [
  [0x100, 4],
  [0x200, 4],
  [0x400, 4],
  [0x800, 4],
];

/**
 * Adds a trun's samples and ticks to `total` (and, with `spans`, where each sample lies, as the decoder
 * places them). The decoder loops over the declared count: per-sample entries must fit the box.
 */
const readTrun = (bytes: Uint8Array, trun: Box, traf: Traf, total: Fragments, spans?: Span[]): void => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (trun.content + 8 > Math.min(trun.end, bytes.length)) throw fragmentCorrupt(trun, 'is too short');
  const [flags, count] = [view.getUint32(trun.content) & 0xffffff, view.getUint32(trun.content + 4)];
  const perSample = optionalFields(flags, TRUN_SAMPLE_FIELDS);
  let at = trun.content + 8;
  let offset = traf.next ?? traf.base;
  if (flags & 0x1) offset = traf.base + view.getInt32(at);
  at += optionalFields(flags, [
    [0x1, 4],
    [0x4, 4],
  ]);
  if (at + count * perSample > Math.min(trun.end, bytes.length))
    throw fragmentCorrupt(trun, `declares ${count} samples of ${perSample} bytes`);
  total.samples += count;
  if (!(flags & 0x100)) total.ticks += count * traf.duration;
  for (let i = 0; i < count && (spans || flags & 0x100); i++, at += perSample) {
    if (flags & 0x100) total.ticks += view.getUint32(at);
    const size = flags & 0x200 ? view.getUint32(at + (flags & 0x100 ? 4 : 0)) : traf.size;
    spans?.push({ start: offset, end: offset + size });
    offset += size;
  }
  traf.next = offset; // where the next run starts (followed only with `spans`)
};

interface Fragments {
  ticks: number;
  samples: number;
}

/**
 * The sound track's samples in every top-level moof, as the decoder walks them: their count and ticks,
 * and with `spans` where each lies in the moov-first stream (each moof counts as one span too: the decoder
 * waits for a moof whole, re-copying what it holds on every call).
 */
const readFragments = (bytes: Uint8Array, track: SoundTrack, defaults: FragmentDefaults, spans?: Span[]) => {
  const total: Fragments = { ticks: 0, samples: 0 };
  for (const moof of defaults.moofs) {
    const moofAt = defaults.streamAt(moof.start);
    spans?.push({ start: moofAt, end: moofAt + moof.end - moof.start });
    for (const traf of readBoxes(bytes, moof.content, Math.min(moof.end, bytes.length))) {
      if (traf.type !== 'traf') continue;
      const boxes = readBoxes(bytes, traf.content, Math.min(traf.end, bytes.length));
      const tfhd = boxes.find((b) => b.type === 'tfhd');
      const header = tfhd && readTfhd(bytes, tfhd, moofAt, defaults);
      if (header?.trackId !== track.id) continue;
      for (const trun of boxes.filter((b) => b.type === 'trun'))
        readTrun(bytes, trun, header.traf, total, spans);
    }
  }
  return total;
};

/**
 * The length the file declares, before decoding: by mdhd, and by the sample tables (or a fragmented
 * file's truns), which the decoder follows whatever mdhd says (0 means unknown there). Every sample is a
 * frame handed to the codec (docs/dependencies.md), so compressed tracks get the codec-frame budget too.
 */
const checkDeclaredLength = (
  bytes: Uint8Array,
  moov: Box,
  track: SoundTrack,
  maxDurationSec: number,
): void => {
  const fragments = fragmentDefaults(bytes, moov, track);
  const { ticks, samples } = fragments
    ? readFragments(bytes, track, fragments)
    : sampleTableLength(bytes, track.trak);
  const tables = fragments ? 'MP4 fragments (trun)' : 'MP4 sample table (stts)';
  const declared: [string, number][] = [['MP4 header (mdhd)', track.durationSec]];
  if (track.timescale > 0) declared.push([tables, ticks / track.timescale]);
  for (const [source, seconds] of declared) {
    checkDuration(source, seconds, 1, maxDurationSec);
    if (track.sampleRate >= 8)
      checkDecodedValues(source, seconds * track.sampleRate * (track.channels || 1), 'declares');
  }
  const frames = `MP4 ${fragments ? 'fragments (trun' : 'sample table (stsz'}, '${track.codec}')`;
  if (!PCM_CODECS.has(track.codec)) checkCodecFrames(frames, samples, 'declares');
  // A PCM sample is one frame; the decoder queues each trun sample, which need not fit the trun.
  else if (fragments) checkDecodedValues(frames, samples * (track.channels || 1), 'declares');
};

/** Checks the container before any decoding: cut-off boxes, no moov, no sound track, absurd headers, length. */
const inspectMp4 = (bytes: Uint8Array, maxDurationSec: number): { track: SoundTrack; moov: Box } => {
  const top = readBoxes(bytes, 0, bytes.length);
  const cut = top.find((b) => b.end > bytes.length);
  if (cut) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `MP4 file is cut off: its '${cut.type}' box needs ${cut.end} bytes, the file has ${bytes.length} (truncated?)`,
    );
  }
  const moov = top.find((b) => b.type === 'moov');
  if (!moov) {
    throw new AudioError('CORRUPT_AUDIO', 'MP4 file has no movie header (moov): truncated or never finished');
  }
  const track = readSoundTrack(bytes, moov);
  if (!track) throw new AudioError('UNSUPPORTED_FORMAT', 'MP4 file holds no audio track');
  checkSampleTables(bytes, moov);
  // QuickTime v2 sound descriptions keep the real rate elsewhere (the 16.16 field says 1 Hz); the decoder checks those.
  if (track.sampleRate >= 8)
    checkStreamParameters(`MP4 (${track.codec})`, track.sampleRate, track.channels || 1);
  checkDeclaredLength(bytes, moov, track, maxDurationSec);
  return { track, moov };
};

type AudioData = { channelData: Float32Array[]; sampleRate: number };
const asChunk = (data: AudioData): DecodedChunk => ({
  channelData: data.channelData,
  samplesDecoded: data.channelData[0]?.length ?? 0,
  sampleRate: data.sampleRate,
  errors: [],
});

/**
 * The file as the decoder should read it: moov first (whole, in one call), then the bytes before it and
 * after it. Until moov is complete, @audio/decode-mp4 concatenates everything it was given on every call
 * (quadratic when moov follows mdat, ffmpeg's default), and the call that completes it extracts every
 * sample already buffered in one codec call (docs/dependencies.md). The copy of moov has its chunk
 * offsets (stco/co64) moved with the bytes, so each sample is read from the same bytes as before.
 */
export const moovFirst = (bytes: Uint8Array, moov: Box): Uint8Array[] => {
  const header = bytes.slice(moov.start, moov.end);
  const size = header.length;
  ordinaryHeader(header);
  const moved = (offset: number) =>
    offset < moov.start ? offset + size : offset < moov.end ? offset - moov.start : offset;
  for (const trak of readBoxes(header, 8, size).filter((b) => b.type === 'trak')) {
    const stbl = path(header, trak, ['mdia', 'minf', 'stbl']);
    const tables = stbl ? readBoxes(header, stbl.content, Math.min(stbl.end, size)) : [];
    for (const table of tables) moveChunkOffsets(header, table, moved);
  }
  return [header, bytes.subarray(0, moov.start), bytes.subarray(moov.end)];
};

/**
 * Gives the copy of moov a 32-bit size (0 meant "to the end of the file", no longer true once it is
 * first) and an 8-byte header: the decoder's box walk reads a 64-bit-size box's content from 8 bytes in,
 * not 16 (docs/dependencies.md). The content moves up 8 bytes and an empty 8-byte `free` box fills the
 * gap, so the copy keeps its length and the bytes after it their offsets.
 */
const ordinaryHeader = (header: Uint8Array): void => {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const size = header.length;
  if (view.getUint32(0) !== 1) {
    view.setUint32(0, size);
    return;
  }
  header.copyWithin(8, 16);
  view.setUint32(0, size - 8);
  view.setUint32(size - 8, 8);
  header.set([0x66, 0x72, 0x65, 0x65], size - 4); // 'free'
};

/** Rewrites an stco/co64 table's entries (their counts fit the box: checkSampleTables ran first). */
const moveChunkOffsets = (bytes: Uint8Array, table: Box, moved: (offset: number) => number): void => {
  if (table.type !== 'stco' && table.type !== 'co64') return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries = view.getUint32(table.content + 4);
  for (let i = 0; i < entries; i++) {
    if (table.type === 'stco') {
      const at = table.content + 8 + 4 * i;
      // moved() < the file's length for offsets inside it, so a 32-bit offset stays one.
      view.setUint32(at, moved(view.getUint32(at)));
    } else {
      const at = table.content + 8 + 8 * i;
      const offset = moved(view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4));
      view.setUint32(at, Math.floor(offset / 2 ** 32));
      view.setUint32(at + 4, offset % 2 ** 32);
    }
  }
};

/** Input per decoder call after moov, unless a sample needs more: the decoder completes whole samples only. */
const CHUNK_BYTES = 16_384;
/** At most this many samples completed per codec call: 1024 AAC frames are ≤ 2 M values per channel. */
const SAMPLES_PER_CALL = 1024;

interface Span {
  start: number;
  end: number;
}

/**
 * Where the sound track's samples lie, in the decoder's walk (ISO/IEC 14496-12 §8.7.4: runs of stsc's
 * samples per chunk, contiguous from each stco/co64 offset; after the last chunk they keep going),
 * ordered by their ends. Sizes and counts fit their boxes: checkSampleTables ran first.
 */
const sampleSpans = (bytes: Uint8Array, trak: Box): Span[] => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stbl = path(bytes, trak, ['mdia', 'minf', 'stbl']);
  const table = (type: string) => (stbl ? child(bytes, stbl, type) : undefined);
  const stsz = table('stsz');
  const stsc = table('stsc');
  const stco = table('stco') ?? table('co64');
  if (!stsz || !stco || view.getUint32(stco.content + 4) === 0) return [];
  const u32 = (at: number) => view.getUint32(at);
  const wide = stco.type === 'co64';
  const chunkAt = (c: number) =>
    wide
      ? u32(stco.content + 8 + 8 * c) * 2 ** 32 + u32(stco.content + 12 + 8 * c)
      : u32(stco.content + 8 + 4 * c);
  const [fixed, count, chunks] = [u32(stsz.content + 4), u32(stsz.content + 8), u32(stco.content + 4)];
  const runs = stsc ? u32(stsc.content + 4) : 0;
  const perChunk = (run: number) => (run < runs ? u32(stsc!.content + 12 + 12 * run) : 1);
  const spans: Span[] = [];
  let [chunk, run, inChunk, offset] = [0, 0, 0, chunkAt(0)];
  for (let i = 0; i < count; i++) {
    const size = fixed || u32(stsz.content + 12 + 4 * i);
    spans.push({ start: offset, end: offset + size });
    offset += size;
    if (++inChunk < perChunk(run) || chunk + 1 >= chunks) continue;
    [chunk, inChunk, offset] = [chunk + 1, 0, chunkAt(chunk + 1)];
    while (run + 1 < runs && u32(stsc!.content + 8 + 12 * (run + 1)) <= chunk + 1) run++;
  }
  return spans.sort((a, b) => a.end - b.end);
};

/** The first span ending after `at` (binary search). */
const firstEndAfter = (spans: Span[], at: number): number => {
  let [low, high] = [0, spans.length];
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (spans[middle]!.end > at) high = middle;
    else low = middle + 1;
  }
  return low;
};

/**
 * Where the decoder call from `from` should end: a chunk on, moved to the end of a sample it would cut
 * (the decoder copies what it holds on every call until a sample is whole: a 16 MB sample in 16 KiB
 * calls took 37 s), and no further than SAMPLES_PER_CALL sample ends.
 */
const callEnd = (spans: Span[], from: number, total: number): number => {
  let to = from + CHUNK_BYTES;
  const cut = spans[firstEndAfter(spans, to)];
  if (cut && cut.start < to) to = cut.end;
  const last = spans[firstEndAfter(spans, from) + SAMPLES_PER_CALL - 1];
  if (last && last.end < to) to = last.end;
  return Math.min(Math.max(to, from + 1), total);
};

/** Bytes [from, to) of the parts read one after the other (a copy only across a part's end). */
const partsSlice = (parts: Uint8Array[], from: number, to: number): Uint8Array => {
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (const part of parts) {
    if (to > at && from < at + part.length) pieces.push(part.subarray(Math.max(from - at, 0), to - at));
    at += part.length;
  }
  return concatenated(pieces, Uint8Array);
};

/**
 * The sound track's sample spans in the moov-first stream (from the tables of moov's copy, or from the
 * moof boxes of a fragmented file); none for PCM, whose samples are single frames.
 */
const soundSpans = (bytes: Uint8Array, moov: Box, track: SoundTrack, header: Uint8Array): Span[] => {
  if (PCM_CODECS.has(track.codec)) return [];
  const fragments = fragmentDefaults(bytes, moov, track);
  if (!fragments) {
    const copy = readSoundTrack(header, readBoxes(header, 0, header.length)[0]!);
    return copy ? sampleSpans(header, copy.trak) : [];
  }
  const spans: Span[] = [];
  readFragments(bytes, track, fragments, spans); // at most the frame budget's samples: inspectMp4 checked
  return spans.sort((a, b) => a.end - b.end);
};

type Mp4Decoder = Awaited<ReturnType<Awaited<ReturnType<typeof mp4Package>>['decoder']>>;

/**
 * Feeds moov whole, then the rest in calls bounded by `callEnd`, into a mono collector, so the limits
 * are checked between codec calls of a bounded number of samples.
 */
const decodeMoovFirst = async (
  mp4: Mp4Decoder,
  [header, ...rest]: Uint8Array[],
  spans: Span[],
  options: MonoOptions,
): Promise<ChunkedDecodeResult> => {
  const collector = createMonoCollector(options);
  collector.take(asChunk(await mp4.decode(header!)));
  const total = header!.length + rest.reduce((sum, part) => sum + part.length, 0);
  for (let at = header!.length; at < total; ) {
    const to = callEnd(spans, at, total);
    collector.take(asChunk(await mp4.decode(partsSlice(rest, at - header!.length, to - header!.length))));
    at = to;
  }
  collector.take(asChunk(await mp4.flush()));
  return collector.result();
};

/**
 * A silently short decode is CORRUPT_AUDIO: fewer seconds than mdhd declares, or than the edit list keeps
 * when that is less (a trim without re-encoding keeps part of the media, and the decoder outputs only that
 * part: docs/dependencies.md). Encoder priming and padding (≤ 2 AAC frames) are trimmed too: 0.1 s is allowed.
 */
const checkDecodedLength = (track: SoundTrack, decodedSec: number): void => {
  const expected = Math.min(track.durationSec, track.editedSec ?? Number.POSITIVE_INFINITY);
  if (track.durationSec > 0 && decodedSec < expected - 0.1) {
    const source = expected < track.durationSec ? 'MP4 edit list (elst) keeps' : 'MP4 header declares';
    throw new AudioError(
      'CORRUPT_AUDIO',
      `${source} ${expected.toFixed(2)} s of audio but only ${decodedSec.toFixed(2)} s could be decoded (damaged or truncated data?)`,
    );
  }
};

/**
 * MP4 / M4A / MOV / 3GP: the first audio track (AAC-LC/HE-AAC, Opus, MP3, ALAC, FLAC, AMR…) through
 * @audio/decode-mp4, loaded on first use (docs/dependencies.md). The container's own length (mdhd and
 * the sample tables) is checked before decoding (TOO_LONG, TOO_LARGE), and against the decoded length
 * after it (`checkDecodedLength`).
 */
export const decodeMp4 = async (
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate?: number,
): Promise<MonoPcm> => {
  const { track, moov } = inspectMp4(bytes, maxDurationSec);
  const { decoder } = await mp4Package();
  const mp4 = await decoder();
  let result: ChunkedDecodeResult;
  try {
    const parts = moovFirst(bytes, moov);
    result = await decodeMoovFirst(mp4, parts, soundSpans(bytes, moov, track, parts[0]!), {
      container: `MP4 (${track.codec})`,
      maxDurationSec,
      outputRate,
    });
  } finally {
    mp4.free();
  }
  checkDecodedLength(track, result.frames / (result.sampleRate || 1));
  // The decoder's channel count: ISO files write the template value 2 in the sample entry, whatever the stream.
  return {
    samples: result.samples,
    sampleRate: result.sampleRate,
    outputRate,
    channels: result.decodedChannels,
  };
};
