import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { frameCount } from '../lambdas/core/features/extract.ts';
import type { SpeakerAdaptation } from '../lambdas/core/features/speaker-normalization.ts';
import { createStreamTally, streamCells } from './adaptive-folds.ts';
import { labelIndex } from './batches.ts';
import { DEFAULT_CHANNEL } from './channel.ts';
import { type Corpus, defaultDatasetDir, ravdessCalmAsNeutral, scanDataset } from './datasets.ts';
import type { SavedProbabilities } from './ensemble-folds.ts';
import { type ClipFeatures, createFeaturePipeline, dedupe } from './features.ts';
import { actorFolds } from './folds.ts';
import { MIN_MIXUP_ALPHA } from './mixup.ts';
import { DEFAULTS } from './pipeline.ts';
import {
  populationMean,
  REGISTER_CHANNELS,
  SHIFT_CHANNELS,
  speakerOffsetItems,
  speakerShiftItems,
} from './speaker-shift.ts';
import { type Split, speakerValidation } from './splits.ts';
import { initTf } from './tf.ts';
import { argmaxRows } from './trainer.ts';
import type { HeldOutViews } from './tta-round.ts';
import { unseenChannelCopies } from './unseen-channel.ts';

/**
 * `npx tsx training/develop.ts --name <run> [recipe options]`: one development run — the RAVDESS actor
 * folds of a recipe (3 single LSTMs, every actor 01–12 held out once), measured clean and through an
 * unseen synthetic channel (TEST_CHANNEL, its own seed), with the collapse check and the calibration of
 * the pooled out-of-fold predictions. It writes no package: it is how recipes are compared (REPORT.md,
 * "How the recipe was chosen"). `--tess-words 4` keeps every 4th TESS word (a quarter of TESS) so that a
 * comparison fits the clock; compare runs only with the same protocol.
 */
const integer = (v: string) => Number.parseInt(v, 10);
/** `4-11` or `0-3,8-11` → the sorted distinct indices. */
function parseIndexSet(value: string): number[] {
  const indices = value.split(',').flatMap((part) => {
    const [from = Number.NaN, to = from] = part.split('-').map(Number);
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from)
      throw new InvalidArgumentError(`not an index or range: ${part}`);
    return Array.from({ length: to - from + 1 }, (_, k) => from + k);
  });
  return [...new Set(indices)].sort((a, b) => a - b);
}
const program = new Command()
  .option('--name <name>', 'run name', 'run')
  .option('--data <dir>', 'dataset root', defaultDatasetDir())
  .option('--epochs <n>', 'epoch cap per fold model', integer, DEFAULTS.experimentEpochs)
  .option('--channel-copies <n>', 'channel-degraded copies per RAVDESS clip (0: none)', integer, 0)
  .option('--tess-copies <a,c>', 'speaker-like and channel copies per TESS clip', '4,1')
  .option(
    '--ravdess-copies <n>',
    'speaker-like copies per RAVDESS clip (round 16)',
    integer,
    DEFAULTS.augmentCopies,
  )
  .addOption(
    new Option('--stats-mask <mask>', 'utterance statistics the head sees')
      .choices(['all', 'no-spectral-means'])
      .default('all'),
  )
  .addOption(
    new Option('--pooling <kind>', 'pooling of the LSTM outputs (round 21)')
      .choices(['mean', 'attention'])
      .default('mean'),
  )
  .addOption(
    new Option('--front-end <kind>', 'a front end before the LSTM (round 26)')
      .choices(['none', 'conv'])
      .default('none'),
  )
  .option('--tess-words <n>', 'keep every n-th TESS word (1: all of TESS)', integer, DEFAULTS.tessWords)
  .option(
    '--speaker-shift <clips>',
    'train on speaker-shifted copies (shrinkage in clips) and score adaptive streams of the held-out actors',
    Number,
  )
  .option(
    '--speaker-offset <clips>',
    'train with the speaker offset (shrinkage in clips) as a head input beside the unshifted frames, and score adaptive streams of the held-out actors',
    Number,
  )
  .option(
    '--virtual-speakers',
    "with --speaker-offset: each copy's offset is that of a speaker whose every clip was changed as the copy was",
  )
  .option(
    '--shift-channels <set>',
    'with --speaker-shift or --speaker-offset: all (MFCC, pitch, level) or register (pitch, level)',
    'all',
  )
  .option(
    '--ravdess-repeats <n>',
    'RAVDESS clips per epoch, in repeats of each clip',
    integer,
    DEFAULTS.settings.corpusRepeats?.ravdess ?? 3,
  )
  .option('--label-smoothing <x>', 'label smoothing of the training loss', Number, 0.05)
  .option('--units <n>', 'LSTM units (round 23)', integer, DEFAULTS.settings.units)
  .option(
    '--mixup <alpha>',
    `mixup of the head's input rows, weights from Beta(alpha, alpha) (0: none; else ≥ ${MIN_MIXUP_ALPHA})`,
    Number,
    0,
  )
  .option(
    '--speaker-adversary <weight>',
    "largest gradient-reversal weight of a speaker adversary on the head's hidden layer (0: none)",
    Number,
    0,
  )
  .option(
    '--spectral-scale <lo,hi>',
    'pitch/formant scaling range of the speaker-like copies',
    DEFAULTS.augmentation.spectralScale.join(','),
  )
  .option('--member <k>', "train each fold model with the package's k-th ensemble member seed", integer, 0)
  .option('--out <file>', 'JSON summary file')
  .option(
    '--save-probabilities <file>',
    'out-of-fold probabilities (clean and channel-shifted), for ensembles',
  )
  .option(
    '--ravdess-copy-set <indices>',
    'the RAVDESS copies this run trains on, e.g. 4-11 or 0-3,8-11 (from a cache of enough copies; round 19)',
    parseIndexSet,
  )
  .option(
    '--save-views <file>',
    "each held-out clip's probabilities, and those of each of its cached speaker-like copies (round 22)",
  )
  .option(
    '--validation-voices <slot>',
    "early stopping on two of the fold's training RAVDESS actors (sorted positions 2·slot and 2·slot + 1), not trained on (round 28)",
    integer,
  )
  .option(
    '--average-from <epoch>',
    "end each fold model with the mean of its weights from this epoch on, not the best epoch's (round 29)",
    integer,
  )
  .option(
    '--calm-as-neutral',
    "train each fold also on its training actors' RAVDESS calm clips, labelled neutral (round 30; never tested on)",
  )
  .option('--reverse', 'compute missing features last clip first (two runs sharing a cold cache split it)');
