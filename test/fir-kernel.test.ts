import { describe, expect, it } from 'vitest';
import { FIR_BATCH, FirKernel } from '../lambdas/core/audio/fir-kernel.ts';

/** A seeded stream of values in [-1, 1) (xorshift32), so a failure can be replayed. */
const seeded = (seed: number) => {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 31 - 1;
  };
};

describe('the resampler SIMD kernel', () => {
  it('computes each output as the dot product of its bank row and input span', () => {
    // Prepare: 3 phases of 16 taps, 500 input samples, outputs at arbitrary rows and starts.
    const random = seeded(7);
    const taps = 16;
    const bank = { taps, coefficients: Float32Array.from({ length: 3 * taps }, random) };
    const input = Float32Array.from({ length: 500 }, random);
    const kernel = new FirKernel();
    kernel.load(bank, input);
    const outputs = Array.from({ length: 300 }, (_, i) => ({
      row: (i % 3) * taps,
      start: (i * 37) % (500 - taps),
    }));
    outputs.forEach(({ row, start }, i) => {
      kernel.pairs[2 * i] = row;
      kernel.pairs[2 * i + 1] = start;
    });

    // Act
    const values = Array.from(kernel.run(outputs.length));

    // Assess: float64 sums of the same products, to float32 rounding.
    const expected = outputs.map(({ row, start }) => {
      let sum = 0;
      for (let k = 0; k < taps; k++) sum += bank.coefficients[row + k]! * input[start + k]!;
      return sum;
    });
    for (const [i, v] of values.entries()) expect(v).toBeCloseTo(expected[i]!, 5);
  });

  it('keeps working when a larger bank and input make its memory grow, and a batch is full', () => {
    // Prepare: a bank and input far larger than the module's first 64 KB page.
    const random = seeded(11);
    const taps = 384;
    const bank = { taps, coefficients: Float32Array.from({ length: 64 * taps }, random) };
    const input = Float32Array.from({ length: 100_000 }, random);
    const kernel = new FirKernel();
    kernel.load({ taps: 8, coefficients: new Float32Array(8).fill(1) }, new Float32Array(16).fill(0.5));
    kernel.pairs[0] = 0;
    kernel.pairs[1] = 0;
    expect(kernel.run(1)[0]).toBe(4);
    kernel.load(bank, input);
    for (let i = 0; i < FIR_BATCH; i++) {
      kernel.pairs[2 * i] = (i % 64) * taps;
      kernel.pairs[2 * i + 1] = i * 20;
    }

    // Act
    const values = kernel.run(FIR_BATCH);

    // Assess: the last output of the batch, against float64.
    const last = FIR_BATCH - 1;
    let sum = 0;
    for (let k = 0; k < taps; k++) sum += bank.coefficients[(last % 64) * taps + k]! * input[last * 20 + k]!;
    expect(values).toHaveLength(FIR_BATCH);
    expect(values[last]).toBeCloseTo(sum, 4);
  });
});
