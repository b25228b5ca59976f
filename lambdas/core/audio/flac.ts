import type { FLACDecoder } from '@wasm-audio-decoders/flac';
import { AudioError } from '../errors.ts';
import { flacPackage } from './codec-packages.ts';
import { id3v2Size } from './detect.ts';
import { blockSize, firstFrameOffset, flacFrames, frameChannels } from './flac-frames.ts';
import { checkCodecFrames, checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import { createMonoCollector, SharedDecoder } from './stream.ts';
import type { MonoPcm } from './types.ts';

interface StreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** 0 means "unknown" in FLAC (a streamed encoder could not seek back). */
  totalSamples: number;
  /** Largest frame, in samples per channel. */
  maxBlockSize: number;
}

/** Reads STREAMINFO, which FLAC requires to be the first metadata block. */
export const readStreamInfo = (bytes: Uint8Array): StreamInfo => {
  const start = id3v2Size(bytes);
  const block = start + 4;
  if (bytes.length < block + 4 + 18)
    throw new AudioError('CORRUPT_AUDIO', 'FLAC file is cut off inside STREAMINFO');
  if ((bytes[block]! & 0x7f) !== 0)
    throw new AudioError('CORRUPT_AUDIO', 'FLAC file does not start with STREAMINFO');
  const b = bytes.subarray(block + 4);
  return {
    maxBlockSize: (b[2]! << 8) | b[3]!,
    sampleRate: (b[10]! << 12) | (b[11]! << 4) | (b[12]! >> 4),
    channels: ((b[12]! >> 1) & 7) + 1,
    bitsPerSample: (((b[12]! & 1) << 4) | (b[13]! >> 4)) + 1,
    // 36-bit count: 4 bits in b[13], then 32 bits.
    totalSamples: (b[13]! & 0x0f) * 2 ** 32 + b[14]! * 2 ** 24 + (b[15]! << 16) + (b[16]! << 8) + b[17]!,
  };
};

export const flacDecoder = new SharedDecoder(async () => new (await flacPackage()).FLACDecoder());

/**
 * Decoded values (samples × channels) one `decodeFrames` call may return: a KB of constant-valued frames
 * declares millions of samples (65535 per channel each), and the WASM heap keeps whatever size one call
 * needed. About 4 MB of floats per call (one frame alone is at most 65535 × 8 values).
 */
const VALUES_PER_CALL = 2 ** 20;

/** Frames for one `decodeFrames` call, and the samples per channel their headers declare. */
interface FrameGroup {
  frames: Uint8Array[];
  samples: number;
}

/**
 * The stream's frames in groups of at most VALUES_PER_CALL values, by each frame's own header (block size
 * × channels: STREAMINFO may lie about both, or say nothing of the length), counted against the frame
 * budget as they are found.
 */
function* boundedGroups(bytes: Uint8Array, from: number): Generator<FrameGroup> {
  let group: FrameGroup = { frames: [], samples: 0 };
  let values = 0;
  let found = 0;
  for (const frame of flacFrames(bytes, from)) {
    checkCodecFrames('FLAC stream', ++found, 'decoded');
    const samples = blockSize(frame, 0);
    const frameValues = samples * frameChannels(frame, 0);
    if (values + frameValues > VALUES_PER_CALL && group.frames.length > 0) {
      yield group;
      group = { frames: [], samples: 0 };
      values = 0;
    }
    group.frames.push(frame);
    group.samples += samples;
    values += frameValues;
  }
  if (group.frames.length > 0) yield group;
}

/**
 * One group through libFLAC: CORRUPT_AUDIO at its first error, or unless its frames give the samples
 * their headers declare (libFLAC returns nothing, and no error, for a frame cut short and for every
 * frame after it in the same call). Thrown inside the shared decoder's `use`, so a decoder that saw a
 * corrupt stream is discarded.
 */
async function decodeGroup(decoder: FLACDecoder, group: FrameGroup) {
  const decoded = await decodeQuietly(decoder, group.frames);
  if (decoded.errors.length > 0) {
    throw new AudioError('CORRUPT_AUDIO', `FLAC data is corrupt: ${decoded.errors[0]!.message}`);
  }
  if (decoded.samplesDecoded !== group.samples) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `FLAC frames declare ${group.samples} samples but ${decoded.samplesDecoded} could be decoded (damaged frame?)`,
    );
  }
  return decoded;
}

