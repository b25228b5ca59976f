import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { resample } from '../lambdas/core/audio/resample.ts';
import {
  DEFAULT_FEATURE_CONFIG,
  featureDimension,
  parseFeatureConfig,
} from '../lambdas/core/features/config.ts';
import { createFeatureExtractor, frameCount } from '../lambdas/core/features/extract.ts';
import { extractProsody, pitchInput, yinPeriod, yinSearch } from '../lambdas/core/features/prosody.ts';
import { referenceYinPeriod } from './helpers/reference-yin.ts';

const RATE = 16_000;
const { frameSize, hopSize } = DEFAULT_FEATURE_CONFIG;

/** A voiced-like sound: harmonics 1–8 of `f0(t)` with falling amplitude (like a glottal source). */
function harmonicTone(seconds: number, f0: (t: number) => number, amplitude = 0.3): Float32Array {
  const out = new Float32Array(Math.round(seconds * RATE));
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    phase += (2 * Math.PI * f0(i / RATE)) / RATE;
    let v = 0;
    for (let h = 1; h <= 8; h++) v += Math.sin(h * phase) / h;
    out[i] = amplitude * v * 0.5;
  }
  return out;
}

function noise(seconds: number, amplitude = 0.3): Float32Array {
  let seed = 12345;
  return Float32Array.from({ length: Math.round(seconds * RATE) }, () => {
    seed = (seed * 16807) % 2147483647;
    return amplitude * (2 * (seed / 2147483647) - 1);
  });
}

const prosodyOf = (samples: Float32Array) =>
  extractProsody(samples, RATE, frameSize, hopSize, frameCount(samples.length, frameSize, hopSize));
const hz = (semitones: number) => 100 * 2 ** (semitones / 12);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('extractProsody (YIN pitch, voicing, level)', () => {
  it.each([80, 120, 200, 320, 450])('finds the pitch of a %i Hz harmonic tone within 2 %%', (f0) => {
    const track = prosodyOf(harmonicTone(1, () => f0));
    const inner = Array.from(track.pitch.slice(3, -3));
    expect(track.voiced.slice(3, -3).every((v) => v === 1)).toBe(true);
    for (const p of inner) expect(Math.abs(hz(p) / f0 - 1)).toBeLessThan(0.02);
    expect(Math.min(...track.voicing.slice(3, -3))).toBeGreaterThan(0.85);
  });

  it('follows a rising glide', () => {
    const track = prosodyOf(harmonicTone(1.5, (t) => 120 + 160 * (t / 1.5)));
    const pitches = Array.from(track.pitch.slice(3, -3));
    const rising = pitches.slice(1).filter((p, i) => p >= pitches[i]! - 0.05).length;
    expect(rising / (pitches.length - 1)).toBeGreaterThan(0.95);
    expect(hz(pitches[0]!)).toBeLessThan(135);
    expect(hz(pitches.at(-1)!)).toBeGreaterThan(260);
  });

  it('white noise is mostly unvoiced, with low voicing', () => {
    const track = prosodyOf(noise(1));
    const voicedShare = track.voiced.reduce((n, v) => n + v, 0) / track.frames;
    expect(voicedShare).toBeLessThan(0.1);
    expect(median(Array.from(track.voicing))).toBeLessThan(0.6);
  });

  it('holds the last voiced pitch through a pause and reports its level', () => {
    const voiced = harmonicTone(0.5, () => 200);
    const samples = new Float32Array(voiced.length + RATE / 2);
    samples.set(voiced);
    const track = prosodyOf(samples);
    const last = track.frames - 1;
    expect(track.voiced[last]).toBe(0);
    expect(hz(track.pitch[last]!)).toBeCloseTo(200, -1);
    expect(track.level[last]).toBe(-80);
    expect(track.level[5]).toBeGreaterThan(-30);
  });

  it('digital silence: no voiced frame, pitch 0, level at the floor', () => {
    const track = prosodyOf(new Float32Array(RATE));
    expect(track.voiced.every((v) => v === 0)).toBe(true);
    expect(track.pitch.every((p) => p === 0)).toBe(true);
    expect(track.level.every((l) => l === -80)).toBe(true);
  });

  it('measures level in dB of full scale: a full-scale sine is about −3 dB', () => {
    const sine = Float32Array.from({ length: RATE }, (_, i) => Math.sin((2 * Math.PI * 250 * i) / RATE));
    const track = prosodyOf(sine);
    expect(track.level[10]).toBeCloseTo(-3.01, 1);
    const scaled = extractProsody(
      sine.map((v) => v * 32768),
      RATE,
      frameSize,
      hopSize,
      track.frames,
      32768,
    );
    expect(scaled.level[10]).toBeCloseTo(track.level[10]!, 4);
  });

  it('gives a plausible speaking pitch on real speech (TESS)', async () => {
    const bytes = await readFile(resolve(import.meta.dirname, 'fixtures', 'tess', 'OAF_back_neutral.flac'));
    const decoded = await decodeAudio(bytes);
    const samples = resample(decoded.samples, decoded.sampleRate, RATE);
    const track = prosodyOf(samples);
    const voiced = Array.from(track.pitch).filter((_, f) => track.voiced[f]);
    expect(voiced.length / track.frames).toBeGreaterThan(0.3);
    const typical = hz(median(voiced));
    expect(typical).toBeGreaterThan(120);
    expect(typical).toBeLessThan(320);
  });
});

