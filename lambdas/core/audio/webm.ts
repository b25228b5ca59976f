import { AudioError } from '../errors.ts';
import { webmPackage } from './codec-packages.ts';
import { type FrameLimit, type MatroskaAudio, type MatroskaTrack, readMatroska } from './ebml.ts';
import { checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import {
  decodeOpusPackets,
  OPUS_MIN_PACKET_SEC,
  OPUS_RATE,
  opusDecodeRate,
  opusLayout,
  withOpusDecoder,
} from './opus.ts';
import { type ChunkedDecodeResult, createMonoCollector, decodeChunked } from './stream.ts';
import type { MonoPcm } from './types.ts';

const decodeOpusFrames = async (
  file: MatroskaAudio,
  track: MatroskaTrack,
  maxDurationSec: number,
  outputRate: number | undefined,
): Promise<ChunkedDecodeResult> => {
  const layout = opusLayout(track.codecPrivate, track.channels);
  checkStreamParameters('WebM Opus', OPUS_RATE, layout.channels);
  const rate = opusDecodeRate(outputRate);
  return withOpusDecoder(layout, rate, async (decoder) => {
    const collector = createMonoCollector({ container: 'WebM Opus', maxDurationSec, outputRate });
    decodeOpusPackets(decoder, file.frames, collector.take, { channels: layout.channels, rate });
    return collector.result();
  });
};

/**
 * Opus frames are kept, each ≥ 2.5 ms of audio, so at most one per 2.5 ms of the duration limit (as Ogg
 * Opus packets); other codecs' decoders read the file themselves and need none.
 */
const frameLimit =
  (maxDurationSec: number): FrameLimit =>
  (track) =>
    track.codecId === 'A_OPUS' ? Math.ceil(maxDurationSec / OPUS_MIN_PACKET_SEC) : 0;

/** Vorbis tracks (rare: no browser records them) go through @audio/decode-webm, whole-file, in 4 KiB chunks. */
const decodeVorbisWebm = async (
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate: number | undefined,
): Promise<ChunkedDecodeResult> => {
  const { decoder } = await webmPackage();
  const webm = await decoder();
  const asChunk = (data: { channelData: Float32Array[]; sampleRate: number }) => ({
    channelData: data.channelData,
    samplesDecoded: data.channelData[0]?.length ?? 0,
    sampleRate: data.sampleRate,
    errors: [],
  });
  try {
    // Its demuxer's cost grows with the chunk size (64 s file: 1.7 s at 4 KiB, 67 s at 256 KiB; docs/dependencies.md).
    return await decodeChunked(bytes, {
      container: 'WebM Vorbis',
      maxDurationSec,
      outputRate,
      decode: (chunk) => asChunk(webm.decode(chunk)),
      flush: async () => asChunk(webm.flush()),
      chunkBytes: 4096,
    });
  } finally {
    webm.free();
  }
};

/**
 * WebM / Matroska: the first audio track, Opus (what browsers' MediaRecorder writes) or Vorbis. Our own
 * element walker (ebml.ts) finds the frames; Opus frames go to opus-decoder (the decoder inside
 * ogg-opus-decoder). The Segment's declared Duration, when present, is checked before decoding (TOO_LONG)
 * and against the decoded length (a silently short decode is CORRUPT_AUDIO).
 */
export const decodeWebm = async (
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate?: number,
): Promise<MonoPcm> => {
  const file = readMatroska(bytes, frameLimit(maxDurationSec));
  const track = file.track;
  if (!track)
    throw new AudioError('UNSUPPORTED_FORMAT', `The ${file.docType || 'Matroska'} file holds no audio track`);
  const isOpus = track.codecId === 'A_OPUS';
  if (file.durationSec > 0) {
    checkDuration('WebM header', file.durationSec, 1, maxDurationSec);
    const rate = isOpus ? OPUS_RATE : track.sampleRate;
    checkDecodedValues('WebM header', file.durationSec * rate * track.channels, 'declares');
  }
  let result: ChunkedDecodeResult;
  if (isOpus) {
    result = await decodeOpusFrames(file, track, maxDurationSec, outputRate);
  } else if (track.codecId === 'A_VORBIS') {
    checkStreamParameters('WebM Vorbis', track.sampleRate, track.channels);
    result = await decodeVorbisWebm(bytes, maxDurationSec, outputRate);
  } else {
    throw new AudioError(
      'UNSUPPORTED_FORMAT',
      `WebM/Matroska audio codec ${track.codecId} is not supported (Opus and Vorbis are)`,
    );
  }
  if (result.errors.length > 0)
    throw new AudioError('CORRUPT_AUDIO', `WebM audio is corrupt: ${result.errors[0]}`);
  const decodedSec = result.frames / (result.sampleRate || 1);
  // Opus pre-skip and the last frame's padding: allow 0.1 s below the declared length.
  if (file.durationSec > 0 && decodedSec < file.durationSec - 0.1) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `WebM header declares ${file.durationSec.toFixed(2)} s of audio but only ${decodedSec.toFixed(2)} s could be decoded (damaged data?)`,
    );
  }
  // The source's rate: Opus streams are 48 kHz whatever rate libopus decoded them to.
  const sampleRate = isOpus ? OPUS_RATE : result.sampleRate;
  return { samples: result.samples, sampleRate, outputRate, channels: track.channels };
};
