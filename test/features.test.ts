import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FEATURE_CONFIG,
  type FeatureConfig,
  parseFeatureConfig,
} from '../lambdas/core/features/config.ts';
import { createFeatureExtractor, frameCount, normalizeUtterance } from '../lambdas/core/features/extract.ts';
import { extractWithMeyda } from './helpers/meyda-reference.ts';

const config = DEFAULT_FEATURE_CONFIG;
const logMelConfig: FeatureConfig = { ...config, kind: 'logmel' };

const tone = (hz: number, seconds: number, amplitude = 0.5, rate = config.sampleRate): Float32Array =>
  Float32Array.from(
    { length: Math.round(seconds * rate) },
    (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate),
  );

/** A deterministic speech-like test signal: a gliding harmonic tone with noise and an amplitude envelope. */
function syntheticVoice(seconds: number): Float32Array {
  let seed = 7;
  const noise = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647 - 0.5;
  };
  const rate = config.sampleRate;
  const out = new Float32Array(Math.round(seconds * rate));
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    const f0 = 140 + 60 * Math.sin(i / 4000);
    phase += (2 * Math.PI * f0) / rate;
    const envelope = 0.5 + 0.5 * Math.sin(i / 2500);
    out[i] =
      envelope * (0.3 * Math.sin(phase) + 0.15 * Math.sin(2 * phase) + 0.08 * Math.sin(3 * phase)) +
      0.02 * noise();
  }
  return out;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((max, x, i) => Math.max(max, Math.abs(x - b[i]!)), 0);

describe('frame layout', () => {
  it("cuts whole frames like meyda's frame(): 1 + floor((n - frame) / hop)", () => {
    expect(frameCount(48_000, 512, 320)).toBe(149);
    expect(frameCount(512, 512, 320)).toBe(1);
    expect(frameCount(100, 512, 320)).toBe(1); // zero-padded to one frame
    const features = createFeatureExtractor(config).extract(new Float32Array(48_000));
    expect(features.frames).toBe(149);
    expect(features.dims).toBe(40);
    expect(features.data.length).toBe(149 * 40);
  });
});

describe('reused buffers', () => {
  it('gives a clip the same features whatever the extractor read before (longer, shorter, louder)', () => {
    const prosodyConfig: FeatureConfig = { ...config, prosody: true };
    // Voice, then hiss to the very end, the last frame ending on the last sample (20032 = 512 + 61·320):
    // the last frames' pitch search reaches the end of the input.
    let seed = 3;
    const hiss = Float32Array.from({ length: 4032 }, () => {
      seed = (seed * 16807) % 2147483647;
      return 0.2 * (seed / 2147483647 - 0.5);
    });
    const clip = new Float32Array([...syntheticVoice(1), ...hiss]);
    const fresh = createFeatureExtractor(prosodyConfig).extract(clip);
    const reused = createFeatureExtractor(prosodyConfig);
    reused.extract(syntheticVoice(4).map((x) => x * 1.8));
    const afterLonger = reused.extract(clip);
    reused.extract(tone(220, 0.4));
    const afterShorter = reused.extract(clip);
    expect(fresh.dims).toBe(43);
    expect(afterLonger.frames).toBe(fresh.frames);
    expect(Array.from(afterLonger.data)).toEqual(Array.from(fresh.data));
    expect(Array.from(afterShorter.data)).toEqual(Array.from(fresh.data));
  });
});

