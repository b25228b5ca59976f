import { describe, expect, it } from 'vitest';
import { toMono } from '../lambdas/core/audio/mono.ts';
import { resample, resampledLength } from '../lambdas/core/audio/resample.ts';

const sine = (seconds: number, rate: number, frequency: number, amplitude = 0.5): Float32Array =>
  Float32Array.from(
    { length: Math.round(seconds * rate) },
    (_, i) => amplitude * Math.sin((2 * Math.PI * frequency * i) / rate),
  );

/** The middle 60% of a signal: away from the edges, where any filter has a transient. */
const middle = (x: Float32Array): Float32Array =>
  x.subarray(Math.floor(x.length * 0.2), Math.floor(x.length * 0.8));

/** Amplitude of the component at `frequency` (a single DFT bin by projection; the window holds many periods). */
const amplitudeAt = (x: Float32Array, rate: number, frequency: number): number => {
  let s = 0;
  let c = 0;
  for (let i = 0; i < x.length; i++) {
    const phase = (2 * Math.PI * frequency * i) / rate;
    s += x[i]! * Math.sin(phase);
    c += x[i]! * Math.cos(phase);
  }
  return (2 * Math.hypot(s, c)) / x.length;
};

const rms = (x: Float32Array): number => Math.sqrt(x.reduce((sum, v) => sum + v * v, 0) / x.length);
const db = (ratio: number): number => 20 * Math.log10(ratio);

const zeroCrossingsPerSecond = (x: Float32Array, rate: number): number => {
  let crossings = 0;
  for (let i = 1; i < x.length; i++) if (x[i - 1]! < 0 !== x[i]! < 0) crossings++;
  return (crossings * rate) / x.length;
};

const RATE_PAIRS: [number, number][] = [
  [24414, 16000],
  [44100, 16000],
  [48000, 16000],
  [96000, 16000],
  [8000, 16000],
  [22050, 16000],
  [16000, 48000],
];

describe('resample', () => {
  it('returns the input itself when the rates are equal', () => {
    const x = sine(0.1, 16000, 440);
    expect(resample(x, 16000, 16000)).toBe(x);
  });

  it.each(RATE_PAIRS)('%i → %i gives round(n·to/from) samples', (from, to) => {
    for (const n of [0, 1, 2, 7, 1000, 24414, 73243]) {
      const out = resample(new Float32Array(n), from, to);
      expect(out.length).toBe(resampledLength(n, from, to));
      expect(Math.abs(out.length - (n * to) / from)).toBeLessThanOrEqual(1);
    }
  });

  it.each(RATE_PAIRS)('%i → %i keeps a 1 kHz sine a 1 kHz sine within 0.5 dB', (from, to) => {
    const out = middle(resample(sine(1, from, 1000), from, to));
    expect(Math.abs(db(amplitudeAt(out, to, 1000) / 0.5))).toBeLessThan(0.5);
    // Independent of the DFT: a 1 kHz sine crosses zero 2000 times a second.
    expect(zeroCrossingsPerSecond(out, to)).toBeGreaterThan(1980);
    expect(zeroCrossingsPerSecond(out, to)).toBeLessThan(2020);
    // Nothing else of note: the residual after removing the 1 kHz component is far below it.
    const amplitude = amplitudeAt(out, to, 1000);
    expect(db(rms(out) / (amplitude / Math.SQRT2))).toBeLessThan(0.1);
  });

  it.each([
    [48000, 16000, 9000],
    [24414, 16000, 9000],
    [44100, 16000, 10000],
    [96000, 16000, 12000],
  ])('%i → %i attenuates a %i Hz tone (above the new Nyquist) by at least 40 dB', (from, to, frequency) => {
    const out = middle(resample(sine(1, from, frequency), from, to));
    expect(db(rms(out) / (0.5 / Math.SQRT2))).toBeLessThan(-40);
  });

  it('does not create images when upsampling 8 kHz → 16 kHz', () => {
    const out = middle(resample(sine(1, 8000, 1000), 8000, 16000));
    // Zero-stuffing would leave an image at 8000 − 1000 = 7000 Hz.
    expect(db(amplitudeAt(out, 16000, 7000) / 0.5)).toBeLessThan(-40);
  });

  it.each(RATE_PAIRS)('%i → %i keeps DC exactly, edges included', (from, to) => {
    const out = resample(new Float32Array(Math.floor(from / 4)).fill(0.3), from, to);
    for (const value of out) expect(value).toBeCloseTo(0.3, 6);
  });

  it('rounds fractional rates to whole hertz', () => {
    const x = sine(0.1, 24414, 440);
    expect(resample(x, 24414.2, 16000)).toEqual(resample(x, 24414, 16000));
  });

  it('rejects impossible rates', () => {
    expect(() => resample(new Float32Array(4), 0, 16000)).toThrow(RangeError);
    expect(() => resample(new Float32Array(4), 16000, Number.NaN)).toThrow(RangeError);
  });
});

describe('toMono', () => {
  it('averages de-interleaved channels and passes one channel through', () => {
    const left = Float32Array.from([1, 0.5, -1]);
    const right = Float32Array.from([0, 0.5, 1]);
    expect(Array.from(toMono([left, right]))).toEqual([0.5, 0.5, 0]);
    expect(toMono([left])).toBe(left);
  });

  it('averages interleaved frames', () => {
    expect(Array.from(toMono(Float32Array.from([1, 0, 0.5, 0.5, -1, 1]), 2))).toEqual([0.5, 0.5, 0]);
  });
});
