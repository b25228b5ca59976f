import type { FeatureConfig } from '../lambdas/core/features/config.ts';
import { featureDimension } from '../lambdas/core/features/config.ts';
import { PROSODY_CHANNELS } from '../lambdas/core/features/prosody.ts';
import { labelIndex } from './batches.ts';
import type { ClipFeatures } from './features.ts';
import type { LstmConfig } from './lstm.ts';
import { computeMetrics, type Metrics } from './metrics.ts';
import type { Split } from './splits.ts';
import {
  argmaxRows,
  type EpochRecord,
  type Learner,
  lstmLearner,
  mlpLearner,
  predictClips,
  type TrainOptions,
  train,
} from './trainer.ts';

export interface ModelSettings {
  kind: 'lstm' | 'mlp';
  units: number;
  stack: number;
  hidden: number;
  dropout: number;
  /** Dropout on the pooled LSTM state while training (see LstmConfig.stateDropout). */
  stateDropout: number;
  epochs: number;
  patience: number;
  batchSize: number;
  learningRate: number;
  augment: boolean;
  balanceCorpora: boolean;
  specAugment: boolean;
  /** LSTM on raw features with in-model CMVN + utterance statistics (see LstmConfig). */
  utteranceStats: boolean;
  /** With `utteranceStats`: add the RMS of frame-to-frame changes of every channel (see LstmConfig). */
  deltaStats: boolean;
  /** LSTMs trained with different seeds whose probabilities are averaged (1 = a single model). */
  ensemble: number;
  /** Which utterance statistics the head sees (see LstmConfig.statsMask); absent: all. */
  statsMask?: 'all' | 'no-spectral-means';
  /**
   * Fixed repeats per epoch by corpus, e.g. `{ ravdess: 3 }`: what balancing gave RAVDESS next to all of
   * TESS, kept when TESS is cut to a word subset (the ratio would otherwise drop it to 1×).
   */
  corpusRepeats?: Record<string, number>;
  /** Adapted channels whose speaker offset the head reads (see LstmConfig.offsetInput); absent: none. */
  offsetInput?: number;
  /**
   * A mixed ensemble (round 6): the first n members train without the channel-degraded copies (as the
   * 1.3.0 recipe), the others with them. 0 or absent: every member sees the same clips.
   */
  channelFreeMembers?: number;
  /** Share of the target's mass spread evenly over the other labels (softmax cross-entropy); absent: 0.05. */
  labelSmoothing?: number;
  /** Mixup of the head's input rows, weights from Beta(mixup, mixup) (round 12); 0 or absent: none. */
  mixup?: number;
  /** Largest gradient-reversal weight of a speaker adversary (round 15, speaker-adversary.ts); 0 or absent: none. */
  speakerAdversary?: number;
  /** How the LSTM's outputs are pooled (see LstmConfig.pooling); absent: mean. */
  pooling?: 'mean' | 'attention';
  /** A convolutional front end over log-mel (see LstmConfig.frontEnd, round 26); absent: none. */
  frontEnd?: 'conv';
  /** Average each member's weights from this epoch on (TrainOptions.averageFrom, round 29); absent: none. */
  averageFrom?: number;
}

/**
 * The recipe chosen on development runs (see REPORT.md, "How the recipe was chosen"): MFCC + prosody
 * frames, a small LSTM (16 units) whose pooled state is dropped half the time while training so that the
 * head also learns from the utterance statistics (mean, std, delta RMS, pitch/level range and change),
 * which carry across voices; 3 seeds averaged, the first trained without the channel-degraded copies
 * (round 6: one clean-trained and two channel-trained members beat three of either kind).
 */
export const DEFAULT_MODEL_SETTINGS: ModelSettings = {
  kind: 'lstm',
  units: 16,
  stack: 2,
  hidden: 64,
  dropout: 0.5,
  stateDropout: 0.5,
  epochs: 30,
  patience: 8,
  batchSize: 32,
  learningRate: 2e-3,
  augment: true,
  balanceCorpora: true,
  specAugment: false,
  utteranceStats: true,
  deltaStats: true,
  ensemble: 3,
  corpusRepeats: { ravdess: 3 },
  channelFreeMembers: 1,
};

