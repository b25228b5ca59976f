import { AudioError } from '../errors.ts';
import { mp4Package } from './codec-packages.ts';
import { fourCc } from './detect.ts';
import { checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import { type DecodedChunk, decodeChunked } from './stream.ts';
import type { MonoPcm } from './types.ts';

interface Box {
  type: string;
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
    boxes.push({ type: fourCc(bytes, at + 4), content: at + header, end: at + size });
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
}

/** The first sound track's header facts (what the decoder will use: the first audio track). */
const readSoundTrack = (bytes: Uint8Array, moov: Box): SoundTrack | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const trak of readBoxes(bytes, moov.content, moov.end).filter((b) => b.type === 'trak')) {
    const hdlr = path(bytes, trak, ['mdia', 'hdlr']);
    if (!hdlr || hdlr.content + 12 > bytes.length || fourCc(bytes, hdlr.content + 8) !== 'soun') continue;
    const mdhd = path(bytes, trak, ['mdia', 'mdhd']);
    let durationSec = 0;
    if (mdhd && mdhd.content + 32 <= bytes.length) {
      const v1 = bytes[mdhd.content] === 1;
      const timescale = view.getUint32(mdhd.content + (v1 ? 20 : 12));
      const duration = v1
        ? view.getUint32(mdhd.content + 24) * 2 ** 32 + view.getUint32(mdhd.content + 28)
        : view.getUint32(mdhd.content + 16);
      if (timescale > 0 && duration !== 0xffffffff) durationSec = duration / timescale;
    }
    const stsd = path(bytes, trak, ['mdia', 'minf', 'stbl', 'stsd']);
    // stsd: version/flags (4), entry count (4), then the first sample entry box; its audio fields
    // (ISO/IEC 14496-12 §12.2.3) sit 16 (channels) and 24 (rate, 16.16) bytes into its content.
    const entry = stsd ? stsd.content + 8 : -1;
    if (entry < 0 || entry + 8 + 28 > bytes.length)
      return { durationSec, codec: '?', channels: 0, sampleRate: 0 };
    return {
      durationSec,
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

/** Checks the container before any decoding: cut-off boxes, no moov, no sound track, absurd headers, length. */
const inspectMp4 = (bytes: Uint8Array, maxDurationSec: number): SoundTrack => {
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
  if (track.durationSec > 0) {
    checkDuration('MP4 header', track.durationSec, 1, maxDurationSec);
    if (track.sampleRate >= 8) {
      checkDecodedValues(
        'MP4 header',
        track.durationSec * track.sampleRate * (track.channels || 1),
        'declares',
      );
    }
  }
  return track;
};

type AudioData = { channelData: Float32Array[]; sampleRate: number };
const asChunk = (data: AudioData): DecodedChunk => ({
  channelData: data.channelData,
  samplesDecoded: data.channelData[0]?.length ?? 0,
  sampleRate: data.sampleRate,
  errors: [],
});

/**
 * MP4 / M4A / MOV / 3GP: the first audio track (AAC-LC/HE-AAC, Opus, MP3, ALAC, FLAC, AMR…) through
 * @audio/decode-mp4, loaded on first use (docs/dependencies.md). The container's own length (mdhd) is
 * checked before decoding (TOO_LONG) and against the decoded length after it (a silently short decode is
 * CORRUPT_AUDIO).
 */
export const decodeMp4 = async (
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate?: number,
): Promise<MonoPcm> => {
  const track = inspectMp4(bytes, maxDurationSec);
  const { decoder } = await mp4Package();
  const mp4 = await decoder();
  let result: Awaited<ReturnType<typeof decodeChunked>>;
  try {
    result = await decodeChunked(bytes, {
      container: `MP4 (${track.codec})`,
      maxDurationSec,
      outputRate,
      decode: async (chunk) => asChunk(await mp4.decode(chunk)),
      flush: async () => asChunk(await mp4.flush()),
      chunkBytes: 16_384,
    });
  } finally {
    mp4.free();
  }
  const decodedSec = result.frames / (result.sampleRate || 1);
  // Encoder priming and padding (≤ 2 AAC frames) are trimmed from the output: allow 0.1 s below the header.
  if (track.durationSec > 0 && decodedSec < track.durationSec - 0.1) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `MP4 header declares ${track.durationSec.toFixed(2)} s of audio but only ${decodedSec.toFixed(2)} s could be decoded (damaged or truncated data?)`,
    );
  }
  // The decoder's channel count: ISO files write the template value 2 in the sample entry, whatever the stream.
  return {
    samples: result.samples,
    sampleRate: result.sampleRate,
    outputRate,
    channels: result.decodedChannels,
  };
};
