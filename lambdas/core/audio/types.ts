import type { AudioFormat } from './formats.ts';

/** Containers/codecs `detectFormat` recognises from magic bytes and `decodeAudio` can decode (one list: formats.ts). */
export type { AudioFormat } from './formats.ts';

export interface DecodedAudio {
  /** Mono samples in [-1, 1] (multichannel sources are averaged). */
  samples: Float32Array;
  sampleRate: number;
  /** Channel count of the source, before the mix to mono. */
  channels: number;
  format: AudioFormat;
  durationSec: number;
}

/** What each container decoder returns: mono samples at the source rate, before the common checks. */
export interface MonoPcm {
  samples: Float32Array;
  sampleRate: number;
  /** Channel count of the source, before the mix to mono. */
  channels: number;
}

export interface DecodeOptions {
  /** Longest audio accepted, in seconds (default 600). Checked against the header before decoding. */
  maxDurationSec?: number;
}

export const DEFAULT_MAX_DURATION_SEC = 600;
/** Sample rates outside this range are not audio anyone records speech with: treated as corrupt headers. */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 384_000;
/** More channels than this is not a recording we can mix meaningfully (and guards allocation). */
export const MAX_CHANNELS = 64;
