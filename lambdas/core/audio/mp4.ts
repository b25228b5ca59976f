import { AudioError } from '../errors.ts';
import { mp4Package } from './codec-packages.ts';
import { checkCodecFrames, checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import {
  type Box,
  checkSampleTables,
  PCM_CODECS,
  readBoxes,
  readSoundTrack,
  type SoundTrack,
  type Span,
  sampleTableLength,
} from './mp4-boxes.ts';
import { fragmentDefaults, readFragments } from './mp4-fragments.ts';
import { callEnd, moovFirst, partsSlice, soundSpans } from './mp4-layout.ts';
import {
  type ChunkedDecodeResult,
  createMonoCollector,
  type DecodedChunk,
  type MonoOptions,
} from './stream.ts';
import type { MonoPcm } from './types.ts';

// The box reader and the moov-first layout, for their importers (bin/memory-cases.ts, the tests).
export { moovFirst, readBoxes };

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
