import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { ModelError } from '../lambdas/core/errors.ts';
import { CalibrationSchema } from '../lambdas/core/model/calibration.ts';
import { sha256Hex } from '../lambdas/core/model/checksum.ts';
import { METADATA_FILE } from '../lambdas/core/model/location.ts';
import type { ModelMetadata } from '../lambdas/core/model/metadata.ts';
import { loadModelPackage } from '../lambdas/core/model/runtime.ts';
import { DEFAULT_AUGMENTATION } from './augment.ts';
import { labelIndex } from './batches.ts';
import { DatasetError, defaultDatasetDir, scanDataset } from './datasets.ts';
import { type ClipFeatures, createFeaturePipeline } from './features.ts';
import { reliabilitySvg } from './figures.ts';
import { calibrate, LOW_CONFIDENCE_BELOW } from './folds.ts';
import { predictWithOnnx } from './onnx-eval.ts';

/**
 * `npx tsx training/calibrate.ts --model <package> --set <name>`: fits the temperature of an existing
 * package on one of its own recorded test sets (splits.json) and writes it into the package's metadata
 * (`calibration`) and its new `--version` with a reliability diagram (figures/reliability.svg). The version
 * must change: a version names one package for good, and deploying or registering the recalibrated
 * package under its old version is refused (ModelVersionConflictError). The ECE it prints next to the
 * in-sample one is cross-fitted by speaker (each speaker calibrated with the temperature of the others).
 * For packages trained before calibration existed; a package trained with its actor folds gets its
 * calibration from them instead.
 */
const program = new Command()
  .requiredOption('--model <dir>', 'model package folder')
  .option(
    '--set <name>',
    'recorded test set of the package (splits.json), best of speakers held out of its training',
    'ravdess-heldout-actors',
  )
  .option('--data <dir>', 'dataset root', defaultDatasetDir())
  .requiredOption(
    '--version <v>',
    "the package's new version (required: the same ONNX with another calibration is another package, " +
      'which the registry refuses under a registered version)',
  );
program.parse();
const opts = program.opts<{ model: string; set: string; data: string; version: string }>();

/** The sha1s of the recorded set's clips; a missing or empty set is refused (nothing to fit on). */
async function recordedSet(dir: string, name: string): Promise<Set<string>> {
  const text = await readFile(join(dir, 'splits.json'), 'utf8').catch(() => {
    throw new ModelError(`${dir} has no splits.json: its recorded test sets are unknown`);
  });
  const { sets } = JSON.parse(text) as { sets: Record<string, Array<{ sha1: string }>> };
  const set = sets[name];
  if (!set)
    throw new DatasetError(`${dir}/splits.json has no set "${name}" (has: ${Object.keys(sets).join(', ')})`);
  if (set.length === 0)
    throw new DatasetError(`set "${name}" of ${dir}/splits.json is empty: no clip to fit a temperature on`);
  return new Set(set.map((c) => c.sha1));
}

/** The recorded set's clips in `dataDir`, with their features; all of them or an error. */
async function recordedClips(metadata: ModelMetadata, wanted: Set<string>): Promise<ClipFeatures[]> {
  const scan = await scanDataset(opts.data);
  const pipeline = await createFeaturePipeline({
    config: metadata.featureConfig,
    augmentCopies: 0,
    augmentation: DEFAULT_AUGMENTATION,
    seed: 0,
  });
  const { items: all } = await pipeline.run(scan.clips.filter((c) => metadata.labels.includes(c.emotion)));
  const items = all.filter((i) => wanted.has(i.fileHash));
  if (items.length !== wanted.size)
    throw new DatasetError(
      `found ${items.length} of the ${wanted.size} clips of ${opts.set} in ${scan.root}`,
    );
  return items;
}

/** Who the clips are: speakers held out of the package's training, or test clips of its training voices. */
function whoseClips(metadata: ModelMetadata, speakers: string[]): string {
  const split = metadata.training.split as { heldOutSpeakers?: string[] } | undefined;
  const heldOut = speakers.every((s) => split?.heldOutSpeakers?.includes(s));
  return `${heldOut ? 'held-out speakers' : 'test clips of its training voices'} ${speakers.join(', ')}`;
}

async function main(): Promise<void> {
  const dir = resolve(opts.model);
  const model = await loadModelPackage(dir);
  const { metadata } = model;
  await model.release();
  if (opts.version === metadata.version)
    throw new ModelError(
      `--version ${opts.version} is the package's version: a recalibrated package needs a new one ` +
        '(a version names one package for good)',
    );
  const onnx = await readFile(join(dir, metadata.onnxFile));
  if (sha256Hex(onnx) !== metadata.sha256) throw new ModelError('ONNX does not match its metadata');
  const items = await recordedClips(metadata, await recordedSet(dir, opts.set));
  const labels = metadata.labels;
  const probabilities = await predictWithOnnx(
    onnx,
    items,
    metadata.input.frames,
    labels.length,
    64,
    metadata.featureConfig.normalization === 'utterance',
  );
  const truth = items.map((i) => labelIndex(labels, i.clip.emotion));
  const speakers = [...new Set(items.map((i) => i.clip.speaker))].sort();
  const result = calibrate(
    probabilities,
    truth,
    items.map((i) => speakers.indexOf(i.clip.speaker)),
    labels.length,
  );
  const who = whoseClips(metadata, speakers);
  const calibration = CalibrationSchema.parse({
    method: 'temperature',
    temperature: result.temperature,
    lowConfidenceBelow: LOW_CONFIDENCE_BELOW,
    fittedOn: `the package's own ${who} (${items.length} clips, recorded set ${opts.set}); expected calibration error ${result.eceBefore} before, ${result.eceCrossFitted} after when each speaker's temperature is fitted on the others`,
  });
  const raw = JSON.parse(await readFile(join(dir, METADATA_FILE), 'utf8')) as Record<string, unknown>;
  raw.calibration = calibration;
  raw.version = opts.version;
  await writeFile(join(dir, METADATA_FILE), `${JSON.stringify(raw, null, 2)}\n`);
  await writeFile(
    join(dir, 'figures', 'reliability.svg'),
    reliabilitySvg(`Reliability on ${who}`, [
      { name: 'raw softmax', colour: '#d95f02', bins: result.binsBefore, ece: result.eceBefore },
      {
        name: `temperature ${result.temperature}`,
        colour: '#1b9e77',
        bins: result.binsAfter,
        ece: result.eceAfter,
      },
    ]),
  );
  process.stdout.write(
    `${JSON.stringify({ ...result, binsBefore: undefined, binsAfter: undefined }, null, 1)}\n`,
  );
}

try {
  await main();
} catch (error) {
  if (error instanceof DatasetError || error instanceof ModelError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
