import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  DEFAULT_FEATURE_CONFIG,
  type FeatureConfig,
  featureDimension,
} from '../lambdas/core/features/config.ts';
import { createFeatureExtractor, frameCount } from '../lambdas/core/features/extract.ts';
import type { SpeakerAdaptation } from '../lambdas/core/features/speaker-normalization.ts';
import { sha256Hex } from '../lambdas/core/model/checksum.ts';
import { METADATA_FILE } from '../lambdas/core/model/location.ts';
import { type ModelMetadata, ModelMetadataSchema } from '../lambdas/core/model/metadata.ts';
import { type AugmentationSpec, DEFAULT_AUGMENTATION } from './augment.ts';
import { labelIndex } from './batches.ts';
import { type ChannelSpec, DEFAULT_CHANNEL } from './channel.ts';
import {
  type Clip,
  type Corpus,
  DatasetError,
  type DatasetScan,
  datasetProblemLines,
  datasetProblems,
  EMOTIONS,
  scanDataset,
} from './datasets.ts';
import {
  DEFAULT_MODEL_SETTINGS,
  type ExperimentResult,
  type ModelSettings,
  runExperiment,
  type TrainedExperiment,
} from './experiment.ts';
import { type ClipFeatures, createFeaturePipeline, dedupe } from './features.ts';
import { type WaveformPanel, waveformsSvg } from './figures.ts';
import { actorFolds, type DevelopmentRun, type FoldsResult, LOW_CONFIDENCE_BELOW } from './folds.ts';
import type { LstmModel } from './lstm.ts';
import { collapseText, computeMetrics, largestClassShare, type Metrics } from './metrics.ts';
import { maxAbsDiff, predictWithOnnx } from './onnx-eval.ts';
import { exportLstmToOnnx } from './onnx-export.ts';
import { appendPredictorCheck } from './predictor-check.ts';
import { type DatasetOverview, type ReportInput, reportFigures, reportMarkdown } from './report.ts';
import { populationMean, SHIFT_CHANNELS, speakerOffsetItems, speakerShiftItems } from './speaker-shift.ts';
import { assertNoLeak, multiCorpusSplit, randomSplit, type Split, speakerSplit } from './splits.ts';
import { initTf } from './tf.ts';
import { argmaxRows, type EpochRecord } from './trainer.ts';

export const EXPERIMENTS = [
  'tess-random',
  'tess-speaker',
  'tess-voice-out',
  'mlp',
  'tess-to-ravdess',
  'ravdess-folds',
  'cross-corpus',
] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];

export interface TrainPackageOptions {
  dataDir: string;
  corpora: Corpus[];
  outDir: string;
  featureConfig: FeatureConfig;
  windowSec: number;
  seed: number;
  augmentCopies: number;
  augmentation: AugmentationSpec;
  /** Channel-degraded copies per training clip (see channel.ts); 0: none. */
  channelCopies: number;
  channel: ChannelSpec;
  /** Per-corpus copy counts overriding the two above (see FeaturePipelineOptions.corpusCopies). */
  corpusCopies?: Partial<Record<Corpus, { augment: number; channel: number }>>;
  /**
   * Next to other corpora, train on the TESS clips of every n-th word only (sorted words; 1 or absent:
   * all; a TESS-only model always uses all). The test split is unchanged (built from all clips), so TESS
   * test clips of other words are also new words.
   */
  tessWords?: number;
  /**
   * Calibration from a development run's pooled out-of-fold predictions (the JSON file that
   * `training/develop.ts --out` writes, read and checked by the caller before training starts: a wrong
   * file must not cost a whole run), when the package's own folds are not run.
   */
  calibrateOn?: { source: string; run: DevelopmentRun };
  /**
   * Speaker-shift training (speaker-shift.ts): every training matrix shifted as adaptation to n earlier
   * clips of its speaker would shift it, and the package's `speakerAdaptation` written to match. With
   * `apply` 'input' (`train --speaker-offset`) the frames stay as recorded and every member gets the
   * offset as a head input instead (`LstmConfig.offsetInput`, the graph's `speaker_offset`).
   */
  speakerShift?: {
    shrinkageClips: number;
    minClips: number;
    apply?: 'shift' | 'input';
    /** With 'input': each copy's offset is its virtual speaker's (speaker-shift.ts `virtualSpeakerOffsets`). */
    virtualSpeakers?: boolean;
  };
  settings: ModelSettings;
  /**
   * Speakers held out whole from the multi-corpus model (ignored for a TESS-only model). 'auto': the
   * training job's rule (`chooseHeldOutSpeakers`); 'none': no speaker is held out and only TESS's random
   * fifth is tested; an empty list (or, unless `heldOutNamed`, none of them in the data) falls back to a
   * random split of every clip.
   */
  heldOutSpeakers: string[] | 'none' | 'auto';
  /** The held-out speakers were named on purpose (`--heldout`): each must be in the data, or it refuses. */
  heldOutNamed?: boolean;
  experiments: ExperimentName[];
  /** Epoch cap for the extra experiments (they are budgeted: the shipped model gets the full run). */
  experimentEpochs: number;
  progress: boolean;
  cacheDir?: string;
  version: string;
  command: string;
  log?: (line: string) => void;
  /** Re-run the test clips through the deployed predictor and add the comparison to REPORT.md (default on). */
  predictorCheck?: boolean;
  /** Each epoch of the main model (not of the extra experiments): the training-job runner's progress. */
  onEpoch?: (record: EpochRecord, member: { member: number; members: number }) => void | Promise<void>;
}

export interface TrainPackageResult {
  metadata: ModelMetadata;
  parityMaxDiff: number;
  onnxBytes: number;
  seconds: number;
  experiments: ExperimentResult[];
  /** What the dataset scan and the decoder left out, for whoever asked for the training. */
  dataset: {
    failed: Array<{ path: string; error: string }>;
    skipped: Record<string, number>;
    unrecognised: string[];
  };
}

