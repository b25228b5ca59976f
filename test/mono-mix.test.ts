import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import wavefile from 'wavefile';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { createMonoCollector } from '../lambdas/core/audio/stream.ts';
import { createPredictor, type Predictor } from '../lambdas/core/predict.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';

const CLIP = join(import.meta.dirname, 'fixtures/tess-heldout/OAF_bar_angry.flac');

/** A 16-bit WAV of `left` and `right` interleaved. */
function stereoWav(left: Float32Array, right: Float32Array, sampleRate: number): Uint8Array {
  const toInt = (x: Float32Array) =>
    Int16Array.from(x, (v) => Math.round(Math.max(-1, Math.min(1, v)) * 32767));
  const wav = new wavefile.WaveFile();
  wav.fromScratch(2, sampleRate, '16', [toInt(left), toInt(right)]);
  return wav.toBuffer();
}

describe('mixing channels to mono when they cancel', () => {
  let predictor: Predictor;
  let voice: { samples: Float32Array; sampleRate: number };
  beforeAll(async () => {
    predictor = await createPredictor({ modelDir: DEFAULT_MODEL_DIR });
    voice = await decodeAudio(new Uint8Array(await readFile(CLIP)));
  });

  it('a WAV whose right channel is the left inverted is judged by its left channel, not as silence', async () => {
    const inverted = voice.samples.map((v) => -v);
    const same = await predictor.predict(stereoWav(voice.samples, voice.samples, voice.sampleRate));
    const opposite = await predictor.predict(stereoWav(voice.samples, inverted, voice.sampleRate));
    expect(opposite.emotion).toBe(same.emotion);
    expect(opposite.confidence).toBeCloseTo(same.confidence, 2);
  });

  it('a decoder stream does the same, chunk by chunk; channels that do not cancel are averaged as before', () => {
    const left = Float32Array.from({ length: 4096 }, (_, i) => 0.5 * Math.sin(i / 7));
    const quiet = left.map((v) => 0.1 * v);
    const mix = (right: Float32Array) => {
      const collector = createMonoCollector({ container: 'test', maxDurationSec: 60 });
      collector.take({
        channelData: [left, right],
        samplesDecoded: left.length,
        sampleRate: 16000,
        errors: [],
      });
      return collector.result().samples;
    };
    expect(mix(left.map((v) => -v))).toEqual(left);
    const averaged = mix(quiet);
    for (const [i, v] of averaged.entries()) expect(v).toBeCloseTo((left[i]! + quiet[i]!) / 2, 6);
  });
});
