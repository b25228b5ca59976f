import { beforeAll, describe, expect, it } from 'vitest';
import { LstmModel } from '../training/lstm.ts';
import { exportLstmToOnnx } from '../training/onnx-export.ts';
import { initTf, tf } from '../training/tf.ts';
import { batchProbabilities, syntheticClip, tinyLstmConfig } from './helpers/lstm-rows.ts';

const DIMS = 6;
const CONFIG = tinyLstmConfig(DIMS);

const clip = (seed: number, frames: number) => syntheticClip(seed, frames, DIMS);

const probabilities = batchProbabilities;

describe('attention pooling of the LSTM outputs (LstmConfig.pooling, round 21)', () => {
  beforeAll(async () => {
    await initTf();
  });

  it('starts as mean pooling, then weights the real steps only', () => {
    const rows = [clip(1, 14), clip(2, 7)];
    const mean = new LstmModel(CONFIG, 3);
    const attention = new LstmModel({ ...CONFIG, pooling: 'attention' }, 3);
    for (const m of [mean, attention]) m.setStatsNormalisation(rows);
    const before = probabilities(attention, rows);
    probabilities(mean, rows).forEach((p, i) => {
      expect(before[i]).toBeCloseTo(p, 6);
    });
    // A nonzero score vector moves the output; the short row's padding (steps past its 7 frames) does not.
    attention.variables.at(-1)!.assign(tf.tensor2d([3, -2, 1, 4], [4, 1]));
    const after = probabilities(attention, rows);
    expect(Math.max(...after.map((p, i) => Math.abs(p - before[i]!)))).toBeGreaterThan(1e-4);
    const alone = probabilities(attention, [rows[1]!]);
    alone.forEach((p, i) => {
      expect(after[3 + i]).toBeCloseTo(p, 6);
    });
    mean.dispose();
    attention.dispose();
  });

  it('is refused by the ONNX exporter until a round confirms it', () => {
    const model = new LstmModel({ ...CONFIG, pooling: 'attention' }, 3);
    model.setStatsNormalisation([clip(1, 10)]);
    expect(() => exportLstmToOnnx(model.weights(), { frames: 16, labels: ['a', 'b', 'c'] })).toThrow(
      /attention pooling/,
    );
    model.dispose();
  });
});
