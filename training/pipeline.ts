import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  DEFAULT_FEATURE_CONFIG,
  type FeatureConfig,
  featureDimension,
} from '../lambdas/core/features/config.ts';
import { createFeatureExtractor, frameCount } from '../lambdas/core/features/extract.ts';
import { type ModelMetadata, ModelMetadataSchema } from '../lambdas/core/model/metadata.ts';
import { type AugmentationSpec, DEFAULT_AUGMENTATION } from './augment.ts';
import { labelIndex } from './batches.ts';
import { type Clip, type Corpus, EMOTIONS, scanDataset } from './datasets.ts';
import {
  DEFAULT_MODEL_SETTINGS,
  type ExperimentResult,
  type ModelSettings,
  runExperiment,
  type TrainedExperiment,
} from './experiment.ts';
import { type ClipFeatures, createFeaturePipeline, dedupe } from './features.ts';
import { type WaveformPanel, waveformsSvg } from './figures.ts';
import type { LstmModel } from './lstm.ts';
import { computeMetrics, type Metrics } from './metrics.ts';
import { maxAbsDiff, predictWithOnnx } from './onnx-eval.ts';
import { exportLstmToOnnx } from './onnx-export.ts';
import { appendPredictorCheck } from './predictor-check.ts';
import { type DatasetOverview, reportFigures, reportMarkdown } from './report.ts';
import { assertNoLeak, multiCorpusSplit, randomSplit, type Split, speakerSplit } from './splits.ts';
import { initTf } from './tf.ts';
import { argmaxRows, type EpochRecord } from './trainer.ts';