describe('independently derived values', () => {
  it('puts a pure tone in the mel band whose HTK centre is nearest to it', () => {
    const mel = (hz: number) => 1125 * Math.log(1 + hz / 700);
    const bands = config.melBands;
    const step = mel(config.sampleRate / 2) / (bands + 1);
    for (const hz of [300, 1000, 2500, 5000]) {
      // band m (0-based) peaks at mel (m + 1) * step
      const expectedBand = Math.round(mel(hz) / step) - 1;
      const { data, dims } = createFeatureExtractor(logMelConfig).extract(tone(hz, 0.5));
      const middleFrame = data.subarray(10 * dims, 11 * dims);
      const loudest = middleFrame.indexOf(Math.max(...middleFrame));
      expect(Math.abs(loudest - expectedBand), `${hz} Hz`).toBeLessThanOrEqual(1);
    }
  });

  it('maps digital silence to exactly 0 (log(0 + 1)) in both log-mel and MFCC', () => {
    const silence = new Float32Array(16_000);
    for (const kind of ['logmel', 'mfcc'] as const) {
      const { data } = createFeatureExtractor({ ...config, kind }).extract(silence);
      expect(data.every((x) => x === 0)).toBe(true);
    }
  });

  it("computes MFCC as meyda's unnormalised DCT-II of the log-mel vector", () => {
    const voice = syntheticVoice(1);
    const logMel = createFeatureExtractor(logMelConfig).extract(voice);
    const mfcc = createFeatureExtractor(config).extract(voice);
    const n = logMel.dims;
    for (const frame of [0, 10, 40]) {
      const x = logMel.data.subarray(frame * n, (frame + 1) * n);
      for (const k of [0, 1, 5, 39]) {
        let expected = 0;
        for (let i = 0; i < n; i++) expected += 2 * x[i]! * Math.cos((Math.PI / n) * (i + 0.5) * k);
        const actual = mfcc.data[frame * mfcc.dims + k]!;
        expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
      }
    }
  });

  it('puts a DC offset in the lowest mel band', () => {
    // A constant signal has its energy in FFT bin 0 (and the window's leakage into bins 1-2), which only
    // the first mel filters cover.
    const { data, dims } = createFeatureExtractor(logMelConfig).extract(new Float32Array(2048).fill(0.5));
    const frame = data.subarray(0, dims);
    expect(frame[0]).toBeGreaterThan(10);
    expect(Math.max(...frame.subarray(3))).toBeLessThan(frame[0]! / 2);
  });

  it('is level-invariant: loudness normalisation removes a 20 dB gain difference', () => {
    const voice = syntheticVoice(1);
    const quiet = voice.map((x) => x * 0.1);
    const extractor = createFeatureExtractor(config);
    const a = normalizeUtterance(extractor.extract(voice));
    const b = normalizeUtterance(extractor.extract(quiet));
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-3);
  });
});

describe('matches meyda itself', () => {
  const variants: Array<[string, Partial<FeatureConfig>]> = [
    ['mfcc', { kind: 'mfcc' }],
    ['logmel', { kind: 'logmel' }],
    [
      'mfcc, odd mel count, 13 coefficients, 1024 hamming frames',
      { melBands: 39, mfccCoefficients: 13, frameSize: 1024, hopSize: 512, window: 'hamming' },
    ],
  ];
  for (const [name, change] of variants) {
    it(`${name}: same frames, same values`, () => {
      const cfg: FeatureConfig = { ...config, ...change };
      const voice = syntheticVoice(3);
      const fast = createFeatureExtractor(cfg).extract(voice);
      const reference = extractWithMeyda(voice, cfg);
      expect(fast.frames).toBe(reference.frames);
      // Raw MFCC c0 reaches ~1500, where one float32 step is 1.2e-4: compare relatively there, and
      // absolutely on what the model sees (after CMVN).
      for (let i = 0; i < fast.data.length; i++) {
        const tolerance = 1e-4 * Math.max(1, Math.abs(reference.data[i]!) / 100);
        expect(Math.abs(fast.data[i]! - reference.data[i]!)).toBeLessThanOrEqual(tolerance);
      }
      const normalisedDiff = maxAbsDiff(normalizeUtterance(fast).data, normalizeUtterance(reference).data);
      expect(normalisedDiff).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe('normalizeUtterance (CMVN)', () => {
  it('gives each dimension mean 0 and std 1 over the valid frames and zeroes the padding', () => {
    const matrix = createFeatureExtractor(config).extract(syntheticVoice(2));
    const valid = 60;
    normalizeUtterance(matrix, valid);
    for (const d of [0, 1, 20, 39]) {
      let sum = 0;
      let squares = 0;
      for (let f = 0; f < valid; f++) sum += matrix.data[f * matrix.dims + d]!;
      for (let f = 0; f < valid; f++) squares += (matrix.data[f * matrix.dims + d]! - sum / valid) ** 2;
      expect(Math.abs(sum / valid)).toBeLessThan(1e-4);
      expect(Math.sqrt(squares / valid)).toBeCloseTo(1, 3);
    }
    expect(matrix.data.subarray(valid * matrix.dims).every((x) => x === 0)).toBe(true);
  });

  it('leaves constant dimensions at 0 instead of NaN', () => {
    const matrix = normalizeUtterance(createFeatureExtractor(config).extract(new Float32Array(8000)));
    expect(matrix.data.every((x) => x === 0)).toBe(true);
  });
});

describe('feature config', () => {
  it('round-trips through JSON and validation', () => {
    expect(parseFeatureConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  it.each([
    ['a frame that is not a power of two', { frameSize: 500 }],
    ['fewer mel bands than coefficients', { melBands: 20, mfccCoefficients: 30 }],
    ['more than 40 coefficients (meyda clamps silently)', { mfccCoefficients: 60, melBands: 60 }],
    ['a hop longer than the frame', { hopSize: 1024 }],
    ['an unknown field', { preEmphasis: 0.97 }],
  ])('rejects %s', (_, change) => {
    expect(() => parseFeatureConfig({ ...config, ...change })).toThrow();
  });
});
