/**
 * A toy training setup for tests of the trainer's options: clips whose frames depend on their emotion
 * and, more weakly, on their speaker, and a small LSTM trained on them in a few epochs.
 */
import type { FeatureMatrix } from '../../lambdas/core/features/extract.ts';
import type { ClipFeatures } from '../../training/features.ts';
import type { Split } from '../../training/splits.ts';
import { lstmLearner, type TrainOptions, train } from '../../training/trainer.ts';

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

export const toySplit = (speakers: number, validation = true): Split<ClipFeatures> => {
  const clips = Array.from({ length: 24 }, (_, i) => clip(i, i % speakers, Math.floor(i / 2) % 2));
  return {
    name: 'toy',
    description: 'toy',
    train: clips.slice(0, 20),
    validation: validation ? clips.slice(20) : [],
    test: [],
  };
};

export const TOY_OPTIONS: TrainOptions = {
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
export async function trainToy(options: Partial<TrainOptions>, speakers = 3, validation = true) {
  const learner = lstmLearner(CONFIG, 16, 3);
  const result = await train(learner, toySplit(speakers, validation), { ...TOY_OPTIONS, ...options });
  const weights = Array.from(learner.model.weights().dense1);
  learner.model.dispose();
  return { weights, losses: result.history.map((h) => h.loss), result };
}
