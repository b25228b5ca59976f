import { beforeAll, describe, expect, it } from 'vitest';
import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import type { ClipFeatures } from '../training/features.ts';
import { createSpeakerAdversary, reversalWeight, speakerIndices } from '../training/speaker-adversary.ts';
import type { Split } from '../training/splits.ts';
import { initTf, tf } from '../training/tf.ts';
import { lstmLearner, type TrainOptions, train } from '../training/trainer.ts';

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

const DIMS = 5;
const LABELS = ['angry', 'sad'] as const;

/** A clip whose frames depend on its emotion and, more weakly, on its speaker. */
function clip(index: number, speaker: number, emotion: number): ClipFeatures {
  const frames = 10 + (index % 5);
  const data = Float32Array.from(
    { length: frames * DIMS },
    (_, i) => Math.sin(i * 0.3 + index) * (1 + emotion) + speaker * 0.5 + (i % DIMS) * emotion,
  );
  const original: FeatureMatrix = { frames, dims: DIMS, data };
  return {
    clip: {
      path: `${index}`,
      corpus: 'ravdess',
      speaker: `ravdess:0${speaker}`,
      text: 't',
      emotion: LABELS[emotion]!,
    },
    original,
    augmented: [],
    channel: [],
  } as unknown as ClipFeatures;
}

const split = (speakers: number): Split<ClipFeatures> => {
  const clips = Array.from({ length: 24 }, (_, i) => clip(i, i % speakers, Math.floor(i / 2) % 2));
  return {
    name: 'toy',
    description: 'toy',
    train: clips.slice(0, 20),
    validation: clips.slice(20),
    test: [],
  };
};

const OPTIONS: TrainOptions = {
  labels: LABELS,
  epochs: 3,
  batchSize: 8,
  learningRate: 0.01,
  patience: 3,
  seed: 7,
  augment: false,
  name: 'toy',
  progress: false,
};
const CONFIG = { dims: DIMS, stack: 2, units: 4, hidden: 6, labels: 2, dropout: 0, utteranceStats: true };

/** Trains a fresh toy LSTM and returns its dense-1 weights and the epochs' training losses. */
async function trainToy(options: Partial<TrainOptions>, speakers = 3) {
  const learner = lstmLearner(CONFIG, 16, 3);
  const result = await train(learner, split(speakers), { ...OPTIONS, ...options });
  const weights = Array.from(learner.model.weights().dense1);
  learner.model.dispose();
  return { weights, losses: result.history.map((h) => h.loss) };
}

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
