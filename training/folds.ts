import * as z from 'zod';
import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import { applyTemperature } from '../lambdas/core/model/calibration.ts';
import { labelIndex } from './batches.ts';
import { type ModelSettings, runExperiment, type TrainedExperiment } from './experiment.ts';
import type { ClipFeatures } from './features.ts';
import {
  computeMetrics,
  fitTemperature,
  largestClassShare,
  type Metrics,
  type ReliabilityBin,
  reliability,
} from './metrics.ts';
import { assertNoLeak, multiCorpusSplit, type Split } from './splits.ts';
import { argmaxRows, predictClips } from './trainer.ts';

/**
 * Every RAVDESS actor judged by a model that never heard them: the actors in 3 folds of 4 (single
 * LSTMs, the recipe otherwise unchanged), TESS split as in the main split. Pools the held-out actors'
 * predictions into one out-of-fold set, which is also what the confidence calibration is fitted on.
 */
export interface FoldContext {
  labels: readonly string[];
  featureConfig: import('../lambdas/core/features/config.ts').FeatureConfig;
  maxFrames: number;
  seed: number;
  /** See RunContext.firstMember: which ensemble member's seed each fold model gets (default 0). */
  firstMember?: number;
  progress: boolean;
}

export interface Calibrated {
  temperature: number;
  /** ECE of the raw out-of-fold probabilities. */
  eceBefore: number;
  /** ECE when each fold is calibrated with a temperature fitted on the *other* folds (honest). */
  eceCrossFitted: number;
  /** ECE with the one temperature fitted on all folds (what ships; optimistic by construction). */
  eceAfter: number;
  binsBefore: ReliabilityBin[];
  binsAfter: ReliabilityBin[];
  /** Share of the held-out clips below the low-confidence threshold, and their accuracy. */
  lowConfidence: { threshold: number; share: number; accuracy: number };
}

export interface FoldsResult {
  pooled: Metrics;
  /** Binomial standard error of the pooled accuracy. */
  standardError: number;
  largestShare: { label: string; share: number };
  folds: Array<{ actors: string[]; accuracy: number; clips: number; trainSeconds: number }>;
  /** Out-of-fold probabilities [clips × labels] and truths of the pooled held-out clips. */
  probabilities: Float32Array;
  truth: number[];
  foldOf: number[];
  calibration: Calibrated;
  /** The same held-out clips through an unseen synthetic channel (TEST_CHANNEL), if given. */
  channelShifted?: {
    pooled: Metrics;
    standardError: number;
    largestShare: { label: string; share: number };
    /** Out-of-fold probabilities of the channel-shifted copies, in the order of their truths. */
    probabilities: Float32Array;
    truth: number[];
  };
  experiments: TrainedExperiment['result'][];
}

/** What `training/develop.ts --out` writes: one development run's summary. */
export interface DevelopmentRun {
  name: string;
  clips: number;
  seconds: number;
  options: Record<string, unknown>;
  clean: {
    accuracy: number;
    macroF1: number;
    standardError: number;
    largestShare: { label: string; share: number };
  };
  channelShifted?: {
    accuracy: number;
    macroF1: number;
    standardError: number;
    largestShare: { label: string; share: number };
  };
  folds: FoldsResult['folds'];
  calibration: Calibrated;
  confusion: number[][];
}

const Summary = z.object({
  accuracy: z.number(),
  macroF1: z.number(),
  standardError: z.number(),
  largestShare: z.object({ label: z.string(), share: z.number() }),
});

/** What a package reads of a development run (`train --calibrate-on`); extra fields pass. */
const DevelopmentRunSchema = z.looseObject({
  name: z.string(),
  clips: z.number(),
  options: z.record(z.string(), z.unknown()),
  clean: Summary,
  channelShifted: Summary.optional(),
  folds: z.array(z.looseObject({ actors: z.array(z.string()), clips: z.number() })).min(1),
  calibration: z.looseObject({
    temperature: z.number().positive(),
    eceBefore: z.number(),
    eceCrossFitted: z.number(),
    eceAfter: z.number(),
    binsBefore: z.array(z.unknown()),
    binsAfter: z.array(z.unknown()),
    lowConfidence: z.object({ threshold: z.number(), share: z.number(), accuracy: z.number() }),
  }),
  confusion: z.array(z.array(z.number())),
});

