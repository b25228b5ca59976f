import type { FeatureMatrix } from '../../lambdas/core/features/extract.ts';
import { padBatch } from '../../training/batches.ts';
import type { LstmModel } from '../../training/lstm.ts';
import { tf } from '../../training/tf.ts';

/** A raw clip of `dims` channels that move differently (so every statistic is non-trivial). */
export function syntheticClip(seed: number, frames: number, dims: number): FeatureMatrix {
  const data = Float32Array.from({ length: frames * dims }, (_, i) => Math.sin(i * 0.37 + seed) * (1 + seed));
  return { frames, dims, data };
}

/** The model's probabilities for `rows` zero-padded into one batch, as training pads them. */
export function batchProbabilities(
  model: LstmModel,
  rows: FeatureMatrix[],
  offsets?: Float32Array,
): number[] {
  const { dims, stack } = model.config;
  const { data, time, frames } = padBatch(rows, dims, stack);
  return Array.from(model.predict(tf.tensor3d(data, [rows.length, time, dims]), frames, offsets).dataSync());
}

/** The small LSTM the unit tests build (with in-model utterance statistics), before each test's own options. */
export const tinyLstmConfig = (dims: number) => ({
  dims,
  stack: 2,
  units: 4,
  hidden: 8,
  labels: 3,
  dropout: 0,
  utteranceStats: true,
});
