/**
 * Reading an MP4's boxes and its sound track's header and sample tables (ISO/IEC 14496-12): what the
 * pre-decode checks (mp4.ts), the fragment walk (mp4-fragments.ts) and the decoder's byte layout
 * (mp4-layout.ts) all read. Kept apart so each of those stays about one concern.
 */
import { AudioError } from '../errors.ts';
import { fourCc } from './detect.ts';

export interface Box {
  type: string;
  /** Offset of the box's header. */
  start: number;
  /** Offset of the box's content (after its header). */
  content: number;
  /** Offset just past the box; may exceed the file when it was cut off. */
  end: number;
}

export interface Span {
  start: number;
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

export const child = (bytes: Uint8Array, parent: Box, type: string): Box | undefined =>
  readBoxes(bytes, parent.content, Math.min(parent.end, bytes.length)).find((b) => b.type === type);

export const path = (bytes: Uint8Array, from: Box, types: string[]): Box | undefined =>
  types.reduce<Box | undefined>((box, type) => (box ? child(bytes, box, type) : undefined), from);

export interface SoundTrack {
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
export const readSoundTrack = (bytes: Uint8Array, moov: Box): SoundTrack | undefined => {
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
export const checkSampleTables = (bytes: Uint8Array, moov: Box): void => {
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
export const PCM_CODECS = new Set([
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
export const sampleTableLength = (bytes: Uint8Array, trak: Box): { ticks: number; samples: number } => {
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