export interface ExperimentResult {
  split: string;
  description: string;
  model: Record<string, unknown>;
  settings: ModelSettings;
  sizes: { train: number; validation: number; test: number };
  /** The first member's curves (all members train the same way). */
  history: EpochRecord[];
  bestEpoch: number;
  members: Array<{ seed: number; epochs: number; bestEpoch: number; trainSeconds: number }>;
  trainSeconds: number;
  /** Metrics on the split's test part, and on named subsets of it (e.g. per corpus). */
  test: Metrics;
  subsets: Record<string, Metrics>;
}

export interface TrainedExperiment {
  result: ExperimentResult;
  learner: Learner;
  /** Every ensemble member (one unless `settings.ensemble` > 1). */
  learners: Learner[];
  /** tfjs probabilities on the test part [test × labels]. */
  testProbabilities: Float32Array;
}

/** What an experiment needs besides its split and settings. */
interface RunContext {
  labels: readonly string[];
  featureConfig: FeatureConfig;
  maxFrames: number;
  seed: number;
  /**
   * Which ensemble member the first model is (0: the first): a development run can train, on the same
   * split, the model the package's k-th member would be, to measure what averaging members is worth.
   */
  firstMember?: number;
  progress: boolean;
  subsets?: Record<string, (item: ClipFeatures) => boolean>;
  /** Per epoch of each ensemble member (`member` counts from 1). */
  onEpoch?: (record: EpochRecord, member: { member: number; members: number }) => void | Promise<void>;
}

/** Round 26's front end: needs every MFCC of the mel bands, so that the inverse DCT recovers them. */
function convFrontEnd(featureConfig: FeatureConfig): NonNullable<LstmConfig['frontEnd']> {
  const { kind, mfccCoefficients, melBands, normalization } = featureConfig;
  // Raw MFCCs only: after per-utterance CMVN the inverse DCT would not give log-mel bands.
  if (kind !== 'mfcc' || mfccCoefficients !== melBands || normalization !== 'none')
    throw new Error('the conv front end needs raw MFCCs (normalization none), as many as mel bands');
  return { bands: featureConfig.melBands, channels: 8, pool: 4 };
}

/** A fresh, seeded model of the recipe's kind. */
function createLearner(settings: ModelSettings, context: RunContext, seed: number): Learner {
  const { labels, featureConfig, maxFrames } = context;
  const dims = featureDimension(featureConfig);
  if (settings.kind !== 'lstm') return mlpLearner(dims, labels.length, 128, seed, settings.dropout);
  const config: LstmConfig = {
    dims,
    stack: settings.stack,
    units: settings.units,
    hidden: settings.hidden,
    labels: labels.length,
    dropout: settings.dropout,
    stateDropout: settings.stateDropout,
    utteranceStats: settings.utteranceStats,
    deltaStats: settings.utteranceStats && settings.deltaStats,
    contourStats: settings.utteranceStats && featureConfig.prosody ? PROSODY_CHANNELS : 0,
    statsMask: settings.statsMask ?? 'all',
    ...(settings.offsetInput ? { offsetInput: settings.offsetInput } : {}),
    ...(settings.pooling === 'attention' ? { pooling: 'attention' as const } : {}),
    ...(settings.frontEnd === 'conv' ? { frontEnd: convFrontEnd(featureConfig) } : {}),
  };
  return lstmLearner(config, maxFrames, seed);
}

/** The split with no channel-degraded copy on any training or validation clip (test clips are originals). */
const channelFree = (split: Split<ClipFeatures>): Split<ClipFeatures> => ({
  ...split,
  train: split.train.map((i) => ({ ...i, channel: [] })),
  validation: split.validation.map((i) => ({ ...i, channel: [] })),
});