/** Metrics of an ONNX model on clips, from onnxruntime's outputs (used by train and evaluate alike). */
export async function onnxMetrics(
  onnx: Uint8Array,
  items: ClipFeatures[],
  frames: number,
  labels: readonly string[],
  cmvn: boolean,
): Promise<Metrics> {
  const probabilities = await predictWithOnnx(onnx, items, frames, labels.length, 64, cmvn);
  return computeMetrics(
    labels,
    items.map((i) => labelIndex(labels, i.clip.emotion)),
    argmaxRows(probabilities, labels.length),
  );
}

const sha1 = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest('hex');

/** Metrics as stored in metadata.json (everything `npm run evaluate` prints). */
export function storedMetrics(m: Metrics) {
  return {
    accuracy: m.accuracy,
    macroF1: m.macroF1,
    weightedF1: m.weightedF1,
    support: m.support,
    macro: m.macro,
    weighted: m.weighted,
    perClass: m.perClass,
    confusion: m.confusion,
  };
}

/** Named parts of the main split's test set (what metadata.metrics holds). */
export function testSubsets(
  corpora: Corpus[],
  heldOut: string[],
): Record<string, (item: ClipFeatures) => boolean> {
  if (corpora.length === 1 && corpora[0] === 'tess') return { 'tess-random': () => true };
  const heldOutName = heldOut.every((s) => s.startsWith('ravdess:'))
    ? 'ravdess-heldout-actors'
    : 'heldout-speakers';
  return {
    'tess-random': (i) => i.clip.corpus === 'tess' && !heldOut.includes(i.clip.speaker),
    // No table for a held-out set the split does not have (a package trained on every voice).
    ...(heldOut.length > 0 ? { [heldOutName]: (i: ClipFeatures) => heldOut.includes(i.clip.speaker) } : {}),
    'all-test': () => true,
  };
}

async function examplePanels(
  items: ClipFeatures[],
  trimmed: (path: string) => Promise<{ samples: Float32Array }>,
  config: FeatureConfig,
): Promise<WaveformPanel[]> {
  const logMel = createFeatureExtractor({ ...config, kind: 'logmel' });
  const panels: WaveformPanel[] = [];
  for (const emotion of EMOTIONS) {
    // One clip per emotion, the same speaker and word where possible so the emotion is what differs.
    const item =
      items.find(
        (i) => i.clip.speaker === 'tess:YAF' && i.clip.text === 'dog' && i.clip.emotion === emotion,
      ) ?? items.find((i) => i.clip.emotion === emotion);
    if (!item) continue;
    const { samples } = await trimmed(item.clip.path);
    panels.push({
      title: `${emotion}`,
      samples,
      sampleRate: config.sampleRate,
      logMel: logMel.extract(samples),
    });
  }
  return panels;
}

function overviewOf(
  items: ClipFeatures[],
  duplicates: number,
  failed: Array<{ path: string; error: string }>,
  skipped: Record<string, number>,
  config: FeatureConfig,
): DatasetOverview {
  const perSpeaker: Record<string, Record<string, number>> = {};
  for (const i of items) {
    const row = perSpeaker[i.clip.speaker] ?? {};
    row[i.clip.emotion] = (row[i.clip.emotion] ?? 0) + 1;
    perSpeaker[i.clip.speaker] = row;
  }
  return {
    perSpeaker,
    durations: items.map((i) => i.durationSec),
    // Trimmed span length from its frame count (exact to one hop).
    speechDurations: items.map(
      (i) => ((i.original.frames - 1) * config.hopSize + config.frameSize) / config.sampleRate,
    ),
    duplicates,
    failed,
    skipped,
  };
}

type Log = (line: string) => void;

/** Examples logged of each kind of unusable row or file (the counts are whole). */
const PROBLEM_EXAMPLES = 3;

interface PreparedData {
  scan: Awaited<ReturnType<typeof scanDataset>>;
  trimmed: (path: string) => Promise<{ samples: Float32Array }>;
  kept: ClipFeatures[];
  /** `kept` without the clips that may only be tested (see `tessWords`): what extra splits train on. */
  trainable: ClipFeatures[];
  duplicates: Array<[string, string]>;
  failed: Array<{ path: string; error: string }>;
  heldOut: string[];
  tessOnly: boolean;
  split: Split<ClipFeatures>;
}

