import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ModelError } from '../lambdas/core/errors.ts';
import { loadModelPackage } from '../lambdas/core/model/runtime.ts';
import { defaultModelDir } from '../lib/paths.ts';
import { adaptiveSelection, adaptiveSpeakers, runAdaptive } from './adaptive-cli.ts';
import { DEFAULT_AUGMENTATION } from './augment.ts';
import { DatasetError, defaultDatasetDir, parseCorpora, scanDataset } from './datasets.ts';
import { type ClipFeatures, createFeaturePipeline, dedupe } from './features.ts';
import { collapseText, computeMetrics, largestClassShare, type Metrics, metricsText } from './metrics.ts';
import { predictWithOnnx } from './onnx-eval.ts';
import { onnxMetrics } from './pipeline.ts';

/**
 * `npm run evaluate -- --model <package> --data <dir>`: the classification report of a model package on
 * any labelled folder, without training. The ONNX file runs in onnxruntime-node after the same feature
 * pipeline training used (decode → 16 kHz → VAD trim → MFCC → CMVN per window), configured from the
 * package's own metadata. `--split recorded` evaluates the exact test sets the package's metadata reports
 * (listed in its splits.json), so the printed numbers can be checked against metadata.json.
 */
const program = new Command()
  .name('npm run evaluate --')
  .description('Evaluate a model package on a labelled folder (prints a classification report per test set).')
  .option('--model <dir>', 'model package folder (metadata.json + model.onnx)', defaultModelDir())
  .option('--data <dir>', 'labelled dataset folder', defaultDatasetDir())
  .option('--corpora <list>', 'only these corpora (tess, ravdess, emodb, cremad)')
  .option(
    '--split <name>',
    '"recorded" (every test set in splits.json), one of its set names, or "all" clips',
    'all',
  )
  .option(
    '--emotions <list>',
    'only clips of these emotions, and the model chooses among them only (e.g. the 6 that EMO-DB shares: angry,disgust,fear,happy,neutral,sad)',
  )
  .option('--json', 'print the metrics as JSON instead of tables')
  .option('--cache <dir>', 'feature cache folder (default training/.cache/features)')
  .option(
    '--adaptive',
    "speaker adaptation: stream each held-out speaker's clips (the package's held-out speakers, or --speakers) and report accuracy after 0, 1, 3, 10, 30 earlier clips",
  )
  .option('--speakers <list>', 'with --adaptive: these speakers (e.g. ravdess:11,ravdess:12)')
  .option('--repetitions <n>', 'with --adaptive: seeded streams per clip', '5')
  .option('--shrinkage <list>', 'with --adaptive: shrinkage values (pseudo-clips) to compare', '0,3,10')
  .option('--variants <text>', 'with --adaptive: only variants whose name contains this (e.g. "pitch,")')
  .option('--write', 'with --adaptive: write ADAPTATION-RESULTS.md and its figure into the package')
  .option(
    '--enable <variant>',
    'with --adaptive: write this measured variant (e.g. "pitch, shrink 10") as the package\'s speakerAdaptation',
  )
  .option('--min-clips <n>', 'with --enable: earlier clips of a speaker before predictions adapt', '3')
  .option(
    '--version <v>',
    "with --enable: the package's new version (required: the same ONNX with another metadata.json is another package, which the registry refuses under a registered version)",
  );

program.parse();
const opts = program.opts<{
  model: string;
  data: string;
  corpora?: string;
  split: string;
  json?: boolean;
  cache?: string;
  emotions?: string;
  adaptive?: boolean;
  speakers?: string;
  repetitions: string;
  shrinkage: string;
  variants?: string;
  write?: boolean;
  enable?: string;
  minClips: string;
  version?: string;
}>();

/**
 * Metrics over a subset of the model's labels: clips of other emotions are left out and each clip's
 * prediction is the most probable label *within the subset* (how a 6-emotion benchmark scores a model).
 */
async function subsetMetrics(
  onnx: Uint8Array,
  clips: ClipFeatures[],
  frames: number,
  labels: readonly string[],
  subset: readonly string[],
  cmvn: boolean,
): Promise<Metrics> {
  const kept = clips.filter((c) => subset.includes(c.clip.emotion));
  const probabilities = await predictWithOnnx(onnx, kept, frames, labels.length, 64, cmvn);
  const columns = subset.map((l) => labels.indexOf(l));
  const predicted = kept.map((_, row) => {
    let best = 0;
    for (let j = 1; j < columns.length; j++) {
      if (
        probabilities[row * labels.length + columns[j]!]! >
        probabilities[row * labels.length + columns[best]!]!
      )
        best = j;
    }
    return best;
  });
  return computeMetrics(
    subset,
    kept.map((c) => subset.indexOf(c.clip.emotion)),
    predicted,
  );
}

interface SplitsFile {
  sets: Record<string, Array<{ path: string; sha1: string }>>;
}

/** Options that only mean something with --adaptive: given without it, they would be silently ignored. */
const ADAPTIVE_ONLY = [
  'speakers',
  'repetitions',
  'shrinkage',
  'variants',
  'write',
  'enable',
  'minClips',
  'version',
];

