import { beforeAll, describe, expect, it } from 'vitest';
import { drawRowMix, mixRows } from '../training/mixup.ts';
import { betaSample, createRng } from '../training/random.ts';
import { initTf, tf } from '../training/tf.ts';

beforeAll(async () => {
  await initTf();
});

describe('mixup of the head rows', () => {
  it('mixes each row with its partner by its weight', () => {
    // Arrange
    const x = tf.tensor2d([1, 2, 10, 20, 100, 200], [3, 2]);
    const mix = { partner: Int32Array.from([1, 2, 0]), weight: Float32Array.from([1, 0.5, 0.75]) };

    // Act
    const mixed = mixRows(x, mix);

    // Assess
    expect(Array.from(mixed.dataSync())).toEqual([1, 2, 55, 110, 75.25, 150.5]);
  });

  it('passes gradients through to the rows (the training step differentiates it)', () => {
    const x = tf.variable(tf.tensor2d([1, 2, 3, 4], [2, 2]));
    const mix = { partner: Int32Array.from([1, 0]), weight: Float32Array.from([0.75, 1]) };
    const { grads } = tf.variableGrads(() => mixRows(x, mix).sum() as tf.Scalar, [x]);
    // Row 0 counts 0.75 (itself) + 0 (row 1 takes none of it); row 1 counts 1 + 0.25.
    expect(Array.from(grads[x.name]!.dataSync())).toEqual([0.75, 0.75, 1.25, 1.25]);
  });

  it('refuses an alpha whose gamma draws would underflow', () => {
    expect(() => drawRowMix(4, 0.01, createRng(1))).toThrow(RangeError);
    expect(() => drawRowMix(4, Number.NaN, createRng(1))).toThrow(RangeError);
  });

  it('draws a permutation of partners and weights that keep the larger share, reproducibly', () => {
    const a = drawRowMix(32, 0.4, createRng(7));
    const b = drawRowMix(32, 0.4, createRng(7));
    expect(a).toEqual(b);
    expect([...a.partner].sort((p, q) => p - q)).toEqual(Array.from({ length: 32 }, (_, i) => i));
    for (const w of a.weight) expect(w).toBeGreaterThanOrEqual(0.5);
    for (const w of a.weight) expect(w).toBeLessThanOrEqual(1);
  });

  it('samples Beta(a, b) with the right mean, below and above shape 1', () => {
    const rng = createRng(11);
    for (const [a, b] of [
      [0.4, 0.4],
      [2, 5],
    ] as const) {
      const n = 20_000;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += betaSample(rng, a, b);
      expect(sum / n).toBeCloseTo(a / (a + b), 2);
    }
  });
});