/** Scan → features (cached; training copies included) → de-duplicate → the main split. */
async function prepareData(
  options: TrainPackageOptions,
  config: FeatureConfig,
  log: Log,
): Promise<PreparedData> {
  const scan = await scanDataset(options.dataDir, options.corpora);
  log(`${scan.clips.length} labelled clips in ${scan.root} (${options.corpora.join(', ')})`);
  // What a training job lists in its datasetSummary, said before the long part (decoder refusals follow).
  for (const line of datasetProblemLines(datasetProblems(scan, [], PROBLEM_EXAMPLES))) log(line);
  const heldOutListed = heldOutSpeakersOf(options, scan, log);
  // A TESS-only model (the on-demand retraining) keeps every TESS word: TESS is all it has.
  const tessAlone = options.corpora.length === 1 && options.corpora[0] === 'tess';
  const trainWords = tessAlone ? undefined : tessTrainingWords(scan.clips, options.tessWords);
  const inTraining = (c: Clip) => c.corpus !== 'tess' || !trainWords || trainWords.has(c.text);
  const pipeline = await createFeaturePipeline({
    config,
    augmentCopies: options.augmentCopies,
    augmentation: options.augmentation,
    seed: options.seed,
    channelCopies: options.channelCopies,
    channel: options.channel,
    corpusCopies: options.corpusCopies,
    cacheDir: options.cacheDir,
    progress: options.progress,
  });
  // Clips that can only be tested (TESS words outside `tessWords`) need no training copies.
  const testOnly = await createFeaturePipeline({
    config,
    augmentCopies: 0,
    augmentation: options.augmentation,
    seed: options.seed,
    cacheDir: options.cacheDir,
    progress: options.progress,
  });
  const first = await pipeline.run(scan.clips.filter(inTraining));
  const second = await testOnly.run(scan.clips.filter((c) => !inTraining(c)));
  const all = [...first.items, ...second.items];
  const failed = [...first.failed, ...second.failed];
  for (const f of failed) log(`skipped (decoder refused): ${f.path}: ${f.error}`);
  const { kept, duplicates } = dedupe(all);
  if (duplicates.length) log(`${duplicates.length} duplicate clip(s) removed before splitting`);
  const split = mainSplit(options, kept, heldOutListed, log);
  if (trainWords) {
    split.train = split.train.filter((i) => inTraining(i.clip));
    split.validation = split.validation.filter((i) => inTraining(i.clip));
    split.description += `; TESS training clips: every ${options.tessWords}th word (${trainWords.size} of ${new Set(scan.clips.filter((c) => c.corpus === 'tess').map((c) => c.text)).size} words)`;
  }
  assertNoLeak(split);
  log(
    `split ${split.name}: ${split.train.length} train / ${split.validation.length} validation / ${split.test.length} test`,
  );
  assertTrainable(split, kept);
  const trainable = kept.filter((i) => inTraining(i.clip));
  const { heldOut, tessOnly } = split;
  return { scan, trimmed: pipeline.trimmed, kept, trainable, duplicates, failed, heldOut, tessOnly, split };
}

/** The main split: TESS alone at random, else the held-out speakers whole (none: a random split). */
function mainSplit(
  options: TrainPackageOptions,
  kept: ClipFeatures[],
  listed: string[],
  log: Log,
): Split<ClipFeatures> & { heldOut: string[]; tessOnly: boolean } {
  const everyVoice = options.heldOutSpeakers === 'none';
  const heldOut = listed.filter((s) => kept.some((i) => i.clip.speaker === s));
  const tessOnly = options.corpora.length === 1 && options.corpora[0] === 'tess';
  if (!tessOnly && heldOut.length === 0 && !everyVoice)
    log('no held-out speaker: random split of every clip, voices shared between training and test');
  const split =
    tessOnly || (heldOut.length === 0 && !everyVoice)
      ? randomSplit(tessOnly ? 'tess-random' : 'random', kept, options.seed)
      : multiCorpusSplit('multi-corpus', kept, heldOut, options.seed);
  return { ...split, heldOut, tessOnly };
}

/**
 * Speakers held out whole, so that the test split is speaker-independent: the shipped recipe's RAVDESS
 * actors 11–12 when present, else the last fifth (at least one) of the speakers outside TESS when there
 * are three or more. TESS alone has two voices: none is held out (its split is random). The one rule of
 * a training job and of `npm run train` by default (`--heldout auto`), so a local run predicts a job's split.
 */
export function chooseHeldOutSpeakers(clips: readonly Clip[]): string[] {
  const speakers = [...new Set(clips.map((c) => c.speaker))].sort();
  const recipe = DEFAULTS.heldOutSpeakers.filter((s) => speakers.includes(s));
  if (recipe.length > 0) return recipe;
  const others = speakers.filter((s) => !s.startsWith('tess:'));
  if (others.length < 3) return [];
  return others.slice(-Math.max(1, Math.round(others.length / 5)));
}

/**
 * The speakers named to be held out that the data has. Named on purpose (`heldOutNamed`), every one must
 * be there and the model one they can be held out of: a random split instead would mix the voices
 * silently. The default's missing speakers are logged.
 */
function heldOutSpeakersOf(options: TrainPackageOptions, scan: DatasetScan, log: Log): string[] {
  const named = options.heldOutSpeakers;
  if (named === 'none') return [];
  if (named === 'auto') {
    const chosen = chooseHeldOutSpeakers(scan.clips);
    if (chosen.length > 0) log(`held out whole (the training job's rule): ${chosen.join(', ')}`);
    return chosen;
  }
  const speakers = [...new Set(scan.clips.map((c) => c.speaker))].sort();
  const missing = named.filter((s) => !speakers.includes(s));
  const tessOnly = options.corpora.length === 1 && options.corpora[0] === 'tess';
  if (options.heldOutNamed && named.length > 0 && tessOnly)
    throw new DatasetError(
      `--heldout ${named.join(',')}: a TESS-only model is split at random (both TESS voices train); leave --heldout out`,
    );
  if (options.heldOutNamed && missing.length > 0)
    throw new DatasetError(
      `--heldout: ${missing.join(', ')} not in the data (its speakers: ${listed(speakers, 40)}); name speakers it has, or --heldout none`,
    );
  if (missing.length > 0 && !tessOnly) log(`held-out speakers not in the data: ${missing.join(', ')}`);
  return named.filter((s) => speakers.includes(s));
}

const listed = (items: string[], max: number) =>
  items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');

/**
 * Fewest training clips of every emotion the data has: a model cannot learn an emotion it never trains
 * on (docs/training-jobs.md).
 */
export const MIN_TRAINING_CLIPS_PER_EMOTION = 1;

