import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import wavefile from 'wavefile';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { removeDcOffset } from '../lambdas/core/audio/trim.ts';
import { DEFAULT_FEATURE_CONFIG } from '../lambdas/core/features/config.ts';
import { chunkGains, loudnessGain } from '../lambdas/core/features/loudness.ts';
import { createPredictor } from '../lambdas/core/predict.ts';
import { clearFloorPauses } from '../lambdas/core/speech/pauses.ts';
import { createSpeechDetector, type FrameGains, speechRegions } from '../lambdas/core/speech/vad.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';
import { defaultDatasetDir } from '../training/datasets.ts';

const RATE = 16_000;
const ACTOR = join(defaultDatasetDir(), 'ravdess', 'Actor_05');

/**
 * The 2-minute "call" of the long-recording walk-through: 24 RAVDESS clips of one actor (calm and sad
 * ones among them) starting where the list says, silence between, and seeded low-passed noise under
 * everything. With one gain for the whole recording, quiet clips fell below WebRTC's VAD energy gates.
 */
const CALL: [string, number][] = [
  ['03-01-01-01-02-02-05', 0.0],
  ['03-01-05-01-02-02-05', 4.244],
  ['03-01-08-01-02-02-05', 10.398],
  ['03-01-04-02-02-02-05', 15.812],
  ['03-01-04-01-01-02-05', 19.828],
  ['03-01-07-01-01-02-05', 24.875],
  ['03-01-05-02-02-02-05', 30.499],
  ['03-01-08-02-02-02-05', 35.596],
  ['03-01-06-02-01-01-05', 40.713],
  ['03-01-06-02-02-01-05', 45.87],
  ['03-01-06-02-01-01-05', 51.006],
  ['03-01-01-01-02-01-05', 55.143],
  ['03-01-05-01-02-02-05', 60.056],
  ['03-01-05-01-01-01-05', 65.66],
  ['03-01-05-02-02-02-05', 71.391],
  ['03-01-06-02-01-02-05', 76.868],
  ['03-01-03-02-02-02-05', 81.188],
  ['03-01-01-01-01-02-05', 85.441],
  ['03-01-03-02-02-02-05', 89.848],
  ['03-01-06-02-01-01-05', 93.962],
  ['03-01-06-02-01-01-05', 98.238],
  ['03-01-03-02-02-02-05', 102.985],
  ['03-01-06-01-01-01-05', 108.378],
  ['03-01-08-01-02-02-05', 113.215],
];

async function noisyCall(noiseAmplitude: number) {
  const clips = await Promise.all(
    CALL.map(async ([name]) => {
      const bytes = new Uint8Array(readFileSync(join(ACTOR, `${name}.flac`)));
      return (await decodeAudio(bytes, { outputRate: RATE })).samples;
    }),
  );
  const samples = new Float32Array(Math.round(CALL.at(-1)![1] * RATE) + clips.at(-1)!.length);
  const truth = CALL.map(([, start], i) => {
    const at = Math.round(start * RATE);
    samples.set(clips[i]!, at);
    return { start, end: (at + clips[i]!.length) / RATE };
  });
  let seed = 7;
  let low = 0;
  for (let i = 0; i < samples.length; i++) {
    seed = (seed * 16807) % 2147483647;
    low = 0.97 * low + (seed / 2147483647 - 0.5); // white noise through a one-pole low-pass
    samples[i]! += noiseAmplitude * low;
  }
  removeDcOffset(samples);
  return { samples, truth };
}

/** Clips with ≥ 0.3 s of detected speech, and seconds of "speech" outside every clip. */
async function detect(noiseAmplitude: number, perChunk: boolean) {
  const { samples, truth } = await noisyCall(noiseAmplitude);
  const gain: number | FrameGains = perChunk
    ? { framesPerGain: 500, values: chunkGains(samples, DEFAULT_FEATURE_CONFIG, 10 * RATE, 3) }
    : loudnessGain(samples, DEFAULT_FEATURE_CONFIG);
  const regions = speechRegions((await createSpeechDetector()).detect(samples, RATE, gain));
  const overlap = (r: { startSec: number; endSec: number }, c: { start: number; end: number }) =>
    Math.max(0, Math.min(r.endSec, c.end) - Math.max(r.startSec, c.start));
  const found = truth.filter((c) => regions.some((r) => overlap(r, c) >= 0.3)).length;
  const outside = regions.reduce(
    (sum, r) => sum + r.endSec - r.startSec - truth.reduce((s, c) => s + overlap(r, c), 0),
    0,
  );
  return { found, outside };
}

/** 32-bit float mono WAV bytes of `samples` (the decoder reads float WAV as it is). */
function floatWav(samples: Float32Array): Uint8Array {
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, RATE, '32f', samples);
  return wav.toBuffer();
}

