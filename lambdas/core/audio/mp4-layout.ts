/**
 * The bytes as the decoder is handed them: a copy of moov first (chunk offsets moved), then the rest in
 * calls that end at sample ends (docs/dependencies.md). Apart from mp4.ts so the layout reads, and is
 * tested (test/mp4-layout.test.ts), on its own.
 */
import { concatenated } from './concat.ts';
import {
  type Box,
  child,
  PCM_CODECS,
  path,
  readBoxes,
  readSoundTrack,
  type SoundTrack,
  type Span,
} from './mp4-boxes.ts';
import { fragmentDefaults, readFragments } from './mp4-fragments.ts';

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
export const callEnd = (spans: Span[], from: number, total: number): number => {
  let to = from + CHUNK_BYTES;
  const cut = spans[firstEndAfter(spans, to)];
  if (cut && cut.start < to) to = cut.end;
  const last = spans[firstEndAfter(spans, from) + SAMPLES_PER_CALL - 1];
  if (last && last.end < to) to = last.end;
  return Math.min(Math.max(to, from + 1), total);
};

/** Bytes [from, to) of the parts read one after the other (a copy only across a part's end). */
export const partsSlice = (parts: Uint8Array[], from: number, to: number): Uint8Array => {
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
export const soundSpans = (bytes: Uint8Array, moov: Box, track: SoundTrack, header: Uint8Array): Span[] => {
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
