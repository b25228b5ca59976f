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

/** Mixes the rows of `x` [B, n] by `mix` (see RowMix). */
export function mixRows(x: tf.Tensor2D, mix: RowMix): tf.Tensor2D {
  const weight = tf.tensor2d(mix.weight, [mix.weight.length, 1]);
  const partner = tf.gather(x, tf.tensor1d(mix.partner, 'int32'));
  return x.mul(weight).add(partner.mul(tf.scalar(1).sub(weight))) as tf.Tensor2D;
}

/** A batch's mixing: partners from a shuffle, weights from Beta(alpha, alpha) (the larger share kept). */
export function drawRowMix(rows: number, alpha: number, rng: Rng): RowMix {
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
