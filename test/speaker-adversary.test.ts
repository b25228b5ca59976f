import { beforeAll, describe, expect, it } from 'vitest';
import { createSpeakerAdversary, reversalWeight, speakerIndices } from '../training/speaker-adversary.ts';
import { initTf, tf } from '../training/tf.ts';
import { trainToy } from './helpers/toy-training.ts';

beforeAll(async () => {
  await initTf();
});

/** Gradients of the adversary's loss with `weight`, into the hidden rows and into its own variables. */
function gradients(weight: number) {
  const adversary = createSpeakerAdversary(3, 2, 11);
  const hidden = tf.variable(tf.tensor2d([0.5, -1, 2, 1, 0.25, -0.5], [2, 3]));
  const speakers = Int32Array.from([0, 1]);
  const { value, grads } = tf.variableGrads(
    () => adversary.loss(hidden, speakers, weight),
    [hidden, ...adversary.variables],
  );
  const read = (v: tf.Variable) => Array.from(grads[v.name]!.dataSync());
  return { loss: value.dataSync()[0]!, hidden: read(hidden), own: adversary.variables.map(read) };
}

describe('speaker adversary', () => {
  it('reverses and scales the gradient into the hidden layer, not into its own weights', () => {
    const plain = gradients(-1); // weight −1: the reversal multiplies by +1, i.e. the ordinary gradient
    const reversed = gradients(0.5);

    expect(reversed.loss).toBeCloseTo(plain.loss, 6);
    expect(plain.hidden.some((g) => Math.abs(g) > 1e-4)).toBe(true);
    for (const [i, g] of reversed.hidden.entries()) expect(g).toBeCloseTo(-0.5 * plain.hidden[i]!, 6);
    // The adversary itself still learns to name the speaker: its own gradients are unchanged.
    for (const [v, grad] of reversed.own.entries())
      for (const [i, g] of grad.entries()) expect(g).toBeCloseTo(plain.own[v]![i]!, 6);
  });

  it('ramps the reversal weight from 0 to its largest value over training', () => {
    expect(reversalWeight(1, 0)).toBe(0);
    expect(reversalWeight(1, 0.1)).toBeGreaterThan(0.4);
    expect(reversalWeight(1, 0.1)).toBeLessThan(0.5);
    expect(reversalWeight(0.3, 1)).toBeCloseTo(0.3, 3);
    expect(reversalWeight(0.3, 2)).toBe(reversalWeight(0.3, 1));
  });

  it('numbers the training speakers by name', () => {
    const { indices, count } = speakerIndices(['tess:YAF', 'ravdess:01', 'tess:YAF', 'tess:OAF']);
    expect(count).toBe(3);
    expect(Array.from(indices)).toEqual([2, 0, 2, 1]);
  });
});

describe('training with a speaker adversary (TrainOptions.speakerAdversary)', () => {
  it('trains the same exported weights shape, and the adversary changes what is learned', async () => {
    const plain = await trainToy({});
    const adversarial = await trainToy({ speakerAdversary: 0.5 });
    expect(adversarial.weights.length).toBe(plain.weights.length);
    expect(adversarial.weights).not.toEqual(plain.weights);
    // Its speaker cross-entropy (≈ ln 3 for three speakers) is part of the reported loss.
    expect(adversarial.losses[0]!).toBeGreaterThan(plain.losses[0]! + 0.5);
    // A weight of 0 is no adversary at all: the very same run as without it.
    expect((await trainToy({ speakerAdversary: 0 })).weights).toEqual(plain.weights);
  });

  it('refuses mixup beside it, and a training part of one speaker', async () => {
    await expect(trainToy({ speakerAdversary: 0.5, mixup: 0.4 })).rejects.toThrow(/alternatives/);
    await expect(trainToy({ speakerAdversary: 0.5 }, 1)).rejects.toThrow(/two training speakers/);
  });
});
