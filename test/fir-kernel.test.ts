import { describe, expect, it } from 'vitest';
import { FIR_BATCH, FirKernel, type RenderPosition } from '../lambdas/core/audio/fir-kernel.ts';
import { filterBank } from '../lambdas/core/audio/resample.ts';

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

/** The outputs the kernel should give, placed and summed in float64 as the former JavaScript loop did. */
function expectedOutputs(from: number, to: number, input: Float32Array, at: RenderPosition, limit: number) {
  const { phases, taps, firstOffset, coefficients } = filterBank(from, to);
  const values: number[] = [];
  let { base, remainder } = at;
  while (values.length < limit) {
    let phase = Math.round(remainder * (phases / to));
    let start = base + firstOffset;
    if (phase === phases) {
      phase = 0;
      start++;
    }
    if (start < 0 || start + taps > at.received) break;
    let sum = 0;
    for (let k = 0; k < taps; k++) sum += coefficients[phase * taps + k]! * input[start - at.keptFrom + k]!;
    values.push(sum);
    base += at.baseStep;
    remainder += at.remainderStep;
    if (remainder >= to) {
      remainder -= to;
      base++;
    }
  }
  return { values, base, remainder };
}

const positionFor = (from: number, to: number, input: Float32Array, base: number): RenderPosition => {
  const baseStep = Math.floor(from / to);
  return {
    base,
    remainder: 0,
    to,
    baseStep,
    remainderStep: from - baseStep * to,
    keptFrom: 0,
    received: input.length,
  };
};

describe('the resampler SIMD kernel', () => {
  it.each([
    [48000, 16000],
    [24414, 16000],
    [44100, 16000],
    [8000, 16000],
  ])(
    'places and computes every output inside the input as the float64 loop does (%i → %i Hz)',
    (from, to) => {
      // Prepare: 20 000 input samples, a position past the leading edge.
      const random = seeded(from);
      const input = Float32Array.from({ length: 20_000 }, random);
      const kernel = new FirKernel();
      kernel.load(filterBank(from, to), input);
      const at = positionFor(from, to, input, 100);

      // Act: more outputs than the input holds, so the run stops at the trailing edge.
      const run = kernel.render(at, FIR_BATCH);
      const expected = expectedOutputs(from, to, input, at, FIR_BATCH);

      // Assess
      expect(run.values.length).toBe(expected.values.length);
      expect(run.values.length).toBeGreaterThan(0);
      for (const [i, v] of run.values.entries()) expect(v).toBeCloseTo(expected.values[i]!, 5);
      expect([run.base, run.remainder]).toEqual([expected.base, expected.remainder]);
    },
  );

  it('writes nothing for an output whose taps start before the input (the caller replicates the edge)', () => {
    const input = new Float32Array(1000).fill(0.5);
    const kernel = new FirKernel();
    kernel.load(filterBank(48000, 16000), input);

    const run = kernel.render(positionFor(48000, 16000, input, 0), FIR_BATCH);

    expect(run.values).toHaveLength(0);
    expect([run.base, run.remainder]).toEqual([0, 0]);
  });

  it('keeps working when a larger bank and input make its memory grow', () => {
    // Prepare: a small bank first, then 384 kHz → 16 kHz (the largest taps) over 200 000 samples.
    const random = seeded(3);
    const small = Float32Array.from({ length: 2000 }, random);
    const large = Float32Array.from({ length: 200_000 }, random);
    const kernel = new FirKernel();
    kernel.load(filterBank(24414, 16000), small);
    kernel.render(positionFor(24414, 16000, small, 100), 10);
    kernel.load(filterBank(384000, 16000), large);
    const at = positionFor(384000, 16000, large, 1000);

    // Act
    const run = kernel.render(at, FIR_BATCH);

    // Assess: a full batch, its last output as in float64.
    const expected = expectedOutputs(384000, 16000, large, at, FIR_BATCH);
    expect(run.values).toHaveLength(FIR_BATCH);
    expect(run.values[FIR_BATCH - 1]).toBeCloseTo(expected.values[FIR_BATCH - 1]!, 5);
  });
});