program.parse();
const opts = program.opts<{
  name: string;
  data: string;
  epochs: number;
  channelCopies: number;
  tessCopies: string;
  ravdessCopies: number;
  ravdessCopySet?: number[];
  statsMask: 'all' | 'no-spectral-means';
  pooling: 'mean' | 'attention';
  frontEnd: 'none' | 'conv';
  tessWords: number;
  out?: string;
  member: number;
  ravdessRepeats: number;
  labelSmoothing: number;
  units: number;
  mixup: number;
  speakerAdversary: number;
  spectralScale: string;
  saveProbabilities?: string;
  saveViews?: string;
  reverse?: boolean;
  calmAsNeutral?: boolean;
  validationVoices?: number;
  averageFrom?: number;
  speakerShift?: number;
  speakerOffset?: number;
  virtualSpeakers?: boolean;
  shiftChannels: 'all' | 'register';
}>();

if (opts.speakerShift !== undefined && opts.speakerOffset !== undefined)
  throw new Error('--speaker-shift and --speaker-offset are alternatives: give one');
// Checked here too so that a wrong value fails before the features are loaded, not at the first batch.
if (!(opts.mixup === 0 || opts.mixup >= MIN_MIXUP_ALPHA))
  throw new Error(`--mixup takes 0 (none) or an alpha ≥ ${MIN_MIXUP_ALPHA}`);
if (!(opts.speakerAdversary >= 0)) throw new Error('--speaker-adversary takes a weight ≥ 0 (0: none)');
if (opts.speakerAdversary > 0 && opts.mixup > 0)
  throw new Error('--speaker-adversary and --mixup are alternatives (a mixed row has no one speaker)');
if (opts.saveViews && (opts.speakerShift ?? opts.speakerOffset) !== undefined)
  throw new Error(
    '--save-views scores the held-out clips as they are: not with --speaker-shift/--speaker-offset',
  );
if (opts.validationVoices !== undefined && (opts.speakerShift ?? opts.speakerOffset) !== undefined)
  throw new Error('--validation-voices and --speaker-shift/--speaker-offset each change the split: give one');
if (opts.validationVoices !== undefined && !(opts.validationVoices >= 0 && opts.validationVoices <= 3))
  throw new Error('--validation-voices takes a slot 0…3 (a fold trains on 8 RAVDESS actors)');
if (opts.calmAsNeutral && (opts.validationVoices ?? opts.speakerShift ?? opts.speakerOffset) !== undefined)
  throw new Error(
    '--calm-as-neutral changes the training set: not with --validation-voices or a speaker shift',
  );
if (opts.virtualSpeakers && opts.speakerOffset === undefined)
  throw new Error('--virtual-speakers needs --speaker-offset');