describe('feature config with prosody', () => {
  const config = { ...DEFAULT_FEATURE_CONFIG, prosody: true };

  it('adds 3 channels after the unchanged MFCCs', () => {
    expect(featureDimension(config)).toBe(43);
    const samples = harmonicTone(1, () => 180);
    const plain = createFeatureExtractor(DEFAULT_FEATURE_CONFIG).extract(samples);
    const rich = createFeatureExtractor(config).extract(samples);
    expect(rich.frames).toBe(plain.frames);
    expect(rich.dims).toBe(43);
    for (let f = 0; f < plain.frames; f++) {
      for (let d = 0; d < 40; d++) expect(rich.data[f * 43 + d]).toBe(plain.data[f * 40 + d]);
    }
    // Loudness is normalised before extraction: the level channel sits near the −20 dBFS target.
    expect(hz(rich.data[10 * 43 + 40]!)).toBeCloseTo(180, -1);
    expect(rich.data[10 * 43 + 42]).toBeGreaterThan(-26);
    expect(rich.data[10 * 43 + 42]).toBeLessThan(-14);
  });

  it('is optional in a package (older packages have none) and must be a boolean', () => {
    const { prosody: _, ...withoutProsody } = config;
    expect(parseFeatureConfig(withoutProsody).prosody).toBeUndefined();
    expect(parseFeatureConfig(config).prosody).toBe(true);
    expect(() => parseFeatureConfig({ ...config, prosody: 'yes' })).toThrow(/prosody/);
  });
});

describe('YIN computed lag by lag', () => {
  it('finds the same period and d′ as the full search, on every window of real and synthetic speech', async () => {
    // Prepare: TESS and RAVDESS clips at 16 kHz (the model's input), a pitch glide and noise.
    const clips = [
      'tess-OAF_gap_sad.flac',
      'tess-YAF_join_disgust.flac',
      'ravdess-03-01-03-02-02-01-06.flac',
    ];
    const signals = [harmonicTone(1.5, (t) => 90 + 300 * t), noise(1)];
    for (const name of clips) {
      const bytes = await readFile(resolve(import.meta.dirname, '../bench/clips', name));
      signals.push((await decodeAudio(new Uint8Array(bytes), { outputRate: RATE })).samples);
    }
    let windows = 0;
    let voiced = 0;
    for (const signal of signals) {
      const input = pitchInput(signal, RATE);
      const search = yinSearch(input.rate);
      // Act + Assess: every window start a frame can have (hop of 16 samples at ~4 kHz).
      for (let start = 0; start + search.span <= input.x.length; start += 16) {
        if (input.energy[start + search.window]! - input.energy[start]! <= 0) continue;
        const expected = referenceYinPeriod(input, start, search);
        expect(yinPeriod(input, start, search)).toEqual(expected);
        windows++;
        if (expected.period > 0) voiced++;
      }
    }
    expect(voiced).toBeGreaterThan(windows / 4); // both paths (early stop and full search) were exercised
    expect(voiced).toBeLessThan(windows);
  });
});
