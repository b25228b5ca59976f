import { betaSample, type Rng, shuffle } from './random.ts';
import { tf } from './tf.ts';

/**
 * Mixup of a batch (Zhang et al. 2018; at the classifier's input, as manifold mixup): row i becomes
 * `weight[i]·row i + (1 − weight[i])·row partner[i]`, and so does its one-hot target.
 */
export interface RowMix {
  partner: Int32Array;
  weight: Float32Array;
}

/**
 * Mixes the rows of `x` [B, n] by `mix` (see RowMix), as one [B, B] matrix product: the mixing matrix
 * holds `weight[i]` at (i, i) and `1 − weight[i]` at (i, partner[i]). (`tf.gather`'s gradient needs a
 * kernel the WASM backend lacks.)
 */
export function mixRows(x: tf.Tensor2D, mix: RowMix): tf.Tensor2D {
  const rows = mix.weight.length;
  const matrix = new Float32Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    matrix[i * rows + i]! += mix.weight[i]!;
    matrix[i * rows + mix.partner[i]!]! += 1 - mix.weight[i]!;
  }
  return tf.tensor2d(matrix, [rows, rows]).matMul(x) as tf.Tensor2D;
}

/** The smallest mixup alpha: below ~0.05 both gamma draws can underflow to 0 and a weight would be NaN. */
export const MIN_MIXUP_ALPHA = 0.05;

/** A batch's mixing: partners from a shuffle, weights from Beta(alpha, alpha) (the larger share kept). */
export function drawRowMix(rows: number, alpha: number, rng: Rng): RowMix {
  if (!(alpha >= MIN_MIXUP_ALPHA))
    throw new RangeError(`mixup alpha must be a number ≥ ${MIN_MIXUP_ALPHA}, got ${alpha}`);
  const partner = Int32Array.from(
    shuffle(
      Array.from({ length: rows }, (_, i) => i),
      rng,
    ),
  );
  const weight = Float32Array.from({ length: rows }, () => {
    const w = betaSample(rng, alpha, alpha);
    return Math.max(w, 1 - w);
  });
  return { partner, weight };
}
