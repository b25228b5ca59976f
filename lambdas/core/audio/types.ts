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
