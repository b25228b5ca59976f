/**
 * Per-clip statistics and the small classifiers over them, shared by the per-clip probes (rounds 34 and
 * 35): what the model's graph computes from a clip's frames, reduced to one row, and a seeded softmax
 * regression or MLP on such rows.
 */
import { type FeatureMatrix, frameStatistics } from '../lambdas/core/features/extract.ts';
import { DEFAULT_CHANNEL } from './channel.ts';
import { EMOTIONS, scanDataset } from './datasets.ts';
import { type ClipFeatures, createFeaturePipeline, dedupe } from './features.ts';
import { DEFAULTS } from './pipeline.ts';
import { tf } from './tf.ts';

const CONTOURS = 3;
const RAVDESS_CHANNEL_COPIES = 2;

/** The raw (un-normalised) features the recipe's statistics are computed from. */
export const RECIPE_FEATURE_CONFIG = { ...DEFAULTS.featureConfig, normalization: 'none' as const };

/** The recipe's cached clips: develop.ts with the 1.6.0 recipe's options (copies of every kind). */
export async function recipeClipFeatures(data: string): Promise<ClipFeatures[]> {
  const scan = await scanDataset(data, ['tess', 'ravdess']);
  const pipeline = await createFeaturePipeline({
    config: RECIPE_FEATURE_CONFIG,
    augmentCopies: 8,
    augmentation: { ...DEFAULTS.augmentation, spectralScale: [0.8, 1.25] },
    seed: DEFAULTS.seed,
    channel: DEFAULT_CHANNEL,
    channelCopies: RAVDESS_CHANNEL_COPIES,
    corpusCopies: { tess: { augment: 4, channel: 1 } },
  });
  const { items } = await pipeline.run(scan.clips);
  return dedupe(items).kept.map((i) =>
    i.clip.corpus === 'ravdess' ? { ...i, channel: i.channel.slice(0, RAVDESS_CHANNEL_COPIES) } : i,
  );
}

/** What the graph computes per clip: mean, std, delta RMS of every channel; range and change of the contours. */
export function graphStatistics(m: FeatureMatrix): number[] {
  const { mean, std } = frameStatistics(m.data, m.frames, m.dims);
  const delta = new Float64Array(m.dims);
  for (let d = 0; d < m.dims; d++) {
    let sum = 0;
    for (let f = 1; f < m.frames; f++) sum += (m.data[f * m.dims + d]! - m.data[(f - 1) * m.dims + d]!) ** 2;
    delta[d] = Math.sqrt(sum / Math.max(1, m.frames - 1));
  }
  const contours: number[] = [];
  for (let d = m.dims - CONTOURS; d < m.dims; d++) {
    const values = Array.from({ length: m.frames }, (_, f) => m.data[f * m.dims + d]!);
    const centre = (m.frames - 1) / 2;
    const meanValue = values.reduce((a, b) => a + b, 0) / (values.length || 1);
    let sxy = 0;
    let sxx = 0;
    values.forEach((v, f) => {
      sxy += (f - centre) * (v - meanValue);
      sxx += (f - centre) ** 2;
    });
    contours.push(Math.max(...values) - Math.min(...values), sxx > 0 ? (sxy / sxx) * m.frames : 0);
  }
  return [...mean, ...std, ...delta, ...contours];
}

/** Column means and standard deviations of the training rows (a constant column keeps scale 1). */
export function standardiser(rows: number[][]): (row: number[]) => number[] {
  const dims = rows[0]!.length;
  const mean = new Float64Array(dims);
  const scale = new Float64Array(dims);
  for (let d = 0; d < dims; d++) {
    const column = rows.map((r) => (Number.isFinite(r[d]!) ? r[d]! : 0));
    mean[d] = column.reduce((a, b) => a + b, 0) / column.length;
    const sd = Math.sqrt(column.reduce((a, b) => a + (b - mean[d]!) ** 2, 0) / column.length);
    scale[d] = sd > 1e-9 ? 1 / sd : 1;
  }
  return (row) => row.map((v, d) => ((Number.isFinite(v) ? v : 0) - mean[d]!) * scale[d]!);
}

/** Softmax regression or an MLP (64 ReLU, dropout 0.3), L2 1e-3, Adam; seeded weights and dropout. */
export function statsClassifier(kind: 'linear' | 'mlp', dims: number, seed: number) {
  const net = tf.sequential();
  const l2 = tf.regularizers.l2({ l2: 1e-3 });
  if (kind === 'mlp') {
    net.add(
      tf.layers.dense({
        inputShape: [dims],
        units: 64,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
        kernelRegularizer: l2,
      }),
    );
    net.add(tf.layers.dropout({ rate: 0.3, seed }));
  }
  net.add(
    tf.layers.dense({
      ...(kind === 'linear' ? { inputShape: [dims] } : {}),
      units: EMOTIONS.length,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      kernelRegularizer: l2,
    }),
  );
  net.compile({
    optimizer: tf.train.adam(kind === 'linear' ? 0.01 : 0.001),
    loss: 'categoricalCrossentropy',
  });
  return net;
}
