import { describe, expect, it } from 'vitest';
import { speechSpectralFlatness } from '../lambdas/core/speech/flatness.ts';
import {
  createSpeechDetector,
  speechRegions,
  speechWithin,
  VAD_FRAME_SEC,
} from '../lambdas/core/speech/vad.ts';
import { planWindows } from '../lambdas/core/speech/windows.ts';

const RATE = 16_000;

/** A voiced, vowel-like sound (harmonics of a gliding pitch) between `from` and `to` seconds. */
function voicedBetween(seconds: number, from: number, to: number): Float32Array {
  const out = new Float32Array(seconds * RATE);
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    const t = i / RATE;
    phase += (2 * Math.PI * (130 + 30 * Math.sin(t * 5))) / RATE;
    if (t >= from && t < to) {
      out[i] = 0.3 * Math.sin(phase) + 0.2 * Math.sin(2 * phase) + 0.1 * Math.sin(3 * phase);
    }
  }
  return out;
}

function whiteNoise(seconds: number, amplitude: number): Float32Array {
  let seed = 11;
  return Float32Array.from({ length: seconds * RATE }, () => {
    seed = (seed * 16807) % 2147483647;
    return amplitude * (seed / 2147483647 - 0.5);
  });
}

const flagsOf = (pattern: string): Uint8Array => Uint8Array.from(pattern, (c) => (c === '1' ? 1 : 0));

describe('WebRTC voice-activity detection', () => {
  it('finds no speech in digital silence', async () => {
    const detector = await createSpeechDetector();
    const flags = detector.detect(new Float32Array(2 * RATE), RATE);
    expect(flags.length).toBe(2 / VAD_FRAME_SEC);
    expect(speechRegions(flags)).toEqual([]);
  });

  it('finds a voiced second in the middle of silence', async () => {
    const detector = await createSpeechDetector();
    const [region, ...rest] = speechRegions(detector.detect(voicedBetween(3, 1, 2), RATE));
    expect(rest).toEqual([]);
    expect(region!.startSec).toBeGreaterThanOrEqual(0.9);
    expect(region!.startSec).toBeLessThanOrEqual(1.1);
    // WebRTC's VAD keeps a short hangover after speech ends
    expect(region!.endSec).toBeGreaterThanOrEqual(1.9);
    expect(region!.endSec).toBeLessThanOrEqual(2.3);
  });

  it('is reset between clips: the same clip gives the same flags', async () => {
    const detector = await createSpeechDetector();
    const clip = voicedBetween(2, 0.5, 1.5);
    const first = detector.detect(clip, RATE);
    detector.detect(whiteNoise(1, 0.5), RATE);
    expect(detector.detect(clip, RATE)).toEqual(first);
  });
});

describe('speechRegions', () => {
  it('bridges pauses up to 0.3 s and drops bursts under 0.1 s', () => {
    // 20 ms frames: 10 speech, 10 pause (0.2 s, bridged), 10 speech, 30 pause (0.6 s), 3 speech (60 ms, dropped)
    const flags = flagsOf(`${'1'.repeat(10)}${'0'.repeat(10)}${'1'.repeat(10)}${'0'.repeat(30)}111`);
    expect(speechRegions(flags)).toEqual([{ startSec: 0, endSec: 0.6 }]);
  });

  it('measures speech inside an interval', () => {
    const regions = [
      { startSec: 0, endSec: 1 },
      { startSec: 2, endSec: 3 },
    ];
    expect(speechWithin(regions, 0.5, 2.5)).toBeCloseTo(1);
    expect(speechWithin(regions, 1, 2)).toBe(0);
  });
});

describe('spectral flatness gate', () => {
  it('tells a voice (harmonic) from white noise (flat)', () => {
    const all = [{ startSec: 0, endSec: 2 }];
    expect(speechSpectralFlatness(voicedBetween(2, 0, 2), RATE, all)).toBeLessThan(0.2);
    expect(speechSpectralFlatness(whiteNoise(2, 0.8), RATE, all)).toBeGreaterThan(0.8);
  });
});

describe('planWindows', () => {
  const speech = (startSec: number, endSec: number) => ({ startSec, endSec });

  it('scores an utterance that fits the model window as one window, padded by 0.1 s', () => {
    const windows = planWindows([speech(0.3, 1.2), speech(1.5, 2.4)], 3, 3);
    expect(windows).toEqual([
      { startSec: expect.closeTo(0.2, 9), endSec: 2.5, speechSec: expect.closeTo(1.8, 6) },
    ]);
  });

  it('covers a long utterance with half-overlapping windows, the last aligned to its end', () => {
    const windows = planWindows([speech(0.1, 9.9)], 10, 3);
    expect(windows.map((w) => w.startSec)).toEqual([0, 1.5, 3, 4.5, 6, 7]);
    expect(windows.at(-1)!.endSec).toBe(10);
  });

  it('scores utterances separated by a long pause separately and never the pause', () => {
    const windows = planWindows([speech(1, 3), speech(8, 10)], 12, 3);
    expect(windows.map((w) => [w.startSec, w.endSec].map((t) => Math.round(t * 100) / 100))).toEqual([
      [0.9, 3.1],
      [7.9, 10.1],
    ]);
  });

  it('drops a short burst when there is a real utterance, keeps it when it is all there is', () => {
    expect(planWindows([speech(1, 1.2), speech(5, 7)], 10, 3)).toHaveLength(1);
    expect(planWindows([speech(1, 1.3)], 10, 3)).toEqual([
      { startSec: 0.9, endSec: expect.closeTo(1.4, 9), speechSec: expect.closeTo(0.3, 6) },
    ]);
  });
});
