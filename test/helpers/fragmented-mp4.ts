import { boxInMoov, tinyAacFrames } from '../../bin/memory-cases.ts';
import { readBoxes } from '../../lambdas/core/audio/mp4.ts';

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const box = (type: string, ...parts: Uint8Array[]): Uint8Array => {
  const size = 8 + parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(size);
  view(out).setUint32(0, size);
  out.set(
    [...type].map((c) => c.charCodeAt(0)),
    4,
  );
  let at = 8;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

const u32s = (...values: number[]): Uint8Array => {
  const out = new Uint8Array(4 * values.length);
  for (const [i, value] of values.entries()) view(out).setUint32(4 * i, value);
  return out;
};

const STBL = ['trak', 'mdia', 'minf', 'stbl'];

/** moov of `source` with its sample tables emptied (fragmented: samples ride in moofs) and an mvex/trex. */
const fragmentedMoov = (source: Uint8Array, delta: number, trackId: number) => {
  const bytes = source.slice();
  for (const type of ['stts', 'stsc', 'stco'])
    view(bytes).setUint32(boxInMoov(bytes, [...STBL, type]).content + 4, 0);
  const stsz = boxInMoov(bytes, [...STBL, 'stsz']).content;
  view(bytes).setUint32(stsz + 4, 0);
  view(bytes).setUint32(stsz + 8, 0);
  const moov = readBoxes(bytes, 0, bytes.length).find((b) => b.type === 'moov')!;
  const trex = box('trex', u32s(0, trackId, 1, delta, 0, 0));
  return box('moov', bytes.subarray(moov.content, moov.end), box('mvex', trex));
};

/** A moof+mdat pair: one traf (default-base-is-moof) with one trun of the frames' sizes and a data offset. */
const fragment = (seq: number, trackId: number, frames: Uint8Array[]): Uint8Array[] => {
  const moof = (dataOffset: number) =>
    box(
      'moof',
      box('mfhd', u32s(0, seq)),
      box(
        'traf',
        box('tfhd', u32s(0x020000, trackId)),
        box('trun', u32s(0x000201, frames.length, dataOffset, ...frames.map((frame) => frame.length))),
      ),
    );
  return [moof(moof(0).length + 8), box('mdat', ...frames)];
};

/**
 * `source` (one sound track, its frames in `frames`) as a fragmented MP4 (ISO/IEC 14496-12 §8.8): its ftyp,
 * its moov with empty sample tables and a trex giving each sample `delta` ticks, then moof+mdat pairs of
 * `perFragment` frames.
 */
export const fragmented = (source: Uint8Array, frames: Uint8Array[], delta: number, perFragment: number) => {
  const ftyp = readBoxes(source, 0, source.length).find((b) => b.type === 'ftyp')!;
  const tkhd = boxInMoov(source, ['trak', 'tkhd']).content;
  const trackId = view(source).getUint32(tkhd + (source[tkhd] === 1 ? 20 : 12));
  const parts = [source.subarray(ftyp.start, ftyp.end), fragmentedMoov(source, delta, trackId)];
  for (let first = 0; first < frames.length; first += perFragment) {
    parts.push(...fragment(parts.length, trackId, frames.slice(first, first + perFragment)));
  }
  return joined(parts);
};

/** The frames of a file whose samples lie in one chunk (stco), sized by stsz. */
export const framesOf = (source: Uint8Array): Uint8Array[] => {
  const stsz = boxInMoov(source, [...STBL, 'stsz']).content;
  const fixed = view(source).getUint32(stsz + 4);
  const count = view(source).getUint32(stsz + 8);
  let at = view(source).getUint32(boxInMoov(source, [...STBL, 'stco']).content + 8);
  return Array.from({ length: count }, (_, i) => {
    const size = fixed || view(source).getUint32(stsz + 12 + 4 * i);
    at += size;
    return source.subarray(at - size, at);
  });
};

/** `tinyAacFrames(count, delta)` fragmented: `count` 5-byte AAC frames of `delta` ticks each, no edit list. */
export const fragmentedAac = (count: number, delta: number, perFragment = 5000): Uint8Array => {
  const source = tinyAacFrames(count, delta);
  return fragmented(source, framesOf(source), delta, perFragment);
};

const joined = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};
