import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../training/tf.ts';
import { createWeightAverage } from '../training/trainer.ts';
import { trainToy } from './helpers/toy-training.ts';

beforeAll(async () => {
  await initTf();
});

describe('weight averaging (TrainOptions.averageFrom, round 29)', () => {
  it('keeps the mean of the snapshots it is given', () => {
    const average = createWeightAverage();
    expect(average.mean()).toBeUndefined();
    average.add([Float32Array.from([1, 2]), Float32Array.from([10])]);
    average.add([Float32Array.from([2, 4]), Float32Array.from([-10])]);
    average.add([Float32Array.from([3, 0]), Float32Array.from([3])]);
    expect(average.count).toBe(3);
    expect(average.mean()!.map((w) => Array.from(w))).toEqual([[2, 2], [1]]);
  });

  it('ends training with the mean of the weights after each epoch from averageFrom on', async () => {
    // Without validation clips every epoch counts as the best, so an n-epoch run ends with the weights
    // the longer runs had after epoch n (same seed, same batches).
    const second = await trainToy({ epochs: 2 }, 3, false);
    const third = await trainToy({ epochs: 3 }, 3, false);
    const averaged = await trainToy({ epochs: 3, averageFrom: 2 }, 3, false);

    expect(averaged.result.averagedEpochs).toBe(2);
    expect(averaged.losses).toEqual(third.losses);
    expect(third.weights).not.toEqual(second.weights);
    for (const [i, w] of averaged.weights.entries())
      expect(w).toBeCloseTo((second.weights[i]! + third.weights[i]!) / 2, 6);
  });

  it('without averageFrom, or when training ends before it, keeps the best epoch as before', async () => {
    const plain = await trainToy({ epochs: 3 });
    expect(plain.result.averagedEpochs).toBeUndefined();
    const tooLate = await trainToy({ epochs: 3, averageFrom: 4 });
    expect(tooLate.result.averagedEpochs).toBe(0);
    expect(tooLate.weights).toEqual(plain.weights);
  });
});
