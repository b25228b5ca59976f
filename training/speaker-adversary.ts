import { createRng, glorotUniform } from './random.ts';
import { tf } from './tf.ts';

/**
 * Speaker-adversarial training (round 15; Ganin & Lempitsky 2015, applied to speakers): a small adversary
 * reads the head's hidden layer through a gradient reversal and learns to name the training speaker, while
 * the reversed gradient pushes the shared layers to make that impossible, so that the head keeps what
 * tells emotions apart and drops what tells voices apart. Training only: never exported.
 */
export interface SpeakerAdversary {
  readonly variables: tf.Variable[];
  /** The adversary's speaker cross-entropy on `hidden` [B, width], the gradient into `hidden` × −`weight`. */
  loss(hidden: tf.Tensor2D, speakers: Int32Array, weight: number): tf.Scalar;
}

/** Width of the adversary's own hidden layer. */
const ADVERSARY_UNITS = 32;

/**
 * The reversal weight at training progress `progress` (0 → 1): 0 at the start, rising to `weight` (the
 * schedule of Ganin & Lempitsky), so that the emotion head first learns something to make invariant.
 */
export const reversalWeight = (weight: number, progress: number): number =>
  weight * (2 / (1 + Math.exp(-10 * Math.min(Math.max(progress, 0), 1))) - 1);

/** Identity forward, gradient × −weight backward. */
function reverseGradient(x: tf.Tensor2D, weight: number): tf.Tensor2D {
  const reversal = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: (inputs[0] as tf.Tensor).clone(),
    gradFunc: (dy: tf.Tensor) => dy.mul(-weight),
  }));
  return reversal(x) as tf.Tensor2D;
}

/** Dense(32, relu) → Dense(speakers), Glorot-uniform from a seeded stream, biases zero. */
export function createSpeakerAdversary(width: number, speakers: number, seed: number): SpeakerAdversary {
  const rng = createRng(seed ^ 0x5eaa7e55);
  const glorot = (a: number, b: number) => tf.variable(tf.tensor2d(glorotUniform(rng, a, b), [a, b]));
  const w1 = glorot(width, ADVERSARY_UNITS);
  const b1 = tf.variable(tf.zeros([ADVERSARY_UNITS]));
  const w2 = glorot(ADVERSARY_UNITS, speakers);
  const b2 = tf.variable(tf.zeros([speakers]));
  return {
    variables: [w1, b1, w2, b2],
    loss(hidden, rowSpeakers, weight) {
      const inner = reverseGradient(hidden, weight).matMul(w1).add(b1).relu();
      const logits = inner.matMul(w2).add(b2) as tf.Tensor2D;
      const truth = tf.oneHot(tf.tensor1d(rowSpeakers, 'int32'), speakers) as tf.Tensor2D;
      return tf.losses.softmaxCrossEntropy(truth, logits) as tf.Scalar;
    },
  };
}

/** Index of each training clip's speaker among the training part's speakers (sorted by name). */
export function speakerIndices(speakers: string[]): { indices: Int32Array; count: number } {
  const names = [...new Set(speakers)].sort();
  const index = new Map(names.map((n, i) => [n, i]));
  return { indices: Int32Array.from(speakers, (s) => index.get(s)!), count: names.length };
}
