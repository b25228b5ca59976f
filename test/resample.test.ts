import { describe, expect, it } from 'vitest';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { toMono } from '../lambdas/core/audio/mono.ts';
import { filterBank, resample, resampledLength } from '../lambdas/core/audio/resample.ts';

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

/** A mono 16-bit WAV of `frames` samples of a tone at `rate`. */
const toneWav = (rate: number, frames: number): Uint8Array => {
  const bytes = new Uint8Array(44 + frames * 2);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode('RIFF'), 0);
  view.setUint32(4, 36 + frames * 2, true);
  bytes.set(new TextEncoder().encode('WAVEfmt '), 8);
  for (const [at, value] of [
    [16, 16],
    [24, rate],
    [28, rate * 2],
    [40, frames * 2],
  ] as const)
    view.setUint32(at, value, true);
  for (const [at, value] of [
    [20, 1],
    [22, 1],
    [32, 2],
    [34, 16],
  ] as const)
    view.setUint16(at, value, true);
  bytes.set(new TextEncoder().encode('data'), 36);
  for (let i = 0; i < frames; i++) view.setInt16(44 + 2 * i, Math.round(8000 * Math.sin(i / 3)), true);
  return bytes;
};

describe('the filter bank cache', () => {
  it('keeps recently used banks and lets old ones go after uploads at many rates', async () => {
    // Arrange: the bank a 384 kHz upload uses (~1.5 MB), and what such an upload decodes to
    const first = filterBank(384_000, 16_000);
    const before = await decodeAudio(toneWav(384_000, 400), { outputRate: 16_000 });

    // Act: uploads at 20 other rates near 384 kHz, each needing its own bank
    for (let i = 1; i <= 20; i++) await decodeAudio(toneWav(384_000 - i, 400), { outputRate: 16_000 });

    // Assess: the last rate's bank is still cached, the first one was dropped (a fresh one is built), and
    // the rebuilt bank gives the same samples
    expect(filterBank(384_000 - 20, 16_000)).toBe(filterBank(384_000 - 20, 16_000));
    expect(filterBank(384_000, 16_000)).not.toBe(first);
    const after = await decodeAudio(toneWav(384_000, 400), { outputRate: 16_000 });
    expect(after.samples).toEqual(before.samples);
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
