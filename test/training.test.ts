import { describe, expect, it } from 'vitest';
import { augment, DEFAULT_AUGMENTATION, timeStretch } from '../training/augment.ts';
import { type Clip, parseClipName } from '../training/datasets.ts';
import type { ClipFeatures } from '../training/features.ts';
import { dedupe } from '../training/features.ts';
import { computeMetrics } from '../training/metrics.ts';
import { testSubsets } from '../training/pipeline.ts';
import { createRng } from '../training/random.ts';
import {
  assertNoLeak,
  multiCorpusSplit,
  randomSplit,
  speakerSplit,
  speakerValidation,
} from '../training/splits.ts';

describe('clip names', () => {
  it.each([
    [
      'tess/OAF_Fear/OAF_food_fear.flac',
      { corpus: 'tess', speaker: 'tess:OAF', text: 'food', emotion: 'fear' },
    ],
    ['tess/YAF_pleasant_surprised/YAF_back_ps.wav', { speaker: 'tess:YAF', emotion: 'surprise' }],
    ['x/OAF_Pleasant_surprise/OAF_bite_ps.flac', { speaker: 'tess:OAF', emotion: 'surprise' }],
    ['x/OAF_neutral/OA_bite_neutral.wav', { speaker: 'tess:OAF', text: 'bite', emotion: 'neutral' }],
    ['x/YAF_angry/YAF_germ_angry.wav', { speaker: 'tess:YAF', emotion: 'angry' }],
    ['Actor_07/03-01-08-02-01-02-07.flac', { corpus: 'ravdess', speaker: 'ravdess:07', emotion: 'surprise' }],
    ['Actor_07/03-01-06-01-02-01-07.wav', { corpus: 'ravdess', emotion: 'fear', text: 'statement-02' }],
    ['wav/03a01Wa.wav', { corpus: 'emodb', speaker: 'emodb:03', text: 'a01', emotion: 'angry' }],
    ['wav/16b10Td.wav', { corpus: 'emodb', emotion: 'sad' }],
    [
      'AudioWAV/1001_DFA_ANG_XX.wav',
      { corpus: 'cremad', speaker: 'cremad:1001', text: 'DFA', emotion: 'angry' },
    ],
    ['AudioWAV/1091_IEO_HAP_HI.wav', { corpus: 'cremad', emotion: 'happy' }],
  ])('%s', (path, expected) => {
    expect(parseClipName(path)).toMatchObject(expected);
  });

  it('skips labels that are not ours and rejects unknown names', () => {
    expect(parseClipName('Actor_01/03-01-02-01-01-01-01.wav')).toEqual({ skipped: 'ravdess calm' });
    expect(parseClipName('Actor_01/01-01-05-01-01-01-01.mp4')).toEqual({ skipped: 'ravdess video or song' });
    expect(parseClipName('wav/03a01La.wav')).toEqual({ skipped: 'emodb boredom' });
    expect(parseClipName('recording.wav')).toBeUndefined();
  });
});

const fake = (i: number, speaker: string, emotion: Clip['emotion'], corpus: Clip['corpus'] = 'tess') =>
  ({
    clip: { path: `/d/${speaker}/${i}.wav`, corpus, speaker, text: `w${i % 10}`, emotion },
    sampleHash: `h${speaker}${i}`,
  }) as ClipFeatures;

const EMO: Clip['emotion'][] = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad'];
const tessItems = Array.from({ length: 280 }, (_, i) =>
  fake(i, i % 2 ? 'tess:OAF' : 'tess:YAF', EMO[i % 7]!),
);

