import type { FLACDecoder } from '@wasm-audio-decoders/flac';
import type { CodecFrame, OggPage } from 'codec-parser';
import { AudioError } from '../errors.ts';
import { codecParserClass, flacPackage } from './codec-packages.ts';
import { id3v2Size } from './detect.ts';
import { checkCodecFrames, checkDecodedValues, checkDuration, checkStreamParameters } from './limits.ts';
import { decodeChunked, SharedDecoder } from './stream.ts';
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

/** The payload of each frame the parser yields (its typings say Iterator; it is a generator). */
const frameData = (frames: Iterator<CodecFrame | OggPage>): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (let next = frames.next(); !next.done; next = frames.next()) out.push((next.value as CodecFrame).data);
  return out;
};

/**
 * Decoded values (samples × channels) one `decodeFrames` call may return: a KB of constant-valued frames
 * declares millions of samples (65535 per channel each), and the WASM heap keeps whatever size one call
 * needed. About 4 MB of floats per call; a single frame may still exceed it (≤ 65535 × 8 values).
 */
const VALUES_PER_CALL = 2 ** 20;

/** Splits frames into groups of at most VALUES_PER_CALL values, by each frame's own block size. */
const boundedGroups = (frames: Uint8Array[], maxBlockSize: number, channels: number): Uint8Array[][] => {
  const perFrame = Math.max(1, maxBlockSize || 65535) * channels;
  const size = Math.max(1, Math.floor(VALUES_PER_CALL / perFrame));
  const groups: Uint8Array[][] = [];
  for (let i = 0; i < frames.length; i += size) groups.push(frames.slice(i, i + size));
  return groups;
};

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

/** Decodes `frames` in groups of at most VALUES_PER_CALL values, one group per step. */
async function* decodeGroups(
  decoder: FLACDecoder,
  frames: Uint8Array[],
  info: StreamInfo,
): AsyncGenerator<Awaited<ReturnType<FLACDecoder['decodeFrames']>>> {
  for (const group of boundedGroups(frames, info.maxBlockSize, info.channels)) {
    yield await decodeQuietly(decoder, group);
  }
}

/** The limits STREAMINFO alone can be judged by, before anything is decoded. */
const checkStreamInfo = (info: StreamInfo, maxDurationSec: number): void => {
  checkStreamParameters('FLAC', info.sampleRate, info.channels);
  checkDuration('FLAC header', info.totalSamples, info.sampleRate, maxDurationSec);
  checkDecodedValues('FLAC header', info.totalSamples * info.channels, 'declares');
  // FLAC blocks hold 16–65535 samples: with the largest block STREAMINFO admits, the stream has at least
  // this many frames (exactly, for fixed-size blocks).
  if (info.maxBlockSize >= 16) {
    checkCodecFrames('FLAC header', Math.ceil(info.totalSamples / info.maxBlockSize), 'declares');
  }
};

/**
 * A codec parser whose frames are counted against the frame budget as they are parsed: STREAMINFO may lie
 * about block sizes, or say nothing of the length.
 */
const countingParser = async () => {
  const CodecParser = await codecParserClass();
  const parser = new CodecParser('audio/flac', { enableFrameCRC32: false, enableLogging: false });
  let parsed = 0;
  const counted = (frames: Uint8Array[]) => {
    parsed += frames.length;
    checkCodecFrames('FLAC stream', parsed, 'decoded');
    return frames;
  };
  return {
    parseChunk: (chunk: Uint8Array) => counted(frameData(parser.parseChunk(chunk))),
    flush: () => counted(frameData(parser.flush())),
  };
};

/** The decoded length against STREAMINFO's: CORRUPT_AUDIO when frames are missing, EMPTY_AUDIO for none. */
const checkDecodedLength = (info: StreamInfo, decoded: number): void => {
  // codec-parser 2.5 sometimes loses a short final frame (e.g. 79 samples after 4096-sample frames;
  // `flac -t` finds the files sound): up to one block missing at the end is accepted as it is, more is
  // a truncated file.
  const missing = info.totalSamples - decoded;
  const lostFinalFrame = missing > 0 && missing < Math.max(1, info.maxBlockSize);
  if (info.totalSamples > 0 && decoded !== info.totalSamples && !lostFinalFrame) {
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
 * The "silently drops the last 0.135 s" finding: the codec parser holds back the last frame until it sees
 * the next frame's sync code, so `decode()` alone never returns the final frame (36864 of 39230 samples
 * for a TESS clip); its `flush()` releases it. `FLACDecoder.flush()` also re-creates the WASM decoder,
 * which made every FLAC cost ~15 ms more than its decoding. So we run our own `codec-parser` per file
 * (chunk by chunk, then `flush()`) and hand its frames to one long-lived decoder's `decodeFrames()`:
 * FLAC frames carry their own headers, so one decoder serves any file (the same samples as a fresh
 * decoder, tested), and a file that fails leaves the shared decoder discarded, never reused. Decoded
 * length must equal STREAMINFO's total, so a truncated file is CORRUPT_AUDIO instead of silently short.
 */
export const decodeFlac = async (
  bytes: Uint8Array,
  maxDurationSec: number,
  outputRate?: number,
): Promise<MonoPcm> => {
  const info = readStreamInfo(bytes);
  checkStreamInfo(info, maxDurationSec);
  const start = id3v2Size(bytes);
  // The WASM decoder divides by 2^(bits−1) − 1 (32767 for 16-bit), WAV/AIFF by 2^(bits−1): rescale so the
  // same PCM gives the same floats whatever the container (TESS is FLAC, uploads are often WAV).
  const full = 2 ** (info.bitsPerSample - 1);
  // libFLAC reports MISSING_FRAME for some sound files after decoding others (frames of another block
  // size, e.g. RAVDESS cut by ffmpeg after TESS): a failure on a reused decoder is retried on a fresh one.
  return flacDecoder.use(
    async (decoder) => {
      const parser = await countingParser();
      const result = await decodeChunked(start > 0 ? bytes.subarray(start) : bytes, {
        container: 'FLAC',
        maxDurationSec,
        outputRate,
        // Group by group, lazily: the collector checks the limits after each (≤ VALUES_PER_CALL values), so
        // a chunk of constant-valued frames (~12 bytes each, up to 65535 samples per channel) is never
        // decoded past them, whatever the chunk's size.
        decode: (chunk) => decodeGroups(decoder, parser.parseChunk(chunk), info),
        flush: () => decodeQuietly(decoder, parser.flush()),
        chunkBytes: 64 * 1024,
        scale: (full - 1) / full,
      });
      // Thrown inside `use` so that a decoder which saw a corrupt stream is discarded.
      if (result.errors.length > 0) {
        throw new AudioError('CORRUPT_AUDIO', `FLAC data is corrupt: ${result.errors[0]}`);
      }
      checkDecodedLength(info, result.frames);
      return { samples: result.samples, sampleRate: info.sampleRate, outputRate, channels: info.channels };
    },
    { retryFresh: true },
  );
};
