import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../training/tf.ts';
import { trainToy } from './helpers/toy-training.ts';

beforeAll(async () => {
  await initTf();
});

describe('the epoch callback (how a training job reports progress while it trains)', () => {
  it("awaits each epoch's callback before the next epoch, so its I/O goes out during training", async () => {
    const written: number[] = [];
    const writtenWhenEpochEnded: number[][] = [];

    await trainToy({
      epochs: 3,
      onEpoch: async (record) => {
        writtenWhenEpochEnded.push([...written]);
        // A write that needs the event loop, like the job's DynamoDB update.
        await new Promise((resolve) => setTimeout(resolve, 20));
        written.push(record.epoch);
      },
    });

    expect(writtenWhenEpochEnded).toEqual([[], [1], [1, 2]]);
    expect(written).toEqual([1, 2, 3]);
  });
});
