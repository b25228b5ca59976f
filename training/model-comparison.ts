import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { METADATA_FILE } from '../lambdas/core/model/location.ts';
import { createPredictor, type Predictor } from '../lambdas/core/predict.ts';
import type { ModelComparison, ModelScore } from '../lambdas/training/activation-policy.ts';
import { type Clip, type DatasetScan, EMOTIONS } from './datasets.ts';
import { computeMetrics } from './metrics.ts';

/** The test sets a package's splits.json records: name → clips (path relative to the data root, sha1). */
interface SplitsFile {
  sets: Record<string, Array<{ path: string; sha1: string }>>;
}
/** Speaker-independent sets the pipeline writes when speakers are held out whole. */
const HELD_OUT_SETS = ['ravdess-heldout-actors', 'heldout-speakers'];

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;

/** The candidate's comparison set: held-out speakers when it has them, else its whole test part. */
function pickTestSet(splits: SplitsFile): { name: string; speakerIndependent: boolean } {
  const nonEmpty = (name: string) => (splits.sets[name]?.length ?? 0) > 0;
  const heldOut = HELD_OUT_SETS.find(nonEmpty);
  if (heldOut) return { name: heldOut, speakerIndependent: true };
  const whole = ['all-test', ...Object.keys(splits.sets)].find(nonEmpty);
  if (!whole) throw new Error('The candidate package records no test clips');
  return { name: whole, speakerIndependent: false };
}

/**
 * What the active model trained on, as far as its package says: clips of its corpora that are not in its
 * recorded test sets. Without splits.json nothing can be excluded (`undefined`).
 */
async function seenByActive(activeDir: string): Promise<((clip: Clip, sha1: string) => boolean) | undefined> {
  const splits = await readJson<SplitsFile>(join(activeDir, 'splits.json')).catch(() => undefined);
  if (!splits) return undefined;
  const metadata = await readJson<{ training?: { corpora?: string[] } }>(join(activeDir, METADATA_FILE));
  const corpora = new Set(metadata.training?.corpora ?? []);
  const tested = new Set(Object.values(splits.sets).flatMap((set) => set.map((c) => c.sha1)));
  return (clip, sha1) => corpora.has(clip.corpus) && !tested.has(sha1);
}

/** Runs every clip through the deployed predictor; a clip either model refuses is dropped for both. */
async function predictAll(predictor: Predictor, clips: Clip[]): Promise<Array<string | undefined>> {
  const out: Array<string | undefined> = [];
  for (const clip of clips) {
    try {
      out.push((await predictor.predict(await readFile(clip.path))).emotion);
    } catch {
      out.push(undefined);
    }
  }
  return out;
}

function score(version: string, clips: Clip[], predicted: string[]): ModelScore {
  const labels = [...EMOTIONS] as string[];
  const m = computeMetrics(
    labels,
    clips.map((c) => labels.indexOf(c.emotion)),
    predicted.map((p) => labels.indexOf(p)),
  );
  return { version, macroF1: m.macroF1, accuracy: m.accuracy };
}

async function withPredictor<T>(modelDir: string, use: (p: Predictor) => Promise<T>): Promise<T> {
  const predictor = await createPredictor({ modelDir });
  try {
    return await use(predictor);
  } finally {
    await predictor.release();
  }
}

/**
 * Scores the candidate package and the active model's package on the same clips through
 * `createPredictor` (what the API runs): the candidate's own held-out test clips, minus those the active
 * model trained on. `active` is a package folder, or the reason it could not be fetched.
 */
export async function compareModels(options: {
  candidateDir: string;
  active: { version: string; dir: string } | { version: string; error: string } | undefined;
  scan: DatasetScan;
}): Promise<ModelComparison> {
  const { candidateDir, active, scan } = options;
  const splits = await readJson<SplitsFile>(join(candidateDir, 'splits.json'));
  const candidateVersion = (await readJson<{ version: string }>(join(candidateDir, METADATA_FILE))).version;
  const { name, speakerIndependent } = pickTestSet(splits);
  const byPath = new Map(scan.clips.map((c) => [relative(scan.root, c.path).split('\\').join('/'), c]));
  const seen = active && 'dir' in active ? await seenByActive(active.dir) : undefined;
  const recorded = (splits.sets[name] ?? []).flatMap((entry) => {
    const clip = byPath.get(entry.path);
    return clip ? [{ clip, sha1: entry.sha1 }] : [];
  });
  const unseen = recorded.filter(({ clip, sha1 }) => !seen?.(clip, sha1)).map((r) => r.clip);

  const candidatePredicted = await withPredictor(candidateDir, (p) => predictAll(p, unseen));
  const activePredicted =
    active && 'dir' in active ? await withPredictor(active.dir, (p) => predictAll(p, unseen)) : undefined;
  const kept = unseen
    .map((clip, i) => ({ clip, c: candidatePredicted[i], a: activePredicted?.[i] }))
    .filter((r) => r.c !== undefined && (!activePredicted || r.a !== undefined));
  const clips = kept.map((r) => r.clip);
  return {
    testSet: name,
    speakerIndependent,
    clips: clips.length,
    excludedSeenByActive: recorded.length - unseen.length,
    candidate: score(
      candidateVersion,
      clips,
      kept.map((r) => r.c!),
    ),
    ...(active && 'dir' in active
      ? {
          active: score(
            active.version,
            clips,
            kept.map((r) => r.a!),
          ),
        }
      : active
        ? { activeError: active.error }
        : {}),
  };
}