export const EXPERIMENTS = [
  'tess-random',
  'tess-speaker',
  'mlp',
  'tess-to-ravdess',
  'ravdess-folds',
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
  settings: ModelSettings;
  /** Speakers held out whole from the multi-corpus model (ignored for a TESS-only model). */
  heldOutSpeakers: string[];
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
  onEpoch?: (record: EpochRecord, member: { member: number; members: number }) => void;
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

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
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
  const subsets: Record<string, (item: ClipFeatures) => boolean> = {
    'tess-random': (i) => i.clip.corpus === 'tess' && !heldOut.includes(i.clip.speaker),
    [heldOutName]: (i) => heldOut.includes(i.clip.speaker),
    'all-test': () => true,
  };
  return subsets;
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

/**
 * The whole training run behind `npm run train`: scan → features (cached) → de-duplicate → split →
 * train the LSTM → export ONNX → parity check (tfjs vs onnxruntime on every test clip) → metrics from the
 * ONNX outputs → optional extra experiments (each its own model and split) → package folder with
 * model.onnx, metadata.json, splits.json (the test clips, for `npm run evaluate --split`), REPORT.md, figures.
 */
export async function trainPackage(options: TrainPackageOptions): Promise<TrainPackageResult> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const backend = await initTf();
  const { seed } = options;
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

  const scan = await scanDataset(options.dataDir, options.corpora);
  log(`${scan.clips.length} labelled clips in ${scan.root} (${options.corpora.join(', ')})`);
  const pipeline = await createFeaturePipeline({
    config,
    augmentCopies: options.augmentCopies,
    augmentation: options.augmentation,
    seed,
    cacheDir: options.cacheDir,
    progress: options.progress,
  });
  const { items: all, failed } = await pipeline.run(scan.clips);
  for (const f of failed) log(`skipped (decoder refused): ${f.path}: ${f.error}`);
  const { kept, duplicates } = dedupe(all);
  if (duplicates.length) log(`${duplicates.length} duplicate clip(s) removed before splitting`);
  const heldOut = options.heldOutSpeakers.filter((s) => kept.some((i) => i.clip.speaker === s));
  const tessOnly = options.corpora.length === 1 && options.corpora[0] === 'tess';
  const split: Split<ClipFeatures> =
    tessOnly || heldOut.length === 0
      ? randomSplit(tessOnly ? 'tess-random' : 'random', kept, seed)
      : multiCorpusSplit('multi-corpus', kept, heldOut, seed);
  assertNoLeak(split);
  log(
    `split ${split.name}: ${split.train.length} train / ${split.validation.length} validation / ${split.test.length} test`,
  );

  const subsets = testSubsets(options.corpora, heldOut);
  const context = { labels, featureConfig: config, maxFrames: frames, seed, progress: options.progress };
  const main: TrainedExperiment = await runExperiment(split, options.settings, {
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
      `${name}: accuracy ${metrics[name].accuracy}, macro-F1 ${metrics[name].macroF1} (${items.length} clips)`,
    );
  }

  const experiments: ExperimentResult[] = [];
  let foldsPooled: Metrics | undefined;
  const budget: ModelSettings = { ...options.settings, epochs: options.experimentEpochs };
  const tess = kept.filter((i) => i.clip.corpus === 'tess');
  const run = async (
    s: Split<ClipFeatures>,
    settings: ModelSettings,
    extra?: Record<string, (i: ClipFeatures) => boolean>,
  ) => {
    assertNoLeak(s);
    const r = await runExperiment(s, settings, { ...context, subsets: extra });
    for (const l of r.learners) for (const v of l.variables) v.dispose();
    experiments.push(r.result);
    log(
      `experiment ${s.name} (${settings.kind}): accuracy ${r.result.test.accuracy}, macro-F1 ${r.result.test.macroF1}`,
    );
    return r;
  };
  const ravdessHeld = kept.filter((i) => heldOut.includes(i.clip.speaker));
  const has = (name: ExperimentName) => options.experiments.includes(name);
  if ((has('tess-random') || has('tess-to-ravdess')) && !tessOnly && tess.length > 0) {
    // The default retraining recipe (TESS only); also judged on the held-out RAVDESS actors (cross-corpus).
    const s = randomSplit('tess-only-random', tess, seed);
    if (has('tess-to-ravdess') && ravdessHeld.length > 0) {
      s.test = [...s.test, ...ravdessHeld];
      s.description += `; its test part also holds every clip of ${heldOut.join(', ')} (a corpus and voices it never heard)`;
    }
    await run(s, budget, {
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
        await run(
          speakerSplit(`tess-${trainOn.split(':')[1]}-to-${testOn.split(':')[1]}`, tess, [testOn], seed),
          budget,
        );
      }
    }
  }
  if (has('ravdess-folds') && !tessOnly) {
    // Every RAVDESS actor tested by a model that never heard them: 3 folds of 4 actors (budget: single
    // models, not ensembles), TESS split as in the main split.
    const actors = [
      ...new Set(kept.filter((i) => i.clip.corpus === 'ravdess').map((i) => i.clip.speaker)),
    ].sort();
    const foldSize = Math.ceil(actors.length / 3);
    const pooled: number[][] = labels.map(() => labels.map(() => 0));
    for (let f = 0; f * foldSize < actors.length; f++) {
      const fold = actors.slice(f * foldSize, (f + 1) * foldSize);
      const name = `actors-${fold.map((a) => a.split(':')[1]).join('-')}-held-out`;
      const r = await run(
        multiCorpusSplit(name, kept, fold, seed),
        { ...budget, ensemble: 1 },
        {
          'held-out actors': (i) => fold.includes(i.clip.speaker),
        },
      );
      const m = r.result.subsets['held-out actors'];
      for (const [i, row] of (m?.confusion ?? []).entries()) {
        for (const [j, v] of row.entries()) pooled[i]![j]! += v;
      }
    }
    const truth: number[] = [];
    const predicted: number[] = [];
    for (const [i, row] of pooled.entries()) {
      for (const [j, v] of row.entries()) {
        for (let n = 0; n < v; n++) {
          truth.push(i);
          predicted.push(j);
        }
      }
    }
    const all = computeMetrics(labels, truth, predicted);
    log(
      `RAVDESS actor folds pooled: accuracy ${all.accuracy}, macro-F1 ${all.macroF1} (${all.support} clips)`,
    );
    foldsPooled = all;
  }
  if (has('mlp')) {
    const mlp: ModelSettings = {
      ...budget,
      kind: 'mlp',
      epochs: Math.max(budget.epochs, 60),
      patience: 10,
      learningRate: 1e-3,
    };
    await run(split, mlp, subsets);
  }

  const overview = overviewOf(kept, duplicates.length, failed, scan.skipped, config);
  const metadata: ModelMetadata = {
    name: 'ser-lstm',
    version: options.version,
    createdAt: new Date().toISOString(),
    labels: [...labels],
    featureConfig: config,
    input: { windowSec: options.windowSec, frames, dims: featureDimension(config) },
    onnxFile: 'model.onnx',
    sha256: sha256(onnx),
    training: {
      corpora: options.corpora,
      clips: { total: kept.length, duplicatesRemoved: duplicates.length, decoderRefused: failed.length },
      split: {
        name: split.name,
        description: split.description,
        heldOutSpeakers: heldOut,
        sizes: { train: split.train.length, validation: split.validation.length, test: split.test.length },
        testClips: 'splits.json',
      },
      seed,
      epochs: { max: options.settings.epochs, run: main.result.history.length, best: main.result.bestEpoch },
      augmentation: {
        copiesPerClip: options.augmentCopies,
        appliedTo: 'training clips only',
        spec: options.augmentation,
        methods: [
          'spectral scaling (pitch + formants, vocal-tract-length-like) via WSOLA time stretch + resampling',
          'speed change (resampling)',
          'time shift (silence added/cut at the start)',
          'white noise at random SNR',
        ],
      },
      architecture: main.result.model,
      optimiser: {
        name: 'adam',
        learningRate: options.settings.learningRate,
        batchSize: options.settings.batchSize,
        labelSmoothing: 0.05,
        clipNorm: 5,
        earlyStoppingPatience: options.settings.patience,
      },
      backend: `@tensorflow/tfjs ${backend}`,
      trainSeconds: main.result.trainSeconds,
      parityMaxDiff,
      history: main.result.history,
      command: options.command,
      ravdessActorFoldsPooled: foldsPooled
        ? { accuracy: foldsPooled.accuracy, macroF1: foldsPooled.macroF1, support: foldsPooled.support }
        : undefined,
      ensemble: main.result.members,
      experiments: experiments.map((e) => ({
        split: e.split,
        description: e.description,
        model: e.settings.kind,
        epochsRun: e.history.length,
        bestEpoch: e.bestEpoch,
        trainSeconds: e.trainSeconds,
        accuracy: e.test.accuracy,
        macroF1: e.test.macroF1,
        subsets: Object.fromEntries(
          Object.entries(e.subsets).map(([k, m]) => [
            k,
            { accuracy: m.accuracy, macroF1: m.macroF1, support: m.support },
          ]),
        ),
      })),
    },
    metrics: Object.fromEntries(Object.entries(metrics).map(([k, m]) => [k, storedMetrics(m)])),
  };
  ModelMetadataSchema.parse(metadata);

  const out = options.outDir;
  await mkdir(join(out, 'figures'), { recursive: true });
  await writeFile(join(out, 'model.onnx'), onnx);
  const splitsFile = {
    split: split.name,
    description: split.description,
    seed,
    dataRoot: 'paths are relative to the --data folder; clips are matched by the sha1 of their file bytes',
    sets: Object.fromEntries(
      Object.entries(subsets).map(([name, keep]) => [
        name,
        split.test.filter(keep).map((i) => ({ path: relative(scan.root, i.clip.path), sha1: i.fileHash })),
      ]),
    ),
  };
  await writeFile(join(out, 'splits.json'), `${JSON.stringify(splitsFile, null, 1)}\n`);
  const seconds = (performance.now() - started) / 1000;
  const panels = await examplePanels(kept, pipeline.trimmed, config);
  const reportInput = {
    title: `Model report: ${metadata.name} ${metadata.version}`,
    modelDir: out,
    labels,
    corpora: options.corpora,
    splitName: split.name,
    splitDescription: split.description,
    metrics,
    main: main.result,
    experiments,
    overview,
    parityMaxDiff,
    onnxBytes: onnx.length,
    totalSeconds: seconds,
    command: options.command,
    evaluateCommand: `npm run evaluate -- --model ${relative(process.cwd(), out) || '.'} --split recorded`,
    backend,
    extraFigures: { 'one clip per emotion: waveform and log-mel spectrogram': 'figures/examples.svg' },
    foldsPooled,
    pipelineText: inModelCmvn
      ? `VAD trim → meyda-identical ${config.kind === 'mfcc' ? 'MFCC' : 'log-mel'} → the model's own per-utterance CMVN`
      : `VAD trim → meyda-identical ${config.kind === 'mfcc' ? 'MFCC' : 'log-mel'} → per-utterance CMVN`,
    notes: [] as string[],
  };
  (metadata.training as Record<string, unknown>).totalSeconds = Math.round(seconds);
  await writeFile(join(out, 'metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
  for (const [name, svg] of Object.entries(reportFigures(reportInput)))
    await writeFile(join(out, 'figures', name), svg);
  await writeFile(
    join(out, 'figures', 'examples.svg'),
    waveformsSvg('One clip per emotion (after VAD trimming): waveform and log-mel spectrogram', panels),
  );
  await writeFile(join(out, 'REPORT.md'), reportMarkdown(reportInput));
  if (options.predictorCheck !== false) {
    try {
      await appendPredictorCheck(out, scan.root);
    } catch (error) {
      log(`deployed-predictor check skipped: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  log(`wrote ${out} in ${Math.round(seconds)} s`);
  return {
    metadata,
    parityMaxDiff,
    onnxBytes: onnx.length,
    seconds,
    experiments,
    dataset: { failed, skipped: scan.skipped, unrecognised: scan.unrecognised },
  };
}

export const DEFAULTS = {
  /** The core's MFCC definition plus the prosody channels (pitch, voicing, level). */
  featureConfig: { ...DEFAULT_FEATURE_CONFIG, prosody: true } as FeatureConfig,
  seed: 1337,
  windowSec: 3,
  augmentCopies: 4,
  augmentation: DEFAULT_AUGMENTATION,
  settings: DEFAULT_MODEL_SETTINGS,
  heldOutSpeakers: ['ravdess:11', 'ravdess:12'],
  experimentEpochs: 20,
};

export type { Clip };
export { sha1 };