/** Refuses a split that cannot give a usable package: an emotion missing from training, or no test clip. */
function assertTrainable(split: Split<ClipFeatures>, kept: ClipFeatures[]): void {
  const emotions = [...new Set(kept.map((i) => i.clip.emotion))];
  const short = emotions.filter(
    (e) => split.train.filter((i) => i.clip.emotion === e).length < MIN_TRAINING_CLIPS_PER_EMOTION,
  );
  if (short.length > 0)
    throw new DatasetError(
      `too few clips to train on: ${short.join(', ')} ${short.length > 1 ? 'have' : 'has'} fewer than ${MIN_TRAINING_CLIPS_PER_EMOTION} training clip(s) in split ${split.name} (${split.train.length} train / ${split.test.length} test of ${kept.length} usable clips)`,
    );
  if (split.test.length === 0)
    throw new DatasetError(
      `too few clips to test on: split ${split.name} has no test clip (${split.train.length} train of ${kept.length} usable clips; a random split tests only emotions with 2 or more clips of a corpus)`,
    );
}

/** The TESS words kept for training: every `n`-th of the sorted words (undefined: all of them). */
export function tessTrainingWords(clips: Clip[], n: number | undefined): Set<string> | undefined {
  if (!n || n <= 1) return undefined;
  const words = [...new Set(clips.filter((c) => c.corpus === 'tess').map((c) => c.text))].sort();
  return new Set(words.filter((_, i) => i % n === 0));
}

interface ExperimentContext {
  labels: readonly string[];
  featureConfig: FeatureConfig;
  maxFrames: number;
  seed: number;
  progress: boolean;
}

/** The shipped model: train (ensemble) → ONNX → parity with tfjs → metrics of each named test set. */
async function trainMain(
  data: PreparedData,
  options: TrainPackageOptions,
  context: ExperimentContext,
  subsets: Record<string, (item: ClipFeatures) => boolean>,
  cmvn: boolean,
  log: Log,
) {
  const { split } = data;
  const { labels, maxFrames: frames } = context;
  const adaptation = speakerAdaptationOf(split, options);
  const virtual = options.speakerShift?.virtualSpeakers === true;
  const trainedOn = adaptation ? speakerShiftSplit(split, adaptation, options.seed, virtual) : split;
  const settings =
    adaptation?.apply === 'input'
      ? { ...options.settings, offsetInput: adaptation.channels.length }
      : options.settings;
  const main: TrainedExperiment = await runExperiment(trainedOn, settings, {
    ...context,
    subsets,
    onEpoch: options.onEpoch,
  });
  const members = main.learners.map((l) => (l as unknown as { model: LstmModel }).model.weights());
  const onnx = exportLstmToOnnx(members, {
    frames,
    labels,
    docString: `Speech emotion LSTM trained on ${options.corpora.join('+')} (${options.version})`,
  });
  const onnxProbabilities = await predictWithOnnx(onnx, split.test, frames, labels.length, 64, cmvn);
  const parityMaxDiff = maxAbsDiff(onnxProbabilities, main.testProbabilities);
  log(
    `ONNX ${onnx.length} bytes; parity with tfjs on ${split.test.length} test clips: max |Δp| = ${parityMaxDiff}`,
  );
  // Each named test set is run on its own, in the order splits.json records, so that `npm run evaluate
  // --split recorded` feeds onnxruntime the very same batches and prints the very same numbers.
  const metrics: Record<string, Metrics> = {};
  for (const [name, keep] of Object.entries(subsets)) {
    const items = split.test.filter(keep);
    if (items.length === 0) continue;
    metrics[name] = await onnxMetrics(onnx, items, frames, labels, cmvn);
    log(
      `${name}: accuracy ${metrics[name].accuracy}, macro-F1 ${metrics[name].macroF1} (${items.length} clips); ${collapseText(metrics[name])}`,
    );
  }
  return { main, members, onnx, parityMaxDiff, metrics, adaptation };
}

/** The package's speaker adaptation with `speakerShift`: population from the training speakers. */
function speakerAdaptationOf(
  split: Split<ClipFeatures>,
  options: TrainPackageOptions,
): SpeakerAdaptation | undefined {
  if (!options.speakerShift) return undefined;
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  const { virtualSpeakers: _training, ...setting } = options.speakerShift;
  return {
    channels: [...SHIFT_CHANNELS],
    populationMean: populationMean(split.train, SHIFT_CHANNELS).map(round),
    ...setting,
  };
}

/**
 * The split with its training and validation clips speaker-shifted, or carrying their speaker offsets
 * with `apply` 'input' (the test clips stay as recorded, without context).
 */
export function speakerShiftSplit(
  split: Split<ClipFeatures>,
  adaptation: SpeakerAdaptation,
  seed: number,
  virtualSpeakers = false,
): Split<ClipFeatures> {
  const adapt = (items: ClipFeatures[], a: SpeakerAdaptation, s: number) =>
    a.apply === 'input' ? speakerOffsetItems(items, a, s, virtualSpeakers) : speakerShiftItems(items, a, s);
  return {
    ...split,
    train: adapt(split.train, adaptation, seed),
    validation: adapt(split.validation, adaptation, seed + 1),
  };
}

interface ExtraResults {
  experiments: ExperimentResult[];
  folds?: FoldsResult;
  /** The development run the calibration comes from (`calibrateOn`). */
  development?: { source: string; run: DevelopmentRun };
}

/** Runs one extra split with its own (budgeted) model and records it. */
async function runExtra(
  extras: ExtraResults,
  context: ExperimentContext,
  s: Split<ClipFeatures>,
  settings: ModelSettings,
  log: Log,
  subsets?: Record<string, (i: ClipFeatures) => boolean>,
) {
  assertNoLeak(s);
  const r = await runExperiment(s, settings, { ...context, subsets });
  for (const l of r.learners) for (const v of l.variables) v.dispose();
  extras.experiments.push(r.result);
  log(
    `experiment ${s.name} (${settings.kind}): accuracy ${r.result.test.accuracy}, macro-F1 ${r.result.test.macroF1}; ${collapseText(r.result.test)}`,
  );
  return r;
}

/**
 * Cross-condition: a model trained on one corpus only and tested on every clip of the other (another
 * studio, other voices, other words): TESS → RAVDESS and RAVDESS → TESS.
 */
