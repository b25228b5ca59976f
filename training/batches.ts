import { type FeatureMatrix, normalizeUtterance } from '../lambdas/core/features/extract.ts';
import type { Emotion } from './datasets.ts';
import { type Rng, shuffle } from './random.ts';

/** One model input row: CMVN features of at most `maxFrames` frames (unpadded) and its label. */
export interface Example {
  frames: number;
  dims: number;
  data: Float32Array;
  label: number;
}

/**
 * A feature matrix with the speaker offset it is judged with (`LstmConfig.offsetInput`, speaker-shift.ts):
 * the frames stay as recorded and the offset goes to the head as an input of its own. Absent: no context,
 * which the model reads as offset 0.
 */
export interface OffsetMatrix extends FeatureMatrix {
  offset?: Float32Array;
}

/** The speaker offset a matrix carries (undefined: none). */
export const offsetOf = (matrix: FeatureMatrix): Float32Array | undefined => (matrix as OffsetMatrix).offset;

/**
 * Copies frames [start, start + count) and, when `cmvn` (the feature config's `normalization: 'utterance'`),
 * applies per-utterance CMVN over exactly those frames, as the predictor does per window.
 */
export function window(matrix: FeatureMatrix, start: number, count: number, cmvn = true): OffsetMatrix {
  const data = matrix.data.slice(start * matrix.dims, (start + count) * matrix.dims);
  const w = { frames: count, dims: matrix.dims, data };
  const offset = offsetOf(matrix);
  const out = cmvn ? normalizeUtterance(w) : w;
  return offset ? { ...out, offset } : out;
}

/**
 * The windows a clip is judged on: the whole clip if it fits `maxFrames`, else windows of `maxFrames` every
 * `maxFrames / 2` with the last aligned to the end (as the predictor cuts long speech). Probabilities of
 * a clip are the mean over its windows.
 */
export function evaluationWindows(matrix: FeatureMatrix, maxFrames: number, cmvn = true): FeatureMatrix[] {
  if (matrix.frames <= maxFrames) return [window(matrix, 0, matrix.frames, cmvn)];
  const hop = Math.floor(maxFrames / 2);
  const starts: number[] = [];
  for (let s = 0; s + maxFrames < matrix.frames; s += hop) starts.push(s);
  starts.push(matrix.frames - maxFrames);
  return starts.map((s) => window(matrix, s, maxFrames, cmvn));
}

/**
 * Batches of similar length (shuffle, sort within chunks of 16 batches, shuffle the batches): the LSTM
 * runs only as many steps as the batch's longest row, so bucketing saves most of the padding's cost.
 */
export function bucketedBatches<T extends { frames: number }>(rows: T[], batchSize: number, rng: Rng): T[][] {
  const order = shuffle([...rows], rng);
  const chunk = batchSize * 16;
  const batches: T[][] = [];
  for (let c = 0; c < order.length; c += chunk) {
    const part = order.slice(c, c + chunk).sort((a, b) => a.frames - b.frames);
    for (let b = 0; b < part.length; b += batchSize) batches.push(part.slice(b, b + batchSize));
  }
  return shuffle(batches, rng);
}

/** Row-major [rows, time, dims] zero-padded to `time` (a multiple of `stack` ≥ the longest row). */
export function padBatch(
  rows: Array<{ frames: number; data: Float32Array }>,
  dims: number,
  stack: number,
): { data: Float32Array; time: number; frames: Int32Array } {
  const longest = Math.max(...rows.map((r) => r.frames));
  const time = Math.ceil(longest / stack) * stack;
  const data = new Float32Array(rows.length * time * dims);
  rows.forEach((r, i) => {
    data.set(r.data.subarray(0, r.frames * dims), i * time * dims);
  });
  return { data, time, frames: Int32Array.from(rows, (r) => r.frames) };
}

/**
 * The rows' speaker offsets as one [rows, size] block, rows without one as zeros (no context); undefined
 * when no row carries one (a model with `offsetInput` then reads zeros itself).
 */
export function offsetBatch(rows: readonly OffsetMatrix[]): Float32Array | undefined {
  const size = rows.find((r) => r.offset)?.offset?.length ?? 0;
  if (size === 0) return undefined;
  const data = new Float32Array(rows.length * size);
  rows.forEach((r, i) => {
    if (r.offset) data.set(r.offset, i * size);
  });
  return data;
}

export const labelIndex = (labels: readonly string[], emotion: Emotion): number => {
  const index = labels.indexOf(emotion);
  if (index < 0) throw new Error(`Emotion ${emotion} is not among the model's labels`);
  return index;
};
