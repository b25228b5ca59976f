import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ModelVersionSchema } from '../lambdas/core/model/metadata.ts';
import { CORPORA, DatasetError, defaultDatasetDir, parseCorpora } from './datasets.ts';
import { parseDevelopmentRun } from './folds.ts';
import { DEFAULTS, EXPERIMENTS, type ExperimentName, packageVersion, trainPackage } from './pipeline.ts';

const integer = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
};
const modelVersion = (value: string) => {
  const parsed = ModelVersionSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
};
const positive = (value: string) => {
  const n = integer(value);
  if (n === 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

const program = new Command()
  .name('npm run train --')
  .description(
    'Train the speech-emotion LSTM on labelled corpora, export it to ONNX and write a model package ' +
      '(model.onnx, metadata.json, splits.json, REPORT.md, figures/).',
  )
  .option('--data <dir>', 'dataset root (any depth; TESS/RAVDESS/EMO-DB/CREMA-D names)', defaultDatasetDir())
  .option(
    '--corpora <list>',
    `corpora to train on, comma-separated: ${CORPORA.join(', ')} (csv: folders labelled by a labels.csv)`,
    'tess',
  )
  .option('--out <dir>', 'model package folder (default models/ser-lstm-<corpora>)')
  .option(
    '--heldout <speakers>',
    "speakers held out whole for testing a multi-corpus model ('auto': as a training job chooses them, " +
      `${DEFAULTS.heldOutSpeakers.join(',')} when present, else the last fifth of the speakers outside TESS when ` +
      "there are three or more, else a random split; 'none': every voice trains, TESS's random fifth is the test)",
    'auto',
  )
  .option(
    '--epochs <n>',
    'maximum epochs (early stopping on validation macro-F1)',
    positive,
    DEFAULTS.settings.epochs,
  )
  .option('--patience <n>', 'epochs without improvement before stopping', integer, DEFAULTS.settings.patience)
  .option('--units <n>', 'LSTM units', positive, DEFAULTS.settings.units)
  .option(
    '--ensemble <n>',
    'LSTMs (different seeds) averaged in one ONNX graph',
    positive,
    DEFAULTS.settings.ensemble,
  )
  .option('--batch <n>', 'batch size', positive, DEFAULTS.settings.batchSize)
  .option(
    '--augment-copies <n>',
    'augmented copies per training clip (0: no augmentation)',
    integer,
    DEFAULTS.augmentCopies,
  )
  .option(
    '--seed <n>',
    'seed of every split, shuffle, initialisation and augmentation',
    integer,
    DEFAULTS.seed,
  )
  .option(
    '--experiments <list>',
    `extra splits, each with its own model: ${EXPERIMENTS.join(', ')}, all or none`,
    'none',
  )
  .option(
    '--experiment-epochs <n>',
    'epoch cap of the extra experiments',
    positive,
    DEFAULTS.experimentEpochs,
  )
  .option(
    '--model-version <v>',
    'version written into metadata.json (default: <corpora>-<UTC time>-<4 random hex digits>, one per run)',
    modelVersion,
    '',
  )
  .option('--cache <dir>', 'feature cache folder (default training/.cache/features)')
  .option('--no-utterance-stats', 'plain CMVN input, no in-model CMVN + per-utterance mean/std branch')
  .option(
    '--spectral-scale <low,high>',
    'range of the pitch/formant (vocal-tract-length-like) scaling of augmented copies',
    DEFAULTS.augmentation.spectralScale.join(','),
  )
  .option('--no-delta-stats', 'utterance statistics without the RMS of frame-to-frame changes')
  .option('--no-prosody', 'MFCC (or log-mel) frames only, without the pitch/voicing/level channels')
  .option('--spec-augment', 'SpecAugment-style coefficient/time masks on training rows (CMVN models)')
  .option('--no-balance', 'do not repeat smaller corpora within an epoch')
  .option('--dropout <p>', 'dropout before the output layer', Number, DEFAULTS.settings.dropout)
  .option(
    '--state-dropout <p>',
    'dropout on the pooled LSTM state while training',
    Number,
    DEFAULTS.settings.stateDropout,
  )
  .option('--hidden <n>', 'units of the dense layer', positive, DEFAULTS.settings.hidden)
  .option('--features <kind>', 'frame features: mfcc or logmel (40 each, the core extractor)', 'mfcc')
  .option(
    '--channel-copies <n>',
    'channel-degraded copies per training clip (room, EQ, noise, phone line, clipping; 0: none)',
    integer,
    DEFAULTS.channelCopies,
  )
  .option(
    '--channel-free-members <n>',
    'the first n ensemble members train without the channel copies (a mixed ensemble)',
    integer,
    DEFAULTS.settings.channelFreeMembers,
  )
  .option(
    '--tess-copies <augment,channel>',
    'speaker-like and channel copies per TESS training clip',
    `${DEFAULTS.corpusCopies?.tess?.augment},${DEFAULTS.corpusCopies?.tess?.channel}`,
  )
  .option(
    '--tess-words <n>',
    'train on the TESS clips of every n-th word (1: all)',
    integer,
    DEFAULTS.tessWords,
  )
  .option(
    '--speaker-shift <clips>',
    'train for speaker adaptation (shrinkage in clips) and enable it in the package (speaker-shift.ts)',
    Number,
  )
  .option(
    '--speaker-offset <clips>',
    'like --speaker-shift, but the offset is a second input of the graph beside the unshifted frames',
    Number,
  )
  .option('--virtual-speakers', "with --speaker-offset: each copy's offset is its virtual speaker's")
  .option('--adapt-min-clips <n>', 'earlier clips of a speaker before predictions adapt', integer, 10)
  .option('--no-spectral-means', 'leave the utterance means of the MFCCs out of the head (stats mask)')
  .option(
    '--calibrate-on <file>',
    'fit the calibration on a development run (training/develop.ts --out) instead of the package folds',
  )
  .option('--no-predictor-check', 'skip re-running the test clips through the deployed predictor')
  .option('--no-progress', 'no progress bars (log lines instead)');

program.parse();
const opts = program.opts<{
  data: string;
  corpora: string;
  out?: string;
  heldout: string;
  epochs: number;
  patience: number;
  units: number;
  ensemble: number;
  batch: number;
  augmentCopies: number;
  seed: number;
  experiments: string;
  experimentEpochs: number;
  modelVersion: string;
  cache?: string;
  progress: boolean;
  utteranceStats: boolean;
  deltaStats: boolean;
  prosody: boolean;
  spectralScale: string;
  specAugment?: boolean;
  balance: boolean;
  dropout: number;
  stateDropout: number;
  hidden: number;
  features: string;
  channelCopies: number;
  channelFreeMembers: number;
  tessCopies: string;
  tessWords: number;
  speakerShift?: number;
  speakerOffset?: number;
  virtualSpeakers?: boolean;
  adaptMinClips: number;
  spectralMeans: boolean;
  calibrateOn?: string;
  predictorCheck: boolean;
}>();

/** `--speaker-shift` or `--speaker-offset` (alternatives): the package's speaker adaptation, if any. */
function speakerShiftOption() {
  if (opts.speakerShift !== undefined && opts.speakerOffset !== undefined)
    throw new InvalidArgumentError('--speaker-shift and --speaker-offset are alternatives: give one');
  const shrinkageClips = opts.speakerShift ?? opts.speakerOffset;
  if (shrinkageClips === undefined) return {};
  const apply = opts.speakerOffset === undefined ? ('shift' as const) : ('input' as const);
  const virtualSpeakers = opts.virtualSpeakers === true && apply === 'input';
  return { speakerShift: { shrinkageClips, minClips: opts.adaptMinClips, apply, virtualSpeakers } };
}

/** `--calibrate-on`, read and checked before anything trains: a wrong path must not cost a whole run. */
async function developmentRunOption() {
  if (!opts.calibrateOn) return undefined;
  const path = resolve(opts.calibrateOn);
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new InvalidArgumentError(`--calibrate-on: cannot read ${path} (${error.code ?? error.message})`);
  });
  const parsed = parseDevelopmentRun(text);
  if ('error' in parsed)
    throw new InvalidArgumentError(
      `--calibrate-on: ${path} is not a development run (what training/develop.ts --out writes): ${parsed.error}`,
    );
  return { source: relative(process.cwd(), path), run: parsed.run };
}