function crossCorpusSplits(kept: ClipFeatures[], seed: number): Split<ClipFeatures>[] {
  const splits: Split<ClipFeatures>[] = [];
  for (const [from, to] of [
    ['tess', 'ravdess'],
    ['ravdess', 'tess'],
  ] as const) {
    const source = kept.filter((i) => i.clip.corpus === from);
    const target = kept.filter((i) => i.clip.corpus === to);
    if (source.length === 0 || target.length === 0) continue;
    const inner = randomSplit(`${from}-only`, source, seed, 0, 0.1);
    splits.push({
      name: `${from}-only-to-${to}`,
      description: `cross-corpus: train on the ${source.length} ${from.toUpperCase()} clips in use (10 % for validation), test on the ${target.length} ${to.toUpperCase()} clips in use (another studio, other voices and words)`,
      train: inner.train,
      validation: inner.validation,
      test: target,
    });
  }
  return splits;
}

/** The RAVDESS actor folds (every actor held out once), recorded with their pooled result. */
async function runActorFolds(
  extras: ExtraResults,
  kept: ClipFeatures[],
  budget: ModelSettings,
  context: ExperimentContext,
  log: Log,
): Promise<void> {
  extras.folds = await actorFolds(kept, budget, context, { log });
  extras.experiments.push(...extras.folds.experiments);
  const f = extras.folds;
  log(
    `RAVDESS actor folds pooled: accuracy ${f.pooled.accuracy} ± ${f.standardError.toFixed(3)}, macro-F1 ${f.pooled.macroF1} (${f.pooled.support} clips); ${collapseText(f.pooled)}; temperature ${f.calibration.temperature}, ECE ${f.calibration.eceBefore} → ${f.calibration.eceCrossFitted} (cross-fitted)`,
  );
}

/** The MLP baseline: a pooled-feature model needs more epochs and patience than the budgeted LSTMs. */
function mlpSettings(budget: ModelSettings): ModelSettings {
  return { ...budget, kind: 'mlp', epochs: Math.max(budget.epochs, 60), patience: 10, learningRate: 1e-3 };
}

/** Every extra split asked for (`--experiments`), each its own model on its own training part. */
async function runExtraExperiments(
  data: PreparedData,
  options: TrainPackageOptions,
  context: ExperimentContext,
  subsets: Record<string, (item: ClipFeatures) => boolean>,
  log: Log,
): Promise<ExtraResults> {
  const { trainable: kept, heldOut, tessOnly, split } = data;
  const { seed } = options;
  const extras: ExtraResults = { experiments: [] };
  const budget: ModelSettings = { ...options.settings, epochs: options.experimentEpochs };
  const tess = kept.filter((i) => i.clip.corpus === 'tess');
  const ravdessHeld = kept.filter((i) => heldOut.includes(i.clip.speaker));
  const has = (name: ExperimentName) => options.experiments.includes(name);
  if (has('ravdess-folds') && !tessOnly) {
    // First: its pooled out-of-fold predictions are what the package's calibration is fitted on.
    await runActorFolds(extras, kept, budget, context, log);
  }
  if ((has('tess-random') || has('tess-to-ravdess')) && !tessOnly && tess.length > 0) {
    // The default retraining recipe (TESS only); also judged on the held-out RAVDESS actors (cross-corpus).
    const s = randomSplit('tess-only-random', tess, seed);
    if (has('tess-to-ravdess') && ravdessHeld.length > 0) {
      s.test = [...s.test, ...ravdessHeld];
      s.description += `; its test part also holds every clip of ${heldOut.join(', ')} (a corpus and voices it never heard)`;
    }
    await runExtra(extras, context, s, budget, log, {
      'tess test': (i) => i.clip.corpus === 'tess',
      ...(ravdessHeld.length > 0
        ? { 'held-out RAVDESS actors': (i: ClipFeatures) => heldOut.includes(i.clip.speaker) }
        : {}),
    });
  }
  if (has('tess-speaker')) {
    const speakers = [...new Set(tess.map((i) => i.clip.speaker))].sort();
    if (speakers.length === 2) {
      for (const [trainOn, testOn] of [speakers, [...speakers].reverse()] as Array<[string, string]>) {
        const name = `tess-${trainOn.split(':')[1]}-to-${testOn.split(':')[1]}`;
        await runExtra(extras, context, speakerSplit(name, tess, [testOn], seed), budget, log);
      }
    }
  }
  if (has('tess-voice-out') && !tessOnly) {
    // The whole recipe's figure for a new TESS voice: everything the package trains on but that voice.
    const trainedOn = kept.filter((i) => !heldOut.includes(i.clip.speaker));
    for (const testOn of [...new Set(tess.map((i) => i.clip.speaker))].sort()) {
      const voice = testOn.split(':')[1];
      const name = `all-but-${voice}-to-${voice}`;
      await runExtra(extras, context, speakerSplit(name, trainedOn, [testOn], seed), budget, log);
    }
  }
  if (has('cross-corpus') && !tessOnly) {
    for (const s of crossCorpusSplits(kept, seed)) await runExtra(extras, context, s, budget, log);
  }
  if (has('mlp')) {
    const mlp: ModelSettings = mlpSettings(budget);
    await runExtra(extras, context, split, mlp, log, subsets);
  }
  return extras;
}

/**
 * Population statistics of the training clips' per-utterance channel means (the first `dims` entries of
 * the model's statistics standardisation): what speaker adaptation shifts a voice's means toward.
 */
