import { FLACDecoder } from '@wasm-audio-decoders/flac';
import { AudioError } from '../errors.ts';
import { id3v2Size } from './detect.ts';
import { checkDuration, checkStreamParameters } from './limits.ts';
import { decodeChunked, SharedDecoder } from './stream.ts';
import type { MonoPcm } from './types.ts';

interface StreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** 0 means "unknown" in FLAC (a streamed encoder could not seek back). */
  totalSamples: number;
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
    sampleRate: (b[10]! << 12) | (b[11]! << 4) | (b[12]! >> 4),
    channels: ((b[12]! >> 1) & 7) + 1,
    bitsPerSample: (((b[12]! & 1) << 4) | (b[13]! >> 4)) + 1,
    // 36-bit count: 4 bits in b[13], then 32 bits.
    totalSamples: (b[13]! & 0x0f) * 2 ** 32 + b[14]! * 2 ** 24 + (b[15]! << 16) + (b[16]! << 8) + b[17]!,
  };
};

export const flacDecoder = new SharedDecoder(() => new FLACDecoder());

/**
 * FLAC via @wasm-audio-decoders/flac, checked against STREAMINFO's own sample count.
 *
 * The "silently drops the last 0.135 s" finding: the decoder's codec-parser holds back the last frame
 * until it sees the next frame's sync code, so `decode()` alone never returns the final frame (36864 of
 * 39230 samples for a TESS clip). `flush()` (or `decodeFile()`) releases it. We stream with `decode()` +
 * `flush()` and then require decoded length == STREAMINFO total, so a truncated file is CORRUPT_AUDIO
 * instead of silently short.
 */
export const decodeFlac = async (bytes: Uint8Array, maxDurationSec: number): Promise<MonoPcm> => {
  const info = readStreamInfo(bytes);
  checkStreamParameters('FLAC', info.sampleRate, info.channels);
  checkDuration('FLAC header', info.totalSamples, info.sampleRate, maxDurationSec);
  const start = id3v2Size(bytes);
  // The WASM decoder divides by 2^(bits−1) − 1 (32767 for 16-bit), WAV/AIFF by 2^(bits−1): rescale so the
  // same PCM gives the same floats whatever the container (TESS is FLAC, uploads are often WAV).
  const full = 2 ** (info.bitsPerSample - 1);
  const result = await flacDecoder.use((decoder) =>
    decodeChunked(start > 0 ? bytes.subarray(start) : bytes, {
      container: 'FLAC',
      maxDurationSec,
      decode: (chunk) => decoder.decode(chunk),
      flush: () => decoder.flush(),
      // Small: a frame of constant samples is ~12 bytes (mono) for up to 65535 samples per channel, so
      // 1 KiB can expand to ~22 MB (mono) / ~80 MB (8 channels) before the limit check; speed is unchanged.
      chunkBytes: 1024,
      scale: (full - 1) / full,
    }),
  );
  const decoded = result.samples.length;
  if (result.errors.length > 0) {
    throw new AudioError('CORRUPT_AUDIO', `FLAC data is corrupt: ${result.errors[0]}`);
  }
  if (info.totalSamples > 0 && decoded !== info.totalSamples) {
    throw new AudioError(
      'CORRUPT_AUDIO',
      `FLAC STREAMINFO declares ${info.totalSamples} samples but ${decoded} could be decoded (truncated file?)`,
    );
  }
  if (decoded === 0) throw new AudioError('EMPTY_AUDIO', 'FLAC file holds no audio frames');
  return { samples: result.samples, sampleRate: info.sampleRate, channels: info.channels };
};
