/**
 * Fragmented MP4 (moof/traf/trun, ISO/IEC 14496-12 §8.8): walks the sound track's fragments the way the
 * decoder does, for the pre-decode length checks (mp4.ts) and the decoder calls' sample spans (mp4-layout.ts).
 */
import { AudioError } from '../errors.ts';
import { type Box, child, readBoxes, type SoundTrack, type Span, sampleTableLength } from './mp4-boxes.ts';

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
export const fragmentDefaults = (
  bytes: Uint8Array,
  moov: Box,
  track: SoundTrack,
): FragmentDefaults | undefined => {
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
export const readFragments = (
  bytes: Uint8Array,
  track: SoundTrack,
  defaults: FragmentDefaults,
  spans?: Span[],
) => {
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