describe('splits', () => {
  it('random stratified split: 20 % of every emotion, seeded, no overlap', () => {
    const a = randomSplit('r', tessItems, 42);
    const b = randomSplit('r', tessItems, 42);
    expect(a.test.map((i) => i.clip.path)).toEqual(b.test.map((i) => i.clip.path));
    expect(a.test).toHaveLength(56);
    for (const e of EMO) expect(a.test.filter((i) => i.clip.emotion === e)).toHaveLength(8);
    expect(a.train.length + a.validation.length + a.test.length).toBe(280);
    assertNoLeak(a);
    expect(randomSplit('r', tessItems, 43).test.map((i) => i.clip.path)).not.toEqual(
      a.test.map((i) => i.clip.path),
    );
  });

  it('speaker split keeps the test speaker out of train and validation', () => {
    const s = speakerSplit('s', tessItems, ['tess:YAF'], 1);
    expect(s.test.every((i) => i.clip.speaker === 'tess:YAF')).toBe(true);
    expect([...s.train, ...s.validation].every((i) => i.clip.speaker === 'tess:OAF')).toBe(true);
  });

  it('multi-corpus split holds whole actors out', () => {
    const ravdess = Array.from({ length: 84 }, (_, i) =>
      fake(i, `ravdess:${(i % 4) + 1}`, EMO[i % 7]!, 'ravdess'),
    );
    const s = multiCorpusSplit('m', [...tessItems, ...ravdess], ['ravdess:4'], 3);
    expect([...s.train, ...s.validation].some((i) => i.clip.speaker === 'ravdess:4')).toBe(false);
    expect(s.test.filter((i) => i.clip.speaker === 'ravdess:4')).toHaveLength(21);
    expect(s.test.some((i) => i.clip.corpus === 'tess')).toBe(true);
    assertNoLeak(s);
  });

  it('multi-corpus split with no speaker held out (the shipped package): every other-corpus clip trains, TESS is the test', () => {
    const ravdess = Array.from({ length: 84 }, (_, i) =>
      fake(i, `ravdess:${(i % 4) + 1}`, EMO[i % 7]!, 'ravdess'),
    );
    const s = multiCorpusSplit('m', [...tessItems, ...ravdess], [], 3);
    expect(s.test.every((i) => i.clip.corpus === 'tess')).toBe(true);
    expect(s.test.map((i) => i.clip.path)).toEqual(
      multiCorpusSplit('m', [...tessItems, ...ravdess], ['ravdess:4'], 3)
        .test.filter((i) => i.clip.corpus === 'tess')
        .map((i) => i.clip.path),
    );
    expect([...s.train, ...s.validation].filter((i) => i.clip.corpus === 'ravdess')).toHaveLength(84);
    expect(s.description).toContain('no speaker held out');
    expect(Object.keys(testSubsets(['tess', 'ravdess'], []))).toEqual(['tess-random', 'all-test']);
    expect(Object.keys(testSubsets(['tess', 'ravdess'], ['ravdess:4']))).toEqual([
      'tess-random',
      'ravdess-heldout-actors',
      'all-test',
    ]);
    assertNoLeak(s);
  });

  it('speaker validation: the named voices validate and do not train, their corpus validates on nothing else, TESS keeps its part', () => {
    const ravdess = Array.from({ length: 84 }, (_, i) =>
      fake(i, `ravdess:${(i % 4) + 1}`, EMO[i % 7]!, 'ravdess'),
    );
    const plain = multiCorpusSplit('m', [...tessItems, ...ravdess], ['ravdess:4'], 3);
    const s = speakerValidation(plain, ['ravdess:1', 'ravdess:2']);
    const speakersOf = (items: typeof s.train, corpus: string) =>
      new Set(items.filter((i) => i.clip.corpus === corpus).map((i) => i.clip.speaker));
    expect(speakersOf(s.validation, 'ravdess')).toEqual(new Set(['ravdess:1', 'ravdess:2']));
    expect(s.validation.filter((i) => i.clip.corpus === 'ravdess')).toHaveLength(42);
    expect(speakersOf(s.train, 'ravdess')).toEqual(new Set(['ravdess:3']));
    expect(s.train.filter((i) => i.clip.corpus === 'ravdess')).toHaveLength(21);
    expect(s.validation.filter((i) => i.clip.corpus === 'tess')).toEqual(
      plain.validation.filter((i) => i.clip.corpus === 'tess'),
    );
    expect(s.test).toBe(plain.test);
    expect(s.train.length + s.validation.length).toBe(plain.train.length + plain.validation.length);
    assertNoLeak(s);
    expect(() => speakerValidation(plain, ['ravdess:4'])).toThrow(/no training clips/);
  });

  it('a duplicate clip cannot end up on both sides: dedupe first, and the leak check catches it', () => {
    const twin = { ...tessItems[0]!, clip: { ...tessItems[0]!.clip, path: '/z/copy.flac' } };
    const { kept, duplicates } = dedupe([...tessItems, twin]);
    expect(kept).toHaveLength(280);
    expect(duplicates).toHaveLength(1);
    const leaky = { name: 'x', description: '', train: [tessItems[0]!], validation: [], test: [twin] };
    expect(() => assertNoLeak(leaky)).toThrow(/leaks/);
  });
});

describe('augmentation', () => {
  const rate = 16000;
  const tone = Float32Array.from({ length: rate }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 200 * i) / rate));

  it('is deterministic for a seed and changes the audio', () => {
    const a = augment(tone, rate, DEFAULT_AUGMENTATION, createRng(9));
    const b = augment(tone, rate, DEFAULT_AUGMENTATION, createRng(9));
    expect(a.record).toEqual(b.record);
    expect(a.samples).toEqual(b.samples);
    expect(a.samples).not.toEqual(tone);
  });

  it('time stretch keeps the pitch and scales the length', () => {
    const out = timeStretch(tone, 1.2);
    expect(out.length).toBe(Math.round(tone.length * 1.2));
    // Zero crossings per second stay ~400 (200 Hz).
    let crossings = 0;
    for (let i = 1000; i < out.length - 1000; i++) if (out[i - 1]! < 0 && out[i]! >= 0) crossings++;
    expect(crossings / ((out.length - 2000) / rate)).toBeGreaterThan(190);
    expect(crossings / ((out.length - 2000) / rate)).toBeLessThan(210);
  });
});

describe('metrics', () => {
  it('matches a hand-computed classification report', () => {
    const m = computeMetrics(['a', 'b'], [0, 0, 0, 1], [0, 0, 1, 1]);
    expect(m.accuracy).toBe(0.75);
    expect(m.perClass.a).toEqual({ precision: 1, recall: 0.6667, f1: 0.8, support: 3 });
    expect(m.perClass.b).toEqual({ precision: 0.5, recall: 1, f1: 0.6667, support: 1 });
    expect(m.macroF1).toBe(0.7333);
    expect(m.weightedF1).toBe(0.7667);
    expect(m.confusion).toEqual([
      [2, 1],
      [0, 1],
    ]);
  });
});