try {
  const corpora = parseCorpora(opts.corpora);
  if (!['mfcc', 'logmel'].includes(opts.features))
    throw new InvalidArgumentError('--features must be mfcc or logmel');
  const experiments = (
    opts.experiments === 'all'
      ? [...EXPERIMENTS]
      : opts.experiments === 'none'
        ? []
        : opts.experiments.split(',')
  ) as ExperimentName[];
  for (const e of experiments) {
    if (!(EXPERIMENTS as readonly string[]).includes(e))
      throw new InvalidArgumentError(`unknown experiment ${e}`);
  }
  const scale = opts.spectralScale.split(',').map(Number);
  if (scale.length !== 2 || !scale.every((x) => x > 0.5 && x < 2) || scale[0]! > scale[1]!)
    throw new InvalidArgumentError(
      '--spectral-scale: two factors between 0.5 and 2, low first (e.g. 0.8,1.25)',
    );
  const spectralScale = scale as [number, number];
  const out = resolve(opts.out ?? `models/ser-lstm-${corpora.join('-')}`);
  const tessCopies = opts.tessCopies.split(',').map(Number);
  if (tessCopies.length !== 2 || !tessCopies.every((n) => Number.isInteger(n) && n >= 0))
    throw new InvalidArgumentError('--tess-copies: two non-negative integers, e.g. 1,1');
  const calibrateOn = await developmentRunOption();
  const result = await trainPackage({
    dataDir: opts.data,
    corpora,
    outDir: out,
    featureConfig: {
      ...DEFAULTS.featureConfig,
      kind: opts.features === 'logmel' ? 'logmel' : 'mfcc',
      prosody: opts.prosody,
    },
    windowSec: DEFAULTS.windowSec,
    seed: opts.seed,
    augmentCopies: opts.augmentCopies,
    augmentation: { ...DEFAULTS.augmentation, spectralScale },
    channelCopies: opts.channelCopies,
    channel: DEFAULTS.channel,
    corpusCopies: { tess: { augment: tessCopies[0]!, channel: tessCopies[1]! } },
    tessWords: opts.tessWords,
    calibrateOn,
    ...speakerShiftOption(),
    predictorCheck: opts.predictorCheck,
    settings: {
      ...DEFAULTS.settings,
      epochs: opts.epochs,
      patience: opts.patience,
      units: opts.units,
      ensemble: Math.max(1, opts.ensemble),
      batchSize: opts.batch,
      augment: opts.augmentCopies > 0,
      utteranceStats: opts.utteranceStats,
      deltaStats: opts.deltaStats,
      specAugment: opts.specAugment === true,
      balanceCorpora: opts.balance,
      dropout: opts.dropout,
      stateDropout: opts.stateDropout,
      hidden: opts.hidden,
      statsMask: opts.spectralMeans ? 'all' : 'no-spectral-means',
      channelFreeMembers: opts.channelFreeMembers,
    },
    heldOutSpeakers:
      opts.heldout === 'none' || opts.heldout === 'auto'
        ? opts.heldout
        : opts.heldout.split(',').filter(Boolean),
    heldOutNamed: program.getOptionValueSource('heldout') === 'cli',
    experiments,
    experimentEpochs: opts.experimentEpochs,
    progress: opts.progress && process.stderr.isTTY === true,
    cacheDir: opts.cache,
    version: opts.modelVersion || packageVersion(corpora, new Date(), randomBytes(2).toString('hex')),
    command: `npm run train -- ${process.argv.slice(2).join(' ')}`.trim(),
  });
  for (const [name, m] of Object.entries(result.metadata.metrics)) {
    const { accuracy, macroF1, support } = m as { accuracy: number; macroF1: number; support: number };
    process.stdout.write(
      `${name}: accuracy ${accuracy.toFixed(4)}, macro-F1 ${macroF1.toFixed(4)} (${support} clips)\n`,
    );
  }
  process.stdout.write(
    `package ${out}: ONNX ${(result.onnxBytes / 1024).toFixed(0)} KB, parity max |Δp| ${result.parityMaxDiff.toExponential(2)}, ${Math.round(result.seconds)} s\n`,
  );
} catch (error) {
  if (error instanceof DatasetError || error instanceof InvalidArgumentError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