/** `--enable` rewrites metadata.json: a version names one package for good, so it needs a new one. */
function assertNewVersion(version: string | undefined, current: string): void {
  if (!version)
    throw new InvalidArgumentError(
      "--enable needs --version <new>: the package's metadata changes, and a version names one package for good",
    );
  if (version === current)
    throw new InvalidArgumentError(
      `--version ${version} is the package's version: give the adapted package a new one`,
    );
}

try {
  const stray = ADAPTIVE_ONLY.filter((key) => program.getOptionValueSource(key) === 'cli');
  if (!opts.adaptive && stray.length > 0)
    throw new InvalidArgumentError(
      `${stray.map((key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} only with --adaptive`,
    );
  const dir = resolve(opts.model);
  // Validates metadata against the schema and the ONNX file against its sha256, as the API does.
  const model = await loadModelPackage(dir);
  const { metadata } = model;
  await model.release();
  if (opts.enable) assertNewVersion(opts.version, metadata.version);
  const subset = opts.emotions
    ?.split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const e of subset ?? []) {
    if (!metadata.labels.includes(e))
      throw new DatasetError(
        `--emotions: "${e}" is not a label of this model (${metadata.labels.join(', ')})`,
      );
  }
  const onnx = await readFile(join(dir, metadata.onnxFile));
  const scan = await scanDataset(opts.data, opts.corpora ? parseCorpora(opts.corpora) : undefined);
  const unknown = scan.clips.filter((c) => !metadata.labels.includes(c.emotion));
  if (unknown.length)
    process.stderr.write(`${unknown.length} clips have emotions the model does not know; left out\n`);
  const pipeline = await createFeaturePipeline({
    config: metadata.featureConfig,
    augmentCopies: 0,
    augmentation: DEFAULT_AUGMENTATION,
    seed: 0,
    cacheDir: opts.cache,
    progress: process.stderr.isTTY === true,
  });
  const adaptiveClip = opts.adaptive ? adaptiveSelection(metadata, opts.speakers) : undefined;
  const { items, failed } = await pipeline.run(
    scan.clips.filter((c) => metadata.labels.includes(c.emotion) && (!adaptiveClip || adaptiveClip(c))),
  );
  for (const f of failed) process.stderr.write(`skipped (decoder refused): ${f.path}: ${f.error}\n`);

  if (opts.adaptive) {
    await runAdaptive(
      dir,
      onnx,
      metadata,
      dedupe(items).kept,
      adaptiveSpeakers(metadata, opts.speakers),
      opts,
    );
    process.exit(0);
  }
  let sets: Record<string, ClipFeatures[]>;
  if (opts.split === 'all') {
    sets = { [`all clips in ${scan.root}`]: dedupe(items).kept };
  } else {
    const splits = JSON.parse(await readFile(join(dir, 'splits.json'), 'utf8')) as SplitsFile;
    const names = opts.split === 'recorded' ? Object.keys(splits.sets) : [opts.split];
    const bySha = new Map(items.map((i) => [i.fileHash, i]));
    sets = {};
    for (const name of names) {
      const wanted = splits.sets[name];
      if (!wanted)
        throw new DatasetError(
          `${dir}/splits.json has no set "${name}" (has: ${Object.keys(splits.sets).join(', ')})`,
        );
      const found = wanted.map((w) => bySha.get(w.sha1)).filter((i): i is ClipFeatures => i !== undefined);
      if (found.length < wanted.length) {
        process.stderr.write(
          `warning: ${wanted.length - found.length} of ${wanted.length} clips of "${name}" are not in ${scan.root}; the numbers will differ from metadata.json\n`,
        );
      }
      sets[name] = found;
    }
  }
  const results: Record<string, unknown> = {};
  for (const [name, clips] of Object.entries(sets)) {
    if (clips.length === 0) continue;
    const cmvn = metadata.featureConfig.normalization === 'utterance';
    const m = subset
      ? await subsetMetrics(onnx, clips, metadata.input.frames, metadata.labels, subset, cmvn)
      : await onnxMetrics(onnx, clips, metadata.input.frames, metadata.labels, cmvn);
    results[name] = {
      accuracy: m.accuracy,
      macroF1: m.macroF1,
      weightedF1: m.weightedF1,
      support: m.support,
      // The collapse detector: share of the most-predicted class, every true class weighted equally.
      largestClassShare: {
        label: m.labels[largestClassShare(m.confusion).label],
        share: largestClassShare(m.confusion).share,
      },
    };
    if (!opts.json) {
      const recorded = metadata.metrics[name] as { accuracy?: number; macroF1?: number } | undefined;
      const check =
        recorded && !subset
          ? ` — metadata.json: accuracy ${recorded.accuracy}, macro-F1 ${recorded.macroF1} (${recorded.accuracy === m.accuracy && recorded.macroF1 === m.macroF1 ? 'same' : 'DIFFERENT'})`
          : '';
      process.stdout.write(
        `\n== ${name}: ${m.support} clips, accuracy ${m.accuracy.toFixed(4)}, macro-F1 ${m.macroF1.toFixed(4)}${check}\n${collapseText(m)}\n\n${metricsText(m)}\n`,
      );
    } else results[name] = { ...(results[name] as object), perClass: m.perClass, confusion: m.confusion };
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} catch (error) {
  if (error instanceof DatasetError || error instanceof ModelError || error instanceof InvalidArgumentError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
