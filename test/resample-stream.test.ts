import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { concatenated } from '../lambdas/core/audio/concat.ts';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { createStreamingResampler, resample } from '../lambdas/core/audio/resample.ts';
import { referenceResample } from './helpers/reference-resample.ts';

/** Deterministic pseudo-random signal (a tone plus noise), so every tap matters. */
const signal = (length: number, seed: number): Float32Array => {
  let state = seed;
  return Float32Array.from({ length }, (_, i) => {
    state = (state * 1103515245 + 12345) >>> 0;
    return 0.5 * Math.sin(i * 0.01) + (state / 2 ** 32 - 0.5) * 0.4;
  });
};

/** Feeds `input` in chunks of the given sizes (cycled) and joins the output. */
const streamed = (input: Float32Array, from: number, to: number, sizes: number[]): Float32Array => {
  const resampler = createStreamingResampler(from, to);
  const parts: Float32Array[] = [];
  for (let at = 0, i = 0; at < input.length; i++) {
    const size = sizes[i % sizes.length]!;
    parts.push(resampler.push(input.slice(at, at + size)));
    at += size;
  }
  parts.push(resampler.finish());
  return concatenated(parts, Float32Array);
};

describe('createStreamingResampler', () => {
  const pairs: [number, number][] = [
    [384000, 16000],
    [192000, 16000],
    [44100, 16000],
    [24414, 16000],
    [8000, 16000],
    [22050, 16000],
    [383999, 16000],
  ];
  it.each(pairs)('gives exactly what resample gives for the whole signal (%i → %i Hz)', (from, to) => {
    const input = signal(Math.round(from * 0.35) + 17, from);
    const whole = resample(input, from, to);
    for (const sizes of [[7, 1000, 3], [4096], [input.length]]) {
      expect(streamed(input, from, to, sizes)).toEqual(whole);
    }
    const short = input.subarray(0, 3000);
    expect(streamed(short, from, to, [1])).toEqual(resample(short, from, to));
  });

  it('handles inputs shorter than the filter and empty streams', () => {
    for (const length of [1, 2, 5, 30]) {
      const input = signal(length, length);
      expect(streamed(input, 48000, 16000, [1])).toEqual(resample(input, 48000, 16000));
    }
    expect(createStreamingResampler(48000, 16000).finish()).toHaveLength(0);
  });

  it('keeps only a filter length of input between pushes', () => {
    const resampler = createStreamingResampler(384000, 16000);
    let out = 0;
    for (let i = 0; i < 100; i++) out += resampler.push(new Float32Array(38400).fill(0.25)).length;
    out += resampler.finish().length;
    expect(out).toBe(16000 * 10);
  });
});

const maxDifference = (a: Float32Array, b: Float32Array): number => {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
};

describe('the unified resampler', () => {
  it.each([
    ['tess-OAF_gap_sad.flac', 16000],
    ['tess-OAF_gap_sad-44k.mp3', 16000],
    ['tess-OAF_gap_sad.opus', 16000],
    ['ravdess-03-01-03-02-02-01-06.flac', 8000],
    ['ravdess-03-01-03-02-02-01-06.flac', 22050],
  ])('gives what the former float64 loop gave, to within 1e-6 (%s → %i Hz)', async (file, to) => {
    // Prepare: a bench clip at its own rate (24.4, 44.1, 48 or 16 kHz).
    const bytes = new Uint8Array(readFileSync(join(import.meta.dirname, '../bench/clips', file)));
    const { samples, sampleRate } = await decodeAudio(bytes);

    // Act
    const whole = resample(samples, sampleRate, to);
    const stream = streamed(samples, sampleRate, to, [16_384]);

    // Assess
    // The SIMD kernel sums float32 products where the former loop summed float64 ones: the same filter,
    // rounded differently (a 16-bit sample step is 3e-5). Stream and whole signal agree exactly.
    const reference = referenceResample(samples, sampleRate, to);
    expect(whole).toHaveLength(reference.length);
    expect(maxDifference(whole, reference)).toBeLessThan(1e-6);
    expect(stream).toEqual(whole);
  });
});
