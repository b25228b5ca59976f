import { describe, expect, it } from 'vitest';
import { applyTemperature, CalibrationSchema } from '../lambdas/core/model/calibration.ts';
import { ModelMetadataSchema } from '../lambdas/core/model/metadata.ts';
import { applyChannel, DEFAULT_CHANNEL, TEST_CHANNEL } from '../training/channel.ts';
import { calibrate } from '../training/folds.ts';
import { fitTemperature, largestClassShare, reliability } from '../training/metrics.ts';
import { createRng, gaussian } from '../training/random.ts';

const softmax = (logits: number[]) => {
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};

/** Rows drawn from a known model: true logits, labels sampled from them, reported logits × `overconfidence`. */
function synthetic(rows: number, overconfidence: number, seed = 1) {
  const rng = createRng(seed);
  const k = 5;
  const probabilities = new Float32Array(rows * k);
  const truth: number[] = [];
  for (let r = 0; r < rows; r++) {
    const logits = Array.from({ length: k }, () => 1.5 * gaussian(rng));
    const p = softmax(logits);
    let u = rng();
    let label = 0;
    while (label < k - 1 && u > p[label]!) u -= p[label++]!;
    truth.push(label);
    probabilities.set(softmax(logits.map((l) => l * overconfidence)), r * k);
  }
  return { probabilities, truth, k };
}

describe('temperature calibration', () => {
  it('keeps the winner and the sum, softens with T > 1, and is the identity at T = 1', () => {
    const p = Float32Array.from([0.7, 0.2, 0.1, 0.05, 0.9, 0.05]);
    const same = p.slice();
    applyTemperature(same, 3, 1);
    expect([...same]).toEqual([...p]);
    const soft = p.slice();
    applyTemperature(soft, 3, 2);
    expect(soft[0]!).toBeLessThan(0.7);
    expect(soft[0]!).toBeGreaterThan(soft[1]!);
    expect(soft[4]!).toBeGreaterThan(soft[3]!);
    expect(soft[0]! + soft[1]! + soft[2]!).toBeCloseTo(1, 6);
  });

  it('recovers the over-confidence of a model and removes most of its calibration error', () => {
    const { probabilities, truth, k } = synthetic(4000, 2.5);
    const t = fitTemperature(probabilities, truth, k);
    expect(t).toBeGreaterThan(2.1);
    expect(t).toBeLessThan(2.9);
    const fixed = probabilities.slice();
    applyTemperature(fixed, k, t);
    const before = reliability(probabilities, truth, k).ece;
    const after = reliability(fixed, truth, k).ece;
    expect(before).toBeGreaterThan(0.1);
    expect(after).toBeLessThan(0.03);
  });

  it('cross-fits per fold and reports the low-confidence share', () => {
    const { probabilities, truth, k } = synthetic(900, 2, 3);
    const folds = truth.map((_, i) => i % 3);
    const c = calibrate(probabilities, truth, folds, k);
    expect(c.eceCrossFitted).toBeLessThan(c.eceBefore);
    expect(c.lowConfidence.share).toBeGreaterThan(0);
    expect(c.lowConfidence.accuracy).toBeLessThan(0.6);
  });

  it('is optional in metadata and validated when present', () => {
    expect(
      CalibrationSchema.parse({ method: 'temperature', temperature: 1.4, lowConfidenceBelow: 0.5 }),
    ).toMatchObject({ temperature: 1.4 });
    expect(() =>
      CalibrationSchema.parse({ method: 'temperature', temperature: -1, lowConfidenceBelow: 0.5 }),
    ).toThrow();
    expect(ModelMetadataSchema.shape.calibration.isOptional()).toBe(true);
  });
});

describe('collapse detector', () => {
  it('weights every true class equally and finds the class that takes the most', () => {
    // 3 classes; class 1 has 10× the clips of the others but the model predicts 0 for everything it is unsure of.
    const confusion = [
      [10, 0, 0],
      [50, 50, 0],
      [6, 0, 4],
    ];
    const { label, share } = largestClassShare(confusion);
    expect(label).toBe(0);
    expect(share).toBeCloseTo((1 + 0.5 + 0.6) / 3, 4);
    expect(
      largestClassShare([
        [5, 0],
        [0, 5],
      ]).share,
    ).toBeCloseTo(0.5, 6);
  });
});

describe('channel augmentation', () => {
  const voice = Float32Array.from(
    { length: 24000 },
    (_, i) => 0.2 * Math.sin(i * 0.05) * (1 + Math.sin(i * 0.0009)),
  );

  it('is reproducible from its seed and yields finite audio', () => {
    for (const spec of [DEFAULT_CHANNEL, TEST_CHANNEL]) {
      const a = applyChannel(voice, 16000, spec, createRng(11));
      const b = applyChannel(voice, 16000, spec, createRng(11));
      expect(a.record).toEqual(b.record);
      expect([...a.samples]).toEqual([...b.samples]);
      expect(a.samples.every(Number.isFinite)).toBe(true);
      expect(a.samples.length).toBeGreaterThanOrEqual(voice.length);
    }
  });

  it('a phone line removes the energy above 4 kHz', () => {
    const spec = {
      ...TEST_CHANNEL,
      reverbProbability: 0,
      eqProbability: 0,
      noiseProbability: 0,
      clipProbability: 0,
      telephoneProbability: 1,
    };
    const rng = createRng(5);
    const hiss = Float32Array.from({ length: 16000 }, () => 0.1 * gaussian(rng));
    const out = applyChannel(hiss, 16000, spec, createRng(2)).samples;
    // Energy of the first difference (a high-pass): white noise keeps much of it, the 3.4 kHz band little.
    const diffEnergy = (x: Float32Array) =>
      x.slice(1).reduce((s, v, i) => s + (v - x[i]!) ** 2, 0) / x.length;
    const energy = (x: Float32Array) => x.reduce((s, v) => s + v * v, 0) / x.length;
    expect(diffEnergy(out) / energy(out)).toBeLessThan(0.5 * (diffEnergy(hiss) / energy(hiss)));
  });
});