await initTf();
const corpora: Corpus[] = ['tess', 'ravdess'];
const scan = await scanDataset(opts.data, corpora);
const words = [...new Set(scan.clips.filter((c) => c.corpus === 'tess').map((c) => c.text))].sort();
const keepWords = new Set(words.filter((_, i) => i % opts.tessWords === 0));
const clips = scan.clips.filter((c) => c.corpus !== 'tess' || keepWords.has(c.text));
const config = { ...DEFAULTS.featureConfig, normalization: 'none' as const };
const [tessAugment, tessChannel] = opts.tessCopies.split(',').map(Number) as [number, number];
const spectralScale = opts.spectralScale.split(',').map(Number) as [number, number];
const pipeline = await createFeaturePipeline({
  config,
  augmentCopies: opts.ravdessCopySet ? Math.max(...opts.ravdessCopySet) + 1 : opts.ravdessCopies,
  augmentation: { ...DEFAULTS.augmentation, spectralScale },
  seed: DEFAULTS.seed,
  channel: DEFAULT_CHANNEL,
  // At least 2 (the copies every earlier run's cache holds); more when a run asks for more (round 27).
  channelCopies: Math.max(2, opts.channelCopies),
  corpusCopies: { tess: { augment: tessAugment, channel: tessChannel } },
});
const { items } = await pipeline.run(opts.reverse ? [...clips].reverse() : clips);
/** A RAVDESS clip with only the speaker-like copies of `--ravdess-copy-set` (all of them without it). */
const withCopySet = (i: ClipFeatures): ClipFeatures => {
  const set = opts.ravdessCopySet;
  if (!set || i.clip.corpus !== 'ravdess') return i;
  return {
    ...i,
    augmented: set.map((k) => i.augmented[k]!),
    augmentations: set.map((k) => i.augmentations[k]!),
  };
};
// The cache holds the channel copies either way; a recipe without them simply does not use them.
const withChannelCopies = (i: ClipFeatures): ClipFeatures =>
  opts.channelCopies === 0
    ? { ...i, channel: [] }
    : i.clip.corpus === 'ravdess'
      ? { ...i, channel: i.channel.slice(0, opts.channelCopies) }
      : tessChannel === 0
        ? { ...i, channel: [] }
        : i;
const kept: ClipFeatures[] = dedupe(items).kept.map(withCopySet).map(withChannelCopies);
const calm: ClipFeatures[] = opts.calmAsNeutral
  ? (await pipeline.run(await ravdessCalmAsNeutral(opts.data))).items.map(withCopySet).map(withChannelCopies)
  : [];
const shifted = await unseenChannelCopies(clips, config);

const labels = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad'];
const shrinkageClips = opts.speakerShift ?? opts.speakerOffset;
const adaptChannels = opts.shiftChannels === 'register' ? REGISTER_CHANNELS : SHIFT_CHANNELS;
const streams = shrinkageClips === undefined ? undefined : createStreamTally(labels);

/**
 * With --speaker-shift: each fold trains on speaker-shifted clips and scores adaptive streams; with
 * --speaker-offset the same draws and streams give the offset as a head input instead (frames unshifted).
 */
function speakerShiftOptions() {
  if (shrinkageClips === undefined || !streams) return {};
  const apply = opts.speakerOffset === undefined ? 'shift' : 'input';
  const adaptItems = (items: ClipFeatures[], a: SpeakerAdaptation, seed: number) =>
    apply === 'input'
      ? speakerOffsetItems(items, a, seed, opts.virtualSpeakers === true)
      : speakerShiftItems(items, a, seed);
  let adaptation: SpeakerAdaptation | undefined;
  return {
    prepare: (split: Split<ClipFeatures>) => {
      const channels = adaptChannels;
      adaptation = {
        channels: [...channels],
        populationMean: populationMean(split.train, channels),
        shrinkageClips,
        minClips: 1,
      };
      return {
        ...split,
        train: adaptItems(split.train, adaptation, DEFAULTS.seed),
        validation: adaptItems(split.validation, adaptation, DEFAULTS.seed + 1),
      };
    },
    onFold: (score: (items: ClipFeatures[]) => Float32Array, held: ClipFeatures[]) => {
      for (const cell of streamCells(held, labels, adaptation!, DEFAULTS.seed, apply)) {
        streams.add(cell, argmaxRows(score(cell.items), labels.length), held);
      }
    },
  };
}

/**
 * With --validation-voices: each fold validates (early stopping, learning-rate halving) on two of its
 * training RAVDESS actors, which then do not train; members given different slots differ in voices.
 */
function validationVoiceOptions() {
  const slot = opts.validationVoices;
  if (slot === undefined) return {};
  return {
    prepare: (split: Split<ClipFeatures>) => {
      const actors = [
        ...new Set(
          [...split.train, ...split.validation]
            .filter((i) => i.clip.corpus === 'ravdess')
            .map((i) => i.clip.speaker),
        ),
      ].sort();
      const voices = actors.slice(2 * slot, 2 * slot + 2);
      process.stderr.write(`${opts.name}: ${split.name} validates on ${voices.join(', ')}\n`);
      return speakerValidation(split, voices);
    },
  };
}

