import { AudioError, isSerError } from '../errors.ts';
import { decodeAiff } from './aiff.ts';
import { detectFormat } from './detect.ts';
import { decodeFlac, flacDecoder } from './flac.ts';
import { UPLOAD_FORMAT_NAMES } from './formats.ts';
import { DEFAULT_MAX_DURATION_SEC } from './limits.ts';
import { decodeMp3, mpegDecoder } from './mp3.ts';
import { decodeOgg, vorbisDecoder } from './ogg.ts';
import { opusDecodeRate, warmOpus } from './opus.ts';
import { resample } from './resample.ts';
import type { AudioFormat, DecodedAudio, DecodeOptions, MonoPcm } from './types.ts';
import { decodeWav } from './wav.ts';

export type { AudioFormat, DecodedAudio, DecodeOptions } from './types.ts';

const decodeAs = (
  format: AudioFormat,
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate: number | undefined,
): MonoPcm | Promise<MonoPcm> => {
  switch (format) {
    case 'wav':
      return decodeWav(bytes, maxDurationSec);
    case 'aiff':
      return decodeAiff(bytes, maxDurationSec);
    case 'flac':
      return decodeFlac(bytes, maxDurationSec, outputRate);
    case 'mp3':
      return decodeMp3(bytes, maxDurationSec, outputRate);
    case 'ogg-vorbis':
      return decodeOgg(bytes, 'vorbis', maxDurationSec, outputRate);
    case 'ogg-opus':
      return decodeOgg(bytes, 'opus', maxDurationSec, outputRate);
    // Loaded on first use, so WAV/FLAC/MP3/Ogg never pay for these decoders (docs/dependencies.md).
    case 'mp4':
      return import('./mp4.ts').then(({ decodeMp4 }) => decodeMp4(bytes, maxDurationSec, outputRate));
    case 'webm':
      return import('./webm.ts').then(({ decodeWebm }) => decodeWebm(bytes, maxDurationSec, outputRate));
  }
};

/** Decodes with the format's decoder; anything it throws that is not ours is the input's fault. */
const decodeWithFormat = async (
  format: AudioFormat,
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate: number | undefined,
): Promise<MonoPcm> => {
  try {
    return await decodeAs(format, bytes, maxDurationSec, outputRate);
  } catch (error) {
    if (isSerError(error)) throw error;
    // The decoders (and codec-parser) throw plain Errors on malformed streams; the input caused them.
    const reason = error instanceof Error ? error.message : String(error);
    throw new AudioError('CORRUPT_AUDIO', `The ${format} data could not be decoded: ${reason}`, {
      cause: error,
    });
  }
};

/**
 * The samples at `outputRate`: decoders that stream resample while decoding; PCM containers (whose
 * samples are bounded by the file's bytes) are resampled whole here.
 */
const atOutputRate = (pcm: MonoPcm, outputRate: number | undefined): Float32Array => {
  if (outputRate === undefined || pcm.outputRate === outputRate) return pcm.samples;
  return resample(pcm.samples, pcm.sampleRate, outputRate);
};

/**
 * Decodes any supported upload to mono float samples at the source's own rate, or at `outputRate`. The format comes from
 * magic bytes only. Every input fault is an `AudioError`:
 * - UNSUPPORTED_FORMAT: not audio we know (HTML, text, unknown codecs inside a known container);
 * - CORRUPT_AUDIO: truncated or garbage data inside a known container, impossible headers (0 channels,
 *   sample rate outside 1000–384000 Hz), NaN/infinite float samples;
 * - EMPTY_AUDIO: zero bytes, a header with no samples;
 * - TOO_LARGE: more sample values (frames × channels) than `MAX_DECODED_VALUES`, or more codec frames
 *   (FLAC blocks, an MP4 track's samples) than `MAX_CODEC_FRAMES`, from the header where
 *   the container declares its length, else while decoding;
 * - TOO_LONG: over `maxDurationSec` — judged from the header's declared length before decoding where the
 *   container has one, and otherwise while decoding (compressed streams stop one chunk past the limit).
 * Anything a decoder throws that is not ours is wrapped as CORRUPT_AUDIO: the input made it fail.
 */
export const decodeAudio = async (bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedAudio> => {
  const maxDurationSec = options.maxDurationSec ?? DEFAULT_MAX_DURATION_SEC;
  if (bytes.length === 0) throw new AudioError('EMPTY_AUDIO', 'The file is empty (0 bytes)');
  const format = detectFormat(bytes);
  if (!format) {
    throw new AudioError(
      'UNSUPPORTED_FORMAT',
      `Not a supported audio file (expected ${UPLOAD_FORMAT_NAMES}, judged by its content)`,
    );
  }
  const pcm = await decodeWithFormat(format, bytes, maxDurationSec, options.outputRate);
  if (pcm.samples.length === 0) throw new AudioError('EMPTY_AUDIO', `The ${format} file holds no samples`);
  const samples = atOutputRate(pcm, options.outputRate);
  const sampleRate = options.outputRate ?? pcm.sampleRate;
  const durationSec = samples.length / sampleRate;
  if (durationSec > maxDurationSec) {
    throw new AudioError(
      'TOO_LONG',
      `The audio lasts ${durationSec.toFixed(1)} s; the limit is ${maxDurationSec} s`,
    );
  }
  return {
    samples,
    sampleRate,
    sourceSampleRate: pcm.sampleRate,
    channels: pcm.channels,
    format,
    durationSec,
  };
};

/**
 * Compiles and instantiates the WASM decoders ahead of the first request (`PredictorOptions.warmUp`,
 * where init runs before any traffic): the first decode of a compressed format otherwise costs ~75–220 ms
 * more on this machine. `outputRate` is the rate the caller will decode to (Opus decodes straight to it).
 */
export const warmUpDecoders = async (
  outputRate?: number,
  formats: readonly AudioFormat[] = ['flac', 'mp3', 'ogg-vorbis', 'ogg-opus'],
): Promise<void> => {
  const warm = {
    flac: () => flacDecoder.warm(),
    mp3: () => mpegDecoder.warm(),
    'ogg-vorbis': () => vorbisDecoder.warm(),
    'ogg-opus': () => warmOpus(opusDecodeRate(outputRate)),
  } as const;
  await Promise.all(
    // WAV/AIFF need no WASM; MP4/WebM decoders load on first use (kept out of every cold start).
    formats.flatMap((format) => (format in warm ? [warm[format as keyof typeof warm]()] : [])),
  );
};
