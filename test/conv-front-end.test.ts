import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FEATURE_CONFIG } from '../lambdas/core/features/config.ts';
import { createFeatureExtractor } from '../lambdas/core/features/extract.ts';
import { conv3x3Same, inverseDctMatrix, LstmModel } from '../training/lstm.ts';
import { exportLstmToOnnx } from '../training/onnx-export.ts';
import { initTf, tf } from '../training/tf.ts';
import { batchProbabilities, syntheticClip, tinyLstmConfig } from './helpers/lstm-rows.ts';

const BANDS = 8;
const DIMS = BANDS + 2;
const CONFIG = {
  ...tinyLstmConfig(DIMS),
  frontEnd: { bands: BANDS, channels: 3, pool: 4 },
};

const clip = (seed: number, frames: number) => syntheticClip(seed, frames, DIMS);

const probabilities = batchProbabilities;

describe('the conv front end over log-mel (LstmConfig.frontEnd, round 26)', () => {
  beforeAll(async () => {
    await initTf();
  });

  it("recovers the extractor's log-mel bands from its MFCCs by the inverse DCT", () => {
    const config = { ...DEFAULT_FEATURE_CONFIG, mfccCoefficients: 40, prosody: false };
    const samples = Float32Array.from(
      { length: 32000 },
      (_, i) => 0.3 * Math.sin(i * 0.05) * Math.sin(i * 0.0007),
    );
    const mfcc = createFeatureExtractor({ ...config, kind: 'mfcc' }).extract(samples);
    const logMel = createFeatureExtractor({ ...config, kind: 'logmel' }).extract(samples);
    const recovered = tf
      .tensor2d(mfcc.data, [mfcc.frames, 40])
      .matMul(tf.tensor2d(inverseDctMatrix(40), [40, 40]));
    const error = recovered
      .sub(tf.tensor2d(logMel.data, [logMel.frames, 40]))
      .abs()
      .max()
      .dataSync()[0]!;
    expect(error).toBeLessThan(1e-4);
    expect(Math.max(...logMel.data.map(Math.abs))).toBeGreaterThan(1);
  });

  it('convolves as tf.conv2d does (same padding, kernel [3, 3, 1, C])', () => {
    const image = tf.randomNormal([2, 7, 8], 0, 1, 'float32', 3) as tf.Tensor3D;
    const kernel = tf.randomNormal([3, 3, 1, 5], 0, 1, 'float32', 4) as tf.Tensor4D;
    const reference = tf.conv2d(image.reshape([2, 7, 8, 1]) as tf.Tensor4D, kernel, 1, 'same');
    expect(conv3x3Same(image, kernel).sub(reference).abs().max().dataSync()[0]).toBeLessThan(1e-5);
  });

  it('feeds the LSTM: zeroing the convolution changes the output', () => {
    const rows = [clip(1, 14), clip(2, 8)];
    const model = new LstmModel(CONFIG, 3);
    model.setStatsNormalisation(rows);
    const before = probabilities(model, rows);
    const weights = model.weights();
    model.setWeights({
      ...weights,
      convKernel: new Float32Array(weights.convKernel!.length),
      convBias: new Float32Array(weights.convBias!.length),
    });
    const after = probabilities(model, rows);
    expect(Math.max(...after.map((p, i) => Math.abs(p - before[i]!)))).toBeGreaterThan(1e-4);
    model.dispose();
  });

  it('gives a row the same output alone (no padding) as padded in a batch', () => {
    const rows = [clip(1, 14), clip(2, 8)];
    const model = new LstmModel(CONFIG, 3);
    model.setStatsNormalisation(rows);
    model.variables.at(-1)!.assign(tf.tensor1d([0.5, -0.2, 1])); // a bias: padded frames are not zero before the mask
    const batched = probabilities(model, rows);
    probabilities(model, [rows[1]!]).forEach((p, i) => {
      expect(batched[3 + i]).toBeCloseTo(p, 6);
    });
    model.dispose();
  });

  it('is refused by the ONNX exporter until a round confirms it', () => {
    const model = new LstmModel(CONFIG, 3);
    model.setStatsNormalisation([clip(1, 10)]);
    expect(() => exportLstmToOnnx(model.weights(), { frames: 16, labels: ['a', 'b', 'c'] })).toThrow(
      /front end/,
    );
    model.dispose();
  });
});
