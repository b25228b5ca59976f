import type { ModelMetadata } from '../lambdas/core/model/metadata.ts';
import { speakerBalancedMean, streamClip } from './adaptive.ts';
import { adaptationTables, candidateVariants, evaluateAdaptation } from './adaptive-report.ts';
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
}

/** `npm run evaluate -- --adaptive`: prints the curves of every variant (and with --write, the report). */
export async function runAdaptive(
  _dir: string,
  onnx: Uint8Array,
  metadata: ModelMetadata,
  items: ClipFeatures[],
  speakers: string[],
  options: AdaptiveCliOptions,
): Promise<void> {
  const shrinkages = options.shrinkage.split(',').map(Number);
  const training = items.filter((i) => !speakers.includes(i.clip.speaker));
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
  process.stdout.write(
    `Speaker adaptation of ${metadata.name} ${metadata.version} on ${evaluation.speakers.join(', ')} (${evaluation.clips} clips)\n\n${adaptationTables(evaluation)}\n`,
  );
}
