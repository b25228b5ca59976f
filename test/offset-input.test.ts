import { beforeAll, describe, expect, it } from 'vitest';
import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import { offsetBatch, window } from '../training/batches.ts';
import type { ClipFeatures } from '../training/features.ts';
import { LstmModel } from '../training/lstm.ts';
import { initTf } from '../training/tf.ts';
import { lstmLearner, predictClips } from '../training/trainer.ts';
import { batchProbabilities, syntheticClip, tinyLstmConfig } from './helpers/lstm-rows.ts';

const DIMS = 6;
const CONFIG = {
  ...tinyLstmConfig(DIMS),
  deltaStats: true,
  offsetInput: 2,
};

const clip = (seed: number, frames = 12) => syntheticClip(seed, frames, DIMS);

const withOffset = (m: FeatureMatrix, offset: number[]) => ({ ...m, offset: Float32Array.from(offset) });

const probabilities = batchProbabilities;

describe('the speaker offset as a head input (LstmConfig.offsetInput)', () => {
  beforeAll(async () => {
    await initTf();
  });

  it('offset 0 is the no-context input; a nonzero offset changes the output', () => {
    const model = new LstmModel(CONFIG, 3);
    const rows = [clip(1), clip(2, 9)];
    model.setStatsNormalisation([withOffset(rows[0]!, [2, -1]), withOffset(rows[1]!, [-2, 1]), rows[0]!]);
    const none = probabilities(model, rows);
    expect(probabilities(model, rows, new Float32Array(4))).toEqual(none);
    const moved = probabilities(model, rows, Float32Array.from([3, -2, 0, 0]));
    expect(Math.max(...moved.slice(0, 3).map((p, i) => Math.abs(p - none[i]!)))).toBeGreaterThan(1e-4);
    expect(moved.slice(3)).toEqual(none.slice(3)); // rows are independent
    model.dispose();
  });

  it('divides offsets by the RMS of the training rows offsets (rows without one count as 0), not centred', () => {
    const model = new LstmModel(CONFIG, 3);
    model.setStatsNormalisation([withOffset(clip(1), [2, 0]), withOffset(clip(2), [-2, 0]), clip(3)]);
    const { offsetStd, dense1 } = model.weights();
    expect(offsetStd![0]).toBeCloseTo(Math.sqrt(8 / 3), 5);
    expect(offsetStd![1]).toBe(1); // never varied in training: left unscaled rather than blown up
    expect(dense1.length).toBe((4 + 3 * DIMS + 2) * 8);
    model.dispose();
  });

  it('windows and batches carry the offset; predictClips feeds it (and zeros for clips without one)', () => {
    const source = withOffset(clip(4, 20), [1.5, -0.5]);
    expect(Array.from(window(source, 3, 10, false).offset!)).toEqual([1.5, -0.5]);
    expect(Array.from(offsetBatch([source, clip(5)])!)).toEqual([1.5, -0.5, 0, 0]);
    expect(offsetBatch([clip(5), clip(6)])).toBeUndefined();
    const learner = lstmLearner(CONFIG, 16, 5);
    learner.model.setStatsNormalisation([source, withOffset(clip(1), [-1, 1]), clip(2, 14), clip(3, 9)]);
    const item = (original: FeatureMatrix) => ({ original }) as unknown as ClipFeatures;
    const [withIt, without, zero] = [source, clip(4, 20), withOffset(clip(4, 20), [0, 0])].map((m) =>
      Array.from(predictClips(learner, [item(m)], 3)),
    );
    expect(without).toEqual(zero);
    expect(withIt).not.toEqual(without);
    learner.model.dispose();
  });
});
