import type { AudioFormat } from './formats.ts';

/** Containers/codecs `detectFormat` recognises from magic bytes and `decodeAudio` decodes (one list: formats.ts). */
export type { AudioFormat } from './formats.ts';

export interface DecodedAudio {
  /** Mono samples in [-1, 1] (multichannel sources are averaged), at `sampleRate`. */
  samples: Float32Array;
  /** Rate of `samples`: `DecodeOptions.outputRate` when given, else the source's. */
  sampleRate: number;
  /** The source's own rate. */
  sourceSampleRate: number;
  /** Channel count of the source, before the mix to mono. */
  channels: number;
  format: AudioFormat;
  durationSec: number;
}

/** What each container decoder returns: mono samples, before the common checks. */
export interface MonoPcm {
  /** At `outputRate` when the decoder resampled while decoding, else at `sampleRate`. */
  samples: Float32Array;
  /** The source's rate. */
  sampleRate: number;
  /** Set when `samples` were resampled while decoding (see `DecodeOptions.outputRate`). */
  outputRate?: number;
  /** Channel count of the source, before the mix to mono. */
  channels: number;
}

export interface DecodeOptions {
  /** Longest audio accepted, in seconds (default 600). Checked against the header before decoding. */
  maxDurationSec?: number;
  /**
   * Return the samples at this rate. Compressed formats are resampled chunk by chunk while decoding, so
   * memory follows this rate, not the source's (a 384 kHz file costs what a 16 kHz one does).
   */
  outputRate?: number;
}

export const DEFAULT_MAX_DURATION_SEC = 600;
/** Sample rates outside this range are not audio anyone records speech with: treated as corrupt headers. */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 384_000;
/**
 * Budget of decoded sample values (frames × channels) per file: 2^26 ≈ 67 M, i.e. 10 minutes of stereo
 * at 48 kHz (57.6 M) fits, 10 minutes of mono at 192 kHz does not. It bounds the decoding work (time)
 * and, with resampling while decoding, the memory a tiny file that declares a huge stream can cost;
 * over it is TOO_LARGE, from the header where the container declares its length.
 */
export const MAX_DECODED_VALUES = 2 ** 26;
/**
 * Budget of codec frames (FLAC blocks) per file: 2^17 = 131 072. Decoding costs per frame as well as per
 * sample: FLAC allows 16-sample blocks, and 10 minutes of 16 kHz in them (600 000 frames, ~10 KB per
 * second of silence) took ~50 s to decode, near the Lambda timeout, inside the values budget. 2^17 frames
 * is 10 minutes in blocks of 220 samples at 48 kHz or 73 at 16 kHz (encoders write 1152–4608); over it is
 * TOO_LARGE, from STREAMINFO (total ÷ largest block) before decoding, else counted while decoding.
 */
export const MAX_CODEC_FRAMES = 2 ** 17;
/** More channels than this is not a recording we can mix meaningfully (and guards allocation). */
export const MAX_CHANNELS = 64;