/**
 * `decodeFrames` without its stderr noise: the WASM wrapper prints every libFLAC error with
 * `console.error` and also returns it in the result's `errors`, which decide here (CORRUPT_AUDIO, or a
 * retry on a fresh decoder for MISSING_FRAME on a reused one). `decodeFrames` is async but never awaits
 * (0.2.11): its whole body runs before it returns, so no other code runs while `console.error` is muted.
 */
const decodeQuietly = (
  decoder: FLACDecoder,
  frames: Uint8Array[],
): ReturnType<FLACDecoder['decodeFrames']> => {
  const print = console.error;
  console.error = () => undefined;
  try {
    return decoder.decodeFrames(frames);
  } finally {
    console.error = print;
  }
};

/** The limits STREAMINFO alone can be judged by, before anything is decoded. */
const checkStreamInfo = (info: StreamInfo, maxDurationSec: number): void => {
  checkStreamParameters('FLAC', info.sampleRate, info.channels);
  if (info.bitsPerSample < 4 || info.bitsPerSample > 32) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `FLAC STREAMINFO declares ${info.bitsPerSample} bits per sample (4–32)`,
    );
  }
  checkDuration('FLAC header', info.totalSamples, info.sampleRate, maxDurationSec);
  checkDecodedValues('FLAC header', info.totalSamples * info.channels, 'declares');
  // FLAC blocks hold 16–65535 samples: with the largest block STREAMINFO admits, the stream has at least
  // this many frames (exactly, for fixed-size blocks).
  if (info.maxBlockSize >= 16) {
    checkCodecFrames('FLAC header', Math.ceil(info.totalSamples / info.maxBlockSize), 'declares');
  }
};

/** The decoded length against STREAMINFO's: CORRUPT_AUDIO when samples are missing, EMPTY_AUDIO for none. */
const checkDecodedLength = (info: StreamInfo, decoded: number): void => {
  if (info.totalSamples > 0 && decoded !== info.totalSamples) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `FLAC STREAMINFO declares ${info.totalSamples} samples but ${decoded} could be decoded (truncated file?)`,
    );
  }
  if (decoded === 0) throw new AudioError('EMPTY_AUDIO', 'FLAC file holds no audio frames');
};

/**
 * FLAC via @wasm-audio-decoders/flac, checked against STREAMINFO's own sample count.
 *
 * The package's own `decode()` runs codec-parser, which holds back the last frame until `flush()`, and
 * `FLACDecoder.flush()` re-creates the WASM decoder (~15 ms a file). So our own frame reader
 * (flac-frames.ts) hands the frames to one long-lived decoder's `decodeFrames()`: FLAC frames carry their
 * own headers, so one decoder serves any file (the same samples as a fresh decoder, tested), and a file
 * that fails leaves the shared decoder discarded, never reused. Decoded length must equal STREAMINFO's
 * total, so a truncated file is CORRUPT_AUDIO instead of silently short.
 */
export const decodeFlac = async (
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate?: number,
): Promise<MonoPcm> => {
  const info = readStreamInfo(bytes);
  checkStreamInfo(info, maxDurationSec);
  const framesFrom = firstFrameOffset(bytes, id3v2Size(bytes));
  // The WASM decoder divides by 2^(bits−1) − 1 (32767 for 16-bit), WAV/AIFF by 2^(bits−1): rescale so the
  // same PCM gives the same floats whatever the container (TESS is FLAC, uploads are often WAV).
  const full = 2 ** (info.bitsPerSample - 1);
  const options = { container: 'FLAC', maxDurationSec, outputRate, scale: (full - 1) / full };
  // libFLAC reports MISSING_FRAME for some sound files after decoding others (frames of another block
  // size, e.g. RAVDESS cut by ffmpeg after TESS): a failure on a reused decoder is retried on a fresh one.
  return flacDecoder.use(
    async (decoder) => {
      const collector = createMonoCollector(options);
      // Group by group, lazily: the collector checks the limits after each (≤ VALUES_PER_CALL values), so
      // a run of constant-valued frames (~12 bytes each, up to 65535 samples per channel) is never decoded
      // past them.
      for (const group of boundedGroups(bytes, framesFrom)) collector.take(await decodeGroup(decoder, group));
      const result = collector.result();
      checkDecodedLength(info, result.frames);
      return { samples: result.samples, sampleRate: info.sampleRate, outputRate, channels: info.channels };
    },
    { retryFresh: true },
  );
};