function populationStats(member: LstmModel | undefined, config: FeatureConfig) {
  const weights = member?.weights();
  if (!weights?.statsMean || !weights.statsStd) return undefined;
  const dims = featureDimension(config);
  const spectral = dims - (config.prosody ? 3 : 0);
  const round = (v: number) => Math.round(v * 1e5) / 1e5;
  return {
    description:
      "mean and standard deviation over the training clips (augmented copies included) of each channel's per-utterance mean",
    channels: [
      ...Array.from({ length: spectral }, (_, i) => `${config.kind}${i}`),
      ...(config.prosody ? ['pitch', 'voicing', 'level'] : []),
    ],
    utteranceMean: {
      mean: Array.from(weights.statsMean.subarray(0, dims), round),
      std: Array.from(weights.statsStd.subarray(0, dims), round),
    },
  };
}

/** The held-out speakers of fold runs and their clips, for the calibration note (from the run, never assumed). */
function foldsHeldOut(folds: FoldsResult['folds']): { actors: string; clips: number } {
  return {
    actors: folds.flatMap((f) => f.actors).join(', '),
    clips: folds.reduce((n, f) => n + f.clips, 0),
  };
}

/** The calibration shipped with the package: fitted on the pooled out-of-fold predictions. */
export function packageCalibration(
  folds: FoldsResult | undefined,
  dev: { source: string; run: DevelopmentRun } | undefined,
) {
  if (!folds && dev) {
    const c = dev.run.calibration;
    // Not dev.run.clips: develop.ts records every clip it scanned there, TESS included.
    const held = foldsHeldOut(dev.run.folds);
    return {
      method: 'temperature' as const,
      temperature: c.temperature,
      lowConfidenceBelow: LOW_CONFIDENCE_BELOW,
      fittedOn: `out-of-fold predictions of development run ${dev.run.name} (${dev.source}): ${held.actors} each held out once, ${held.clips} clips in its folds; expected calibration error ${c.eceBefore} before, ${c.eceCrossFitted} after when each fold's temperature is fitted on the other folds`,
    };
  }
  if (!folds) return undefined;
  return {
    method: 'temperature' as const,
    temperature: folds.calibration.temperature,
    lowConfidenceBelow: LOW_CONFIDENCE_BELOW,
    fittedOn: `out-of-fold predictions for RAVDESS actors ${foldsHeldOut(folds.folds).actors} (${folds.pooled.support} clips, single-LSTM fold models; expected calibration error ${folds.calibration.eceBefore} before, ${folds.calibration.eceCrossFitted} after when each fold's temperature is fitted on the other folds)`,
  };
}

/**
 * A package's version when none is given: its corpora, the UTC time to the second and `tag` (a job's id, a
 * run's random suffix), e.g. `tess+ravdess-20261207T083012-1a2b`. A version names one package for good
 * (the registry refuses it with another sha256), so two runs never share one, not even on the same day.
 */
export const packageVersion = (corpora: readonly string[], at: Date, tag: string): string =>
  `${corpora.join('+')}-${at.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${tag}`;

/**
 * The whole training run behind `npm run train`: features (cached) → split → train the LSTM → export
 * ONNX → parity check (tfjs vs onnxruntime on every test clip) → metrics from the ONNX outputs → optional
 * extra experiments (each its own model and split; the RAVDESS actor folds also fit the calibration) →
 * package folder with model.onnx, metadata.json, splits.json (the test clips, for `npm run evaluate
 * --split recorded`), REPORT.md, figures.
 */
export async function trainPackage(options: TrainPackageOptions): Promise<TrainPackageResult> {
  // Checked before anything is loaded: without TESS the every-voice split would have no test part.
  if (options.heldOutSpeakers === 'none' && !options.corpora.includes('tess'))
    throw new DatasetError("--heldout none tests on TESS's random fifth: add tess to --corpora");
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const backend = await initTf();
  // A model with in-model CMVN takes raw features: its package says so, and the predictor then skips CMVN.
  const inModelCmvn = options.settings.kind === 'lstm' && options.settings.utteranceStats;
  const config: FeatureConfig = inModelCmvn
    ? { ...options.featureConfig, normalization: 'none' }
    : options.featureConfig;
  const cmvn = config.normalization === 'utterance';
  const labels = EMOTIONS;
  const frames = frameCount(
    Math.round(options.windowSec * config.sampleRate),
    config.frameSize,
    config.hopSize,
  );
  log(`tfjs backend: ${backend}; window ${options.windowSec} s = ${frames} frames`);
  const data = await prepareData(options, config, log);
  const subsets = testSubsets(options.corpora, data.heldOut);
  const context = {
    labels,
    featureConfig: config,
    maxFrames: frames,
    seed: options.seed,
    progress: options.progress,
  };
  const trained = await trainMain(data, options, context, subsets, cmvn, log);
  const extras = await runExtraExperiments(data, options, context, subsets, log);
  if (options.calibrateOn && !extras.folds) extras.development = options.calibrateOn;
  const firstMember = (trained.main.learners[0] as unknown as { model?: LstmModel } | undefined)?.model;
  const metadata = buildMetadata(options, config, frames, backend, data, trained, extras, firstMember);
  const seconds = await writePackage(options, metadata, data, trained, extras, {
    config,
    backend,
    started,
    inModelCmvn,
  });
  log(`wrote ${options.outDir} in ${Math.round(seconds)} s`);
  return {
    metadata,
    parityMaxDiff: trained.parityMaxDiff,
    onnxBytes: trained.onnx.length,
    seconds,
    experiments: extras.experiments,
    dataset: { failed: data.failed, skipped: data.scan.skipped, unrecognised: data.scan.unrecognised },
  };
}

type Trained = Awaited<ReturnType<typeof trainMain>>;