/** With --calm-as-neutral: each fold trains also on the calm clips of its training actors, as neutral. */
function calmOptions() {
  if (calm.length === 0) return {};
  return {
    prepare: (split: Split<ClipFeatures>) => {
      const training = new Set([...split.train, ...split.validation].map((i) => i.clip.speaker));
      const added = calm.filter((i) => training.has(i.clip.speaker));
      process.stderr.write(`${opts.name}: ${split.name} trains on ${added.length} calm clips as neutral\n`);
      return { ...split, train: [...split.train, ...added] };
    },
  };
}

/**
 * With --save-views: each fold's held-out clips scored as they are and as each of their cached
 * speaker-like copies (view 0 is the clip itself), kept in fold order for training/tta-round.ts.
 */
const views: HeldOutViews[] = [];
const viewOptions = () =>
  opts.saveViews
    ? {
        onFold: (score: (items: ClipFeatures[]) => Float32Array, held: ClipFeatures[]) => {
          if (held.length === 0) return;
          const copies = Math.min(...held.map((i) => i.augmented.length));
          const scored = [
            held,
            ...Array.from({ length: copies }, (_, c) =>
              held.map((i) => ({ ...i, original: i.augmented[c]! })),
            ),
          ].map(score);
          held.forEach((item, row) => {
            views.push({
              file: item.clip.path,
              truth: labelIndex(labels, item.clip.emotion),
              speaker: item.clip.speaker,
              views: scored.map((p) =>
                Array.from(
                  p.subarray(row * labels.length, (row + 1) * labels.length),
                  (v) => Math.round(v * 1e6) / 1e6,
                ),
              ),
            });
          });
        },
      }
    : {};

const started = performance.now();
const frames = frameCount(3 * config.sampleRate, config.frameSize, config.hopSize);
const result = await actorFolds(
  kept,
  // One model per fold, trained on exactly the recipe's clips: no member here is channel-free.
  {
    ...DEFAULTS.settings,
    epochs: opts.epochs,
    statsMask: opts.statsMask,
    pooling: opts.pooling,
    ...(opts.frontEnd === 'conv' ? { frontEnd: 'conv' as const } : {}),
    ...(opts.averageFrom === undefined ? {} : { averageFrom: opts.averageFrom }),
    channelFreeMembers: 0,
    corpusRepeats: { ravdess: opts.ravdessRepeats },
    labelSmoothing: opts.labelSmoothing,
    units: opts.units,
    mixup: opts.mixup,
    speakerAdversary: opts.speakerAdversary,
    ...(opts.speakerOffset === undefined ? {} : { offsetInput: adaptChannels.length }),
  },
  {
    labels,
    featureConfig: config,
    maxFrames: frames,
    seed: DEFAULTS.seed,
    firstMember: opts.member,
    progress: false,
  },
  {
    shifted,
    ...speakerShiftOptions(),
    ...validationVoiceOptions(),
    ...calmOptions(),
    ...viewOptions(),
    log: (l) => process.stderr.write(`${opts.name}: ${l}\n`),
  },
);
const summary = {
  name: opts.name,
  options: opts,
  clips: kept.length,
  seconds: Math.round((performance.now() - started) / 1000),
  clean: {
    accuracy: result.pooled.accuracy,
    macroF1: result.pooled.macroF1,
    standardError: Math.round(result.standardError * 1000) / 1000,
    largestShare: result.largestShare,
  },
  channelShifted: result.channelShifted && {
    accuracy: result.channelShifted.pooled.accuracy,
    macroF1: result.channelShifted.pooled.macroF1,
    standardError: Math.round(result.channelShifted.standardError * 1000) / 1000,
    largestShare: result.channelShifted.largestShare,
  },
  folds: result.folds,
  calibration: { ...result.calibration, binsBefore: undefined, binsAfter: undefined },
  confusion: result.pooled.confusion,
  adaptive: streams?.curves(),
};
process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`);
if (opts.out)
  await writeFile(opts.out, `${JSON.stringify({ ...summary, calibration: result.calibration }, null, 1)}\n`);
if (opts.saveViews)
  await writeFile(opts.saveViews, `${JSON.stringify({ name: opts.name, labels, views })}\n`);
if (opts.saveProbabilities) {
  const rounded = (p: Float32Array) => Array.from(p, (v) => Math.round(v * 1e6) / 1e6);
  const saved: SavedProbabilities = {
    name: opts.name,
    labels,
    folds: result.folds,
    clean: { truth: result.truth, foldOf: result.foldOf, probabilities: rounded(result.probabilities) },
    channelShifted: result.channelShifted && {
      truth: result.channelShifted.truth,
      probabilities: rounded(result.channelShifted.probabilities),
    },
  };
  await writeFile(opts.saveProbabilities, `${JSON.stringify(saved)}\n`);
}