/** Training options of ensemble member `k` (of `memberCount`). */
function memberTrainOptions(
  splitName: string,
  settings: ModelSettings,
  context: RunContext,
  member: { k: number; memberCount: number; seed: number },
): TrainOptions {
  const { k, memberCount } = member;
  return {
    labels: context.labels,
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    learningRate: settings.learningRate,
    patience: settings.patience,
    seed: member.seed,
    augment: settings.augment,
    name: `${splitName}/${settings.kind}${memberCount > 1 ? ` ${k + 1}/${memberCount}` : ''}`,
    progress: context.progress,
    clipNorm: 5,
    labelSmoothing: settings.labelSmoothing ?? 0.05,
    mixup: settings.mixup,
    speakerAdversary: settings.speakerAdversary,
    balanceCorpora: settings.balanceCorpora,
    corpusRepeats: settings.corpusRepeats,
    specAugment: settings.specAugment,
    ...(settings.averageFrom === undefined ? {} : { averageFrom: settings.averageFrom }),
    onEpoch: (record) => context.onEpoch?.(record, { member: k + 1, members: memberCount }),
  };
}

/** Metrics of each named subset of the test clips (subsets with no clip are left out). */
function subsetMetrics(
  labels: readonly string[],
  test: ClipFeatures[],
  truth: number[],
  predicted: number[],
  subsets: Record<string, (item: ClipFeatures) => boolean>,
): Record<string, Metrics> {
  const out: Record<string, Metrics> = {};
  for (const [name, keep] of Object.entries(subsets)) {
    const index = test.map((item, i) => (keep(item) ? i : -1)).filter((i) => i >= 0);
    if (index.length === 0) continue;
    out[name] = computeMetrics(
      labels,
      index.map((i) => truth[i]!),
      index.map((i) => predicted[i]!),
    );
  }
  return out;
}

/**
 * Trains one model on one split and measures it on that split's test part (which it never saw: not in
 * training, not in validation, no augmented copy of it anywhere).
 */
export async function runExperiment(
  split: Split<ClipFeatures>,
  settings: ModelSettings,
  context: RunContext,
): Promise<TrainedExperiment> {
  const { labels, seed } = context;
  // An LSTM recipe may be an ensemble: members differ only in their seed (initialisation, batches, dropout).
  const memberCount = settings.kind === 'lstm' ? Math.max(1, settings.ensemble) : 1;
  const learners: Learner[] = [];
  const members: Array<{ seed: number; epochs: number; bestEpoch: number; trainSeconds: number }> = [];
  let history: EpochRecord[] = [];
  let testProbabilities = new Float32Array(split.test.length * labels.length);
  for (let k = 0; k < memberCount; k++) {
    const memberSeed = seed + 1000 * (k + (context.firstMember ?? 0));
    const learner = createLearner(settings, context, memberSeed);
    const options = memberTrainOptions(split.name, settings, context, { k, memberCount, seed: memberSeed });
    const trained = await train(
      learner,
      k < (settings.channelFreeMembers ?? 0) ? channelFree(split) : split,
      options,
    );
    const p = predictClips(learner, split.test, labels.length);
    testProbabilities = testProbabilities.map((v, i) => v + p[i]! / memberCount);
    learners.push(learner);
    members.push({
      seed: memberSeed,
      epochs: trained.history.length,
      bestEpoch: trained.bestEpoch,
      trainSeconds: Math.round(trained.seconds),
    });
    if (k === 0) history = trained.history;
  }
  const learner = learners[0]!;
  const predicted = argmaxRows(testProbabilities, labels.length);
  const truth = split.test.map((i) => labelIndex(labels, i.clip.emotion));
  const subsets = subsetMetrics(labels, split.test, truth, predicted, context.subsets ?? {});
  return {
    learner,
    learners,
    testProbabilities,
    result: {
      split: split.name,
      description: split.description,
      model: learner.describe(),
      settings,
      sizes: { train: split.train.length, validation: split.validation.length, test: split.test.length },
      history,
      bestEpoch: members[0]!.bestEpoch,
      members,
      trainSeconds: members.reduce((n, m) => n + m.trainSeconds, 0),
      test: computeMetrics(labels, truth, predicted),
      subsets,
    },
  };
}
