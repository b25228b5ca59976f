import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { METADATA_FILE } from '../lambdas/core/model/location.ts';
import type { ModelMetadata } from '../lambdas/core/model/metadata.ts';
import { speakerBalancedMean, streamClip } from './adaptive.ts';
import { adaptationCurvesSvg } from './adaptive-figure.ts';
import {
  type AdaptiveEvaluation,
  adaptationTables,
  candidateVariants,
  evaluateAdaptation,
} from './adaptive-report.ts';
import { type Clip, DatasetError } from './datasets.ts';
import type { ClipFeatures } from './features.ts';
import { seedFrom } from './random.ts';

/** `--speakers`, else the speakers the package's training held out whole. */
export function adaptiveSpeakers(metadata: ModelMetadata, list: string | undefined): string[] {
  const split = metadata.training.split as { heldOutSpeakers?: string[] } | undefined;
  const speakers = list
    ? list
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : (split?.heldOutSpeakers ?? []);
  if (speakers.length === 0) {
    throw new DatasetError('--adaptive needs held-out speakers: the package names none; pass --speakers');
  }
  return speakers;
}

/** TESS has 1 400 clips per voice: a seeded eighth of them is plenty for a speaker's mean. */
const TESS_SAMPLE = 8;

/**
 * Which clips `--adaptive` needs: every clip of the evaluated speakers, and the training speakers' clips
 * that define the population (a seeded sample of TESS's large per-voice sets).
 */
export function adaptiveSelection(
  metadata: ModelMetadata,
  list: string | undefined,
): (clip: Clip) => boolean {
  const speakers = adaptiveSpeakers(metadata, list);
  const trained = new Set((metadata.training.corpora as string[] | undefined) ?? []);
  return (clip) =>
    speakers.includes(clip.speaker) ||
    (trained.has(clip.corpus) && (clip.corpus !== 'tess' || seedFrom(clip.path) % TESS_SAMPLE === 0));
}

export interface AdaptiveCliOptions {
  repetitions: string;
  shrinkage: string;
  variants?: string;
  write?: boolean;
  enable?: string;
  minClips?: string;
  /** With `enable`: the package's new version (checked by the caller to differ from its own). */
  version?: string;
}

/** `npm run evaluate -- --adaptive`: prints the curves of every variant (and with --write, the report). */
export async function runAdaptive(
  dir: string,
  onnx: Uint8Array,
  metadata: ModelMetadata,
  items: ClipFeatures[],
  speakers: string[],
  options: AdaptiveCliOptions,
): Promise<void> {
  const shrinkages = options.shrinkage.split(',').map(Number);
  const training = items.filter((i) => !speakers.includes(i.clip.speaker));
  if (training.length === 0)
    throw new DatasetError(
      '--adaptive needs clips of other speakers than the streamed ones (their means are the population the shifts aim at)',
    );
  const population = speakerBalancedMean(training.map((i) => streamClip(i.clip.speaker, 0, i.original)));
  const evaluation = await evaluateAdaptation({
    onnx,
    metadata,
    items: items.filter((i) => speakers.includes(i.clip.speaker)),
    population,
    variants: candidateVariants(metadata, shrinkages).filter((v) => v.name.includes(options.variants ?? '')),
    repetitions: Number(options.repetitions),
    seed: 1337,
  });
  const heading = `Speaker adaptation of ${metadata.name} ${metadata.version} on ${evaluation.speakers.join(', ')} (${evaluation.clips} clips, ${options.repetitions} seeded streams per clip)`;
  process.stdout.write(`${heading}\n\n${adaptationTables(evaluation)}\n`);
  if (options.write) await writeReport(dir, heading, evaluation);
  if (options.enable)
    await enableVariant(dir, evaluation, options.enable, {
      minClips: Number(options.minClips ?? 3),
      version: options.version!,
    });
}

/** `--write`: the measured tables and the curves into the package (ADAPTATION-RESULTS.md, figures/). */
async function writeReport(dir: string, heading: string, evaluation: AdaptiveEvaluation): Promise<void> {
  await mkdir(join(dir, 'figures'), { recursive: true });
  await writeFile(
    join(dir, 'figures', 'adaptation-curves.svg'),
    adaptationCurvesSvg(heading, evaluation.results),
  );
  const text = [
    `# ${heading}`,
    '',
    'Written by `npm run evaluate -- --adaptive --write`; ADAPTATION.md explains the method and the streams.',
    '',
    '![Accuracy after k earlier clips](figures/adaptation-curves.svg)',
    '',
    adaptationTables(evaluation),
    '',
  ].join('\n');
  await writeFile(join(dir, 'ADAPTATION-RESULTS.md'), text);
  process.stderr.write(`wrote ${join(dir, 'ADAPTATION-RESULTS.md')} and figures/adaptation-curves.svg\n`);
}

/**
 * `--enable <variant>`: writes that variant as the package's `speakerAdaptation` (predictions adapt),
 * under the package's new `version`.
 */
async function enableVariant(
  dir: string,
  evaluation: AdaptiveEvaluation,
  name: string,
  { minClips, version }: { minClips: number; version: string },
): Promise<void> {
  const variant = evaluation.results.find((r) => r.variant.name === name)?.variant;
  if (!variant || variant.kind === 'prior' || variant.kind === 'input') {
    throw new DatasetError(`--enable: "${name}" is not a measured channel-shift variant`);
  }
  const path = join(dir, METADATA_FILE);
  const metadata = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  metadata.speakerAdaptation = {
    channels: variant.channels,
    populationMean: variant.channels.map((c) => Number(evaluation.population[c]!.toFixed(4))),
    shrinkageClips: variant.shrinkageClips,
    minClips,
  };
  metadata.version = version;
  await writeFile(path, `${JSON.stringify(metadata, null, 2)}\n`);
  process.stderr.write(
    `${path}: version ${version}, speakerAdaptation = ${variant.name}, minClips ${minClips}\n`,
  );
}