/** The predictor's segments of a recording, and those that do not lie inside one clip of `truth`. */
async function segmentsAcrossClips(samples: Float32Array, truth: { start: number; end: number }[]) {
  const predictor = await createPredictor({ modelDir: DEFAULT_MODEL_DIR });
  const result = await predictor.predict(floatWav(samples));
  await predictor.release();
  const segments = result.segments ?? [];
  const insideOneClip = (s: { startSec: number; endSec: number }) =>
    truth.some((c) => s.startSec >= c.start - 0.05 && s.endSec <= c.end + 0.05);
  return { segments, across: segments.filter((s) => !insideOneClip(s)) };
}

describe.skipIf(!existsSync(ACTOR))('voice activity in a long, noisy recording (RAVDESS, ../shared)', () => {
  it.each([0.0005, 0.001, 0.002, 0.004, 0.008])(
    'with noise at %s: a gain per 10 s finds at least the utterances one gain finds',
    async (noiseAmplitude) => {
      const one = await detect(noiseAmplitude, false);
      const chunked = await detect(noiseAmplitude, true);
      expect(chunked.found).toBeGreaterThanOrEqual(one.found);
    },
  );

  it('in light noise, the predictor gives more utterances a segment than one gain found at all', async () => {
    // Prepare
    const { samples, truth } = await noisyCall(0.001);
    const predictor = await createPredictor({ modelDir: DEFAULT_MODEL_DIR });

    // Act
    const result = await predictor.predict(floatWav(samples));
    const oneGain = await detect(0.001, false);
    await predictor.release();

    // Assess
    const segments = result.segments ?? [];
    const covered = truth.filter((c) => segments.some((s) => s.startSec < c.end && s.endSec > c.start));
    expect(covered.length).toBeGreaterThan(oneGain.found);
  });

  it('in heavy noise, no segment runs from one utterance into the next', async () => {
    // At this level WebRTC's VAD takes the whole recording for speech (77 windows, pauses too).
    const { samples, truth } = await noisyCall(0.012);

    const { segments, across } = await segmentsAcrossClips(samples, truth);

    expect(segments.length).toBeGreaterThan(12);
    expect(across).toEqual([]);
  });

  it('in light noise, where the VAD hears the pauses, clearing floor-level pauses moves no utterance', async () => {
    const { samples } = await noisyCall(0.001);
    const gain = { framesPerGain: 500, values: chunkGains(samples, DEFAULT_FEATURE_CONFIG, 10 * RATE, 3) };
    const flags = (await createSpeechDetector()).detect(samples, RATE, gain);
    const cleared = flags.slice();

    clearFloorPauses(samples, RATE, cleared, 0.6);

    const before = speechRegions(flags);
    const after = speechRegions(cleared);
    expect(after).toHaveLength(before.length);
    after.forEach((r, i) => {
      expect(Math.abs(r.startSec - before[i]!.startSec)).toBeLessThanOrEqual(0.2);
      expect(Math.abs(r.endSec - before[i]!.endSec)).toBeLessThanOrEqual(0.2);
    });
  });

  it('in heavy noise beside digital silence (a muted stretch), the floor is the noise, not the silence', async () => {
    // 30 s of zeros after the call are more than a tenth of its frames.
    const { samples: call, truth } = await noisyCall(0.012);
    const samples = new Float32Array(call.length + 30 * RATE);
    samples.set(call);

    const { segments, across } = await segmentsAcrossClips(samples, truth);

    expect(segments.length).toBeGreaterThan(12);
    expect(across).toEqual([]);
  });
});

describe('per-chunk VAD gains of a long recording', () => {
  it("stay between the whole recording's gain and 3 dB above it, loud stretch or quiet", () => {
    // 10 s of a loud tone, then 20 s of a quiet one: one gain for all of it is set by neither alone.
    const samples = Float32Array.from(
      { length: 30 * RATE },
      (_, i) => (i < 10 * RATE ? 0.5 : 0.02) * Math.sin((2 * Math.PI * 220 * i) / RATE),
    );
    const whole = loudnessGain(samples, DEFAULT_FEATURE_CONFIG);

    const gains = chunkGains(samples, DEFAULT_FEATURE_CONFIG, 10 * RATE, 3);

    expect(gains).toHaveLength(3);
    for (const gain of gains) {
      expect(gain).toBeGreaterThanOrEqual(whole);
      expect(gain).toBeLessThanOrEqual(whole * 10 ** (3 / 20) * (1 + 1e-12));
    }
    expect(gains[0]).toBe(whole); // the loud stretch: its own gain would be lower
  });
});