/** metadata.training.augmentation: what the training copies were, and that only training clips got them. */
function augmentationRecord(options: TrainPackageOptions) {
  return {
    copiesPerClip: options.augmentCopies,
    channelCopiesPerClip: options.channelCopies,
    perCorpus: options.corpusCopies,
    appliedTo: 'training clips only',
    spec: options.augmentation,
    channel: options.channelCopies > 0 || options.corpusCopies ? options.channel : undefined,
    methods: [
      'spectral scaling (pitch + formants, vocal-tract-length-like) via WSOLA time stretch + resampling',
      'speed change (resampling)',
      'time shift (silence added/cut at the start)',
      'white noise at random SNR',
      'channel copies: synthetic room reverberation, EQ (tilt + peak), white/hum/babble noise, telephone band with 8 kHz µ-law, gain with clipping',
    ],
  };
}

function optimiserRecord(settings: ModelSettings) {
  return {
    name: 'adam',
    learningRate: settings.learningRate,
    batchSize: settings.batchSize,
    labelSmoothing: settings.labelSmoothing ?? 0.05,
    ...(settings.mixup ? { mixup: settings.mixup } : {}),
    ...(settings.speakerAdversary ? { speakerAdversary: settings.speakerAdversary } : {}),
    clipNorm: 5,
    earlyStoppingPatience: settings.patience,
  };
}

/** The RAVDESS actor folds' pooled result and calibration, as stored in metadata.json. */
function foldsRecord(folds: FoldsResult) {
  return {
    accuracy: folds.pooled.accuracy,
    standardError: Math.round(folds.standardError * 1000) / 1000,
    macroF1: folds.pooled.macroF1,
    support: folds.pooled.support,
    largestClassShare: folds.largestShare,
    calibration: {
      temperature: folds.calibration.temperature,
      eceBefore: folds.calibration.eceBefore,
      eceCrossFitted: folds.calibration.eceCrossFitted,
      eceAfter: folds.calibration.eceAfter,
      lowConfidence: folds.calibration.lowConfidence,
    },
  };
}

/** One extra experiment as stored in metadata.json. */
function experimentRecord(e: ExperimentResult) {
  return {
    split: e.split,
    description: e.description,
    model: e.settings.kind,
    epochsRun: e.history.length,
    bestEpoch: e.bestEpoch,
    trainSeconds: e.trainSeconds,
    accuracy: e.test.accuracy,
    macroF1: e.test.macroF1,
    largestClassShare: largestClassShare(e.test.confusion).share,
    subsets: Object.fromEntries(
      Object.entries(e.subsets).map(([k, m]) => [
        k,
        { accuracy: m.accuracy, macroF1: m.macroF1, support: m.support },
      ]),
    ),
  };
}

/** The shipped model's split as stored in metadata.json (its test clips are listed in splits.json). */
function splitRecord(split: Split<ClipFeatures>, heldOut: string[]) {
  return {
    name: split.name,
    description: split.description,
    heldOutSpeakers: heldOut,
    sizes: { train: split.train.length, validation: split.validation.length, test: split.test.length },
    testClips: 'splits.json',
  };
}

function buildMetadata(
  options: TrainPackageOptions,
  config: FeatureConfig,
  frames: number,
  backend: string,
  data: PreparedData,
  trained: Trained,
  extras: ExtraResults,
  firstMember: LstmModel | undefined,
): ModelMetadata {
  const { kept, duplicates, failed, heldOut, split } = data;
  const { main, onnx, metrics } = trained;
  const folds = extras.folds;
  const calibration = packageCalibration(folds, extras.development);
  const metadata: ModelMetadata = {
    name: 'ser-lstm',
    version: options.version,
    createdAt: new Date().toISOString(),
    labels: [...EMOTIONS],
    featureConfig: config,
    input: { windowSec: options.windowSec, frames, dims: featureDimension(config) },
    onnxFile: 'model.onnx',
    sha256: sha256Hex(onnx),
    ...(calibration ? { calibration } : {}),
    ...(trained.adaptation ? { speakerAdaptation: trained.adaptation } : {}),
    training: {
      corpora: options.corpora,
      clips: { total: kept.length, duplicatesRemoved: duplicates.length, decoderRefused: failed.length },
      split: splitRecord(split, heldOut),
      seed: options.seed,
      epochs: { max: options.settings.epochs, run: main.result.history.length, best: main.result.bestEpoch },
      augmentation: augmentationRecord(options),
      architecture: main.result.model,
      optimiser: optimiserRecord(options.settings),
      backend: `@tensorflow/tfjs ${backend}`,
      trainSeconds: main.result.trainSeconds,
      parityMaxDiff: trained.parityMaxDiff,
      history: main.result.history,
      command: options.command,
      ravdessActorFoldsPooled: folds ? foldsRecord(folds) : undefined,
      population: populationStats(firstMember, config),
      ...(trained.adaptation
        ? {
            speakerShift:
              trained.adaptation.apply === 'input'
                ? `every training matrix carries the speaker offset for n ∈ {0,1,3,10,30} earlier clips as a head input, frames unshifted${options.speakerShift?.virtualSpeakers ? ", each copy's offset its virtual speaker's" : ''} (speaker-shift.ts)`
                : 'every training matrix shifted for n ∈ {0,1,3,10,30} earlier clips (speaker-shift.ts)',
          }
        : {}),
      ensemble: main.result.members,
      experiments: extras.experiments.map(experimentRecord),
    },
    metrics: Object.fromEntries(Object.entries(metrics).map(([k, m]) => [k, storedMetrics(m)])),
  };
  ModelMetadataSchema.parse(metadata);
  return metadata;
}

/** splits.json: the test clips of every named test set, matched by the sha1 of their file bytes. */
function splitsFileOf(options: TrainPackageOptions, data: PreparedData) {
  const { split, scan } = data;
  const subsets = testSubsets(options.corpora, data.heldOut);
  return {
    split: split.name,
    description: split.description,
    seed: options.seed,
    dataRoot: 'paths are relative to the --data folder; clips are matched by the sha1 of their file bytes',
    sets: Object.fromEntries(
      Object.entries(subsets).map(([name, keep]) => [
        name,
        split.test.filter(keep).map((i) => ({ path: relative(scan.root, i.clip.path), sha1: i.fileHash })),
      ]),
    ),
  };
}