/** A development run from its JSON text, or what is wrong with it (e.g. a metadata.json given instead). */
export function parseDevelopmentRun(text: string): { run: DevelopmentRun } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { error: `not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  const parsed = DevelopmentRunSchema.safeParse(json);
  if (parsed.success) return { run: parsed.data as unknown as DevelopmentRun };
  const issue = parsed.error.issues[0]!;
  return { error: `${issue.path.join('.') || 'the file'}: ${issue.message}` };
}

export const standardError = (accuracy: number, n: number): number =>
  Math.sqrt((accuracy * (1 - accuracy)) / Math.max(n, 1));

/** The actors of `kept`'s RAVDESS clips in 3 folds (sorted: 01–04, 05–08, 09–12 for actors 01–12). */
export function actorFoldsOf(kept: ClipFeatures[], count = 3): string[][] {
  const actors = [
    ...new Set(kept.filter((i) => i.clip.corpus === 'ravdess').map((i) => i.clip.speaker)),
  ].sort();
  const size = Math.ceil(actors.length / count);
  const folds: string[][] = [];
  for (let f = 0; f * size < actors.length; f++) folds.push(actors.slice(f * size, (f + 1) * size));
  return folds;
}

/** Pooled metrics, standard error and largest-class share of out-of-fold probabilities. */
export function metricsOf(labels: readonly string[], probabilities: Float32Array, truth: number[]) {
  const pooled = computeMetrics(labels, truth, argmaxRows(probabilities, labels.length));
  const largest = largestClassShare(pooled.confusion);
  return {
    pooled,
    standardError: standardError(pooled.accuracy, pooled.support),
    largestShare: { label: labels[largest.label]!, share: largest.share },
  };
}

/** The threshold under which a calibrated prediction is flagged: more likely wrong than right. */
export const LOW_CONFIDENCE_BELOW = 0.5;

export function calibrate(
  probabilities: Float32Array,
  truth: number[],
  foldOf: number[],
  labelCount: number,
): Calibrated {
  const temperature = fitTemperature(probabilities, truth, labelCount);
  const after = probabilities.slice();
  applyTemperature(after, labelCount, temperature);
  const crossFitted = probabilities.slice();
  for (const fold of new Set(foldOf)) {
    const rows = (keep: (f: number) => boolean) =>
      foldOf.map((f, r) => (keep(f) ? r : -1)).filter((r) => r >= 0);
    const pick = (source: Float32Array, index: number[]) =>
      Float32Array.from(index.flatMap((r) => [...source.subarray(r * labelCount, (r + 1) * labelCount)]));
    const others = rows((f) => f !== fold);
    const own = rows((f) => f === fold);
    const t = fitTemperature(
      pick(probabilities, others),
      others.map((r) => truth[r]!),
      labelCount,
    );
    const mine = pick(probabilities, own);
    applyTemperature(mine, labelCount, t);
    for (const [i, r] of own.entries())
      crossFitted.set(mine.subarray(i * labelCount, (i + 1) * labelCount), r * labelCount);
  }
  const before = reliability(probabilities, truth, labelCount);
  const calibrated = reliability(after, truth, labelCount);
  const predicted = argmaxRows(after, labelCount);
  const low = truth
    .map((_, r) => r)
    .filter((r) => after[r * labelCount + predicted[r]!]! < LOW_CONFIDENCE_BELOW);
  return {
    temperature,
    eceBefore: before.ece,
    eceCrossFitted: reliability(crossFitted, truth, labelCount).ece,
    eceAfter: calibrated.ece,
    binsBefore: before.bins,
    binsAfter: calibrated.bins,
    lowConfidence: {
      threshold: LOW_CONFIDENCE_BELOW,
      share: Math.round((low.length / Math.max(truth.length, 1)) * 1000) / 1000,
      accuracy:
        Math.round((low.filter((r) => predicted[r] === truth[r]).length / Math.max(low.length, 1)) * 1000) /
        1000,
    },
  };
}

export interface ActorFoldsOptions {
  /** Channel-shifted features of held-out clips, by file hash (TEST_CHANNEL copies). */
  shifted?: Map<string, FeatureMatrix>;
  /** Changes a fold's training and validation clips before its model trains (e.g. speaker shifts). */
  prepare?: (split: Split<ClipFeatures>) => Split<ClipFeatures>;
  /** Scores anything else on the fold's held-out clips with its model, before the model is freed. */
  onFold?: (score: (items: ClipFeatures[]) => Float32Array, held: ClipFeatures[]) => void;
  log?: (line: string) => void;
}

/** The held-out actors' predictions of every fold, pooled in fold order. */
interface FoldPool {
  probabilities: number[];
  truth: number[];
  foldOf: number[];
  shiftedProbabilities: number[];
  shiftedTruth: number[];
}

/** Adds a fold model's predictions for its held-out actors' clips (and their channel-shifted copies). */
function poolFold(
  pool: FoldPool,
  f: number,
  split: Split<ClipFeatures>,
  held: (i: ClipFeatures) => boolean,
  trained: TrainedExperiment,
  context: FoldContext,
  shifted: Map<string, FeatureMatrix> | undefined,
): void {
  const { labels } = context;
  const k = labels.length;
  split.test.forEach((item, r) => {
    if (!held(item)) return;
    pool.probabilities.push(...trained.testProbabilities.subarray(r * k, (r + 1) * k));
    pool.truth.push(labelIndex(labels, item.clip.emotion));
    pool.foldOf.push(f);
  });
  if (shifted) {
    const items = split.test
      .filter(held)
      .filter((i) => shifted.has(i.fileHash))
      .map((i) => ({ ...i, original: shifted.get(i.fileHash)! }));
    pool.shiftedProbabilities.push(...predictClips(trained.learner, items, k));
    pool.shiftedTruth.push(...items.map((i) => labelIndex(labels, i.clip.emotion)));
  }
}

/** Trains one single-LSTM model per fold and pools the held-out actors' predictions. */
export async function actorFolds(
  kept: ClipFeatures[],
  settings: ModelSettings,
  context: FoldContext,
  options: ActorFoldsOptions = {},
): Promise<FoldsResult> {
  const { labels } = context;
  const k = labels.length;
  const pool: FoldPool = {
    probabilities: [],
    truth: [],
    foldOf: [],
    shiftedProbabilities: [],
    shiftedTruth: [],
  };
  const folds: FoldsResult['folds'] = [];
  const experiments: FoldsResult['experiments'] = [];
  for (const [f, fold] of actorFoldsOf(kept).entries()) {
    const name = `actors-${fold.map((a) => a.split(':')[1]).join('-')}-held-out`;
    const plain = multiCorpusSplit(name, kept, fold, context.seed);
    assertNoLeak(plain);
    const split = options.prepare?.(plain) ?? plain;
    const held = (i: ClipFeatures) => fold.includes(i.clip.speaker);
    const trained = await runExperiment(
      split,
      { ...settings, ensemble: 1 },
      { ...context, subsets: { 'held-out actors': held } },
    );
    poolFold(pool, f, split, held, trained, context, options.shifted);
    options.onFold?.((items) => predictClips(trained.learner, items, k), split.test.filter(held));
    for (const l of trained.learners) for (const v of l.variables) v.dispose();
    const m = trained.result.subsets['held-out actors']!;
    folds.push({
      actors: fold,
      accuracy: m.accuracy,
      clips: m.support,
      trainSeconds: trained.result.trainSeconds,
    });
    experiments.push(trained.result);
    options.log?.(`fold ${name}: held-out accuracy ${m.accuracy} (${m.support} clips)`);
  }
  return foldsResultOf(labels, pool, folds, experiments, options.shifted !== undefined);
}

/** The pooled metrics, calibration (fitted across folds) and per-fold figures. */
function foldsResultOf(
  labels: readonly string[],
  pool: FoldPool,
  folds: FoldsResult['folds'],
  experiments: FoldsResult['experiments'],
  shifted: boolean,
): FoldsResult {
  const { truth, foldOf } = pool;
  const oof = Float32Array.from(pool.probabilities);
  return {
    ...metricsOf(labels, oof, truth),
    folds,
    probabilities: oof,
    truth,
    foldOf,
    calibration: calibrate(oof, truth, foldOf, labels.length),
    ...(shifted
      ? {
          channelShifted: {
            ...metricsOf(labels, Float32Array.from(pool.shiftedProbabilities), pool.shiftedTruth),
            probabilities: Float32Array.from(pool.shiftedProbabilities),
            truth: pool.shiftedTruth,
          },
        }
      : {}),
    experiments,
  };
}