type PackageRun = { config: FeatureConfig; backend: string; started: number; inModelCmvn: boolean };

/** Everything REPORT.md and its figures are drawn from. */
function reportInputOf(
  options: TrainPackageOptions,
  metadata: ModelMetadata,
  data: PreparedData,
  trained: Trained,
  extras: ExtraResults,
  run: PackageRun & { seconds: number },
): ReportInput {
  const { config } = run;
  const { split, scan } = data;
  const out = options.outDir;
  return {
    title: `Model report: ${metadata.name} ${metadata.version}`,
    modelDir: out,
    labels: EMOTIONS,
    corpora: options.corpora,
    splitName: split.name,
    splitDescription: split.description,
    everyVoiceTrains: options.heldOutSpeakers === 'none' && !data.tessOnly,
    metrics: trained.metrics,
    main: trained.main.result,
    experiments: extras.experiments,
    overview: overviewOf(data.kept, data.duplicates.length, data.failed, scan.skipped, config),
    parityMaxDiff: trained.parityMaxDiff,
    onnxBytes: trained.onnx.length,
    totalSeconds: run.seconds,
    command: options.command,
    evaluateCommand: `npm run evaluate -- --model ${relative(process.cwd(), out) || '.'} --split recorded`,
    backend: run.backend,
    extraFigures: { 'one clip per emotion: waveform and log-mel spectrogram': 'figures/examples.svg' },
    folds: extras.folds,
    development: extras.development,
    foldsPooled: extras.folds?.pooled,
    pipelineText: run.inModelCmvn
      ? `VAD trim → meyda-identical ${config.kind === 'mfcc' ? 'MFCC' : 'log-mel'} → the model's own per-utterance CMVN`
      : `VAD trim → meyda-identical ${config.kind === 'mfcc' ? 'MFCC' : 'log-mel'} → per-utterance CMVN`,
    notes: [] as string[],
    window: {
      frames: metadata.input.frames,
      seconds: metadata.input.windowSec,
      dims: metadata.input.dims,
      hopSize: config.hopSize,
      sampleRate: config.sampleRate,
    },
  };
}

/** Adds the deployed-predictor comparison to REPORT.md; a failure is logged, the package stays usable. */
async function tryPredictorCheck(options: TrainPackageOptions, dataRoot: string): Promise<void> {
  if (options.predictorCheck === false) return;
  try {
    await appendPredictorCheck(options.outDir, dataRoot);
  } catch (error) {
    (options.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(
      `deployed-predictor check skipped: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Writes model.onnx, splits.json, metadata.json, figures and REPORT.md; returns the run's seconds. */
async function writePackage(
  options: TrainPackageOptions,
  metadata: ModelMetadata,
  data: PreparedData,
  trained: Trained,
  extras: ExtraResults,
  run: PackageRun,
): Promise<number> {
  const out = options.outDir;
  await mkdir(join(out, 'figures'), { recursive: true });
  await writeFile(join(out, 'model.onnx'), trained.onnx);
  const splitsFile = splitsFileOf(options, data);
  await writeFile(join(out, 'splits.json'), `${JSON.stringify(splitsFile, null, 1)}\n`);
  const seconds = (performance.now() - run.started) / 1000;
  const panels = await examplePanels(data.kept, data.trimmed, run.config);
  const reportInput = reportInputOf(options, metadata, data, trained, extras, { ...run, seconds });
  (metadata.training as Record<string, unknown>).totalSeconds = Math.round(seconds);
  await writeFile(join(out, METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`);
  for (const [name, svg] of Object.entries(reportFigures(reportInput)))
    await writeFile(join(out, 'figures', name), svg);
  await writeFile(
    join(out, 'figures', 'examples.svg'),
    waveformsSvg('One clip per emotion (after VAD trimming): waveform and log-mel spectrogram', panels),
  );
  await writeFile(join(out, 'REPORT.md'), reportMarkdown(reportInput));
  await tryPredictorCheck(options, data.scan.root);
  return seconds;
}

export const DEFAULTS = {
  /** The core's MFCC definition plus the prosody channels (pitch, voicing, level). */
  featureConfig: { ...DEFAULT_FEATURE_CONFIG, prosody: true } as FeatureConfig,
  seed: 1337,
  windowSec: 3,
  /**
   * Speaker-like copies (pitch/formant scaling, speed, shift, noise) per clip: 8 since 1.6.0 (rounds 16–17
   * found 8 better than 4 on two draws of seeds); TESS keeps 4 (`corpusCopies`).
   */
  augmentCopies: 8,
  augmentation: DEFAULT_AUGMENTATION,
  /**
   * The shipped recipe (1.4.0, round 6): 2 channel-degraded copies per clip (1 per TESS clip) for the
   * ensemble's members 2 and 3; member 1 trains without them (`settings.channelFreeMembers`).
   */
  channelCopies: 2,
  channel: DEFAULT_CHANNEL,
  /** TESS (2800 clips, 2 voices): 4 speaker-like copies per clip and 1 channel copy. */
  corpusCopies: { tess: { augment: 4, channel: 1 } } as TrainPackageOptions['corpusCopies'],
  /** TESS training clips: every word (1); `--tess-words 4` keeps a quarter (round 4). */
  tessWords: 1,
  settings: DEFAULT_MODEL_SETTINGS,
  /** The recipe's unseen voices, held out whenever the data has them (`chooseHeldOutSpeakers`). */
  heldOutSpeakers: ['ravdess:11', 'ravdess:12'],
  experimentEpochs: 20,
};

export type { Clip };
export { sha1 };
