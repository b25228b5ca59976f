import { readFile } from 'node:fs/promises';
import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import type { SavedProbabilities } from './ensemble-folds.ts';
import { type Rng, shuffle } from './random.ts';

/**
 * The streams behind `npm run evaluate -- --adaptive`: a held-out speaker's clip is scored as the
 * (k+1)-th clip of a seeded random stream of that speaker, the k earlier clips drawn from the speaker's
 * *other* clips (never the clip itself). Balanced streams draw the earlier clips uniformly; a skewed
 * stream draws 70 % of them from one emotion, and 70 % of the weight of the scored clips is that emotion,
 * every emotion taking its turn as the dominant one.
 */
export const PRIOR_COUNTS = [0, 1, 3, 10, 30] as const;
export const SKEW_SHARE = 0.7;

export interface StreamClip {
  speaker: string;
  label: number;
  matrix: FeatureMatrix;
  /** Mean of every channel over the clip's frames (raw features). */
  means: Float64Array;
  /** The context-free model's probabilities of the clip (for the label-shift variant). */
  probabilities?: Float64Array;
}

/** `count` items of `pool` without replacement while it lasts, then reshuffled again (with repeats). */
function take<T>(pool: readonly T[], count: number, rng: Rng): T[] {
  const out: T[] = [];
  while (out.length < count && pool.length > 0) {
    out.push(...shuffle([...pool], rng).slice(0, count - out.length));
  }
  return out;
}

/**
 * The k clips heard before `target`: balanced (uniform) or skewed toward `dominant` (a label index), which
 * then takes `share` of them.
 */
export function drawPrior<T extends Pick<StreamClip, 'label'>>(
  target: T,
  speakerClips: readonly T[],
  k: number,
  rng: Rng,
  dominant?: number,
  share = SKEW_SHARE,
): T[] {
  const pool = speakerClips.filter((c) => c !== target);
  if (dominant === undefined) return take(pool, k, rng);
  const many = Math.round(share * k);
  return shuffle(
    [
      ...take(
        pool.filter((c) => c.label === dominant),
        many,
        rng,
      ),
      ...take(
        pool.filter((c) => c.label !== dominant),
        k - many,
        rng,
      ),
    ],
    rng,
  );
}

/** Weight of a scored clip in a stream: uniform when balanced, 70 / 30 between dominant and the rest. */
export function targetWeight(
  target: Pick<StreamClip, 'label'>,
  clips: readonly Pick<StreamClip, 'label'>[],
  dominant: number | undefined,
): number {
  if (dominant === undefined) return 1;
  const same = clips.filter((c) => c.label === dominant).length;
  const other = clips.length - same;
  return target.label === dominant ? SKEW_SHARE / same : (1 - SKEW_SHARE) / other;
}

/** Per-clip means of every channel over all frames. */
export function channelMeans(matrix: FeatureMatrix): Float64Array {
  const means = new Float64Array(matrix.dims);
  for (let f = 0; f < matrix.frames; f++) {
    for (let d = 0; d < matrix.dims; d++) means[d]! += matrix.data[f * matrix.dims + d]!;
  }
  return means.map((s) => s / Math.max(1, matrix.frames));
}

/** Weighted hits and predicted classes per `model/k/stream kind` key (rounds 20, 38, 40, 41). */
export type StreamTally = Map<string, { correct: number; weight: number; predicted: number[] }>;

export function addToTally(
  tally: StreamTally,
  key: string,
  predicted: number,
  truth: number,
  weight: number,
  classes: number,
): void {
  const t = tally.get(key) ?? { correct: 0, weight: 0, predicted: new Array<number>(classes).fill(0) };
  t.correct += predicted === truth ? weight : 0;
  t.weight += weight;
  t.predicted[predicted]! += 1;
  tally.set(key, t);
}

/**
 * One accuracy-after-k row of `model` against `baseline` (keys `name/k/balanced` and `name/k/<dominant>`):
 * balanced accuracy, the mean over the skewed kinds, the skewed kind that lost most, the largest class
 * share of the balanced predictions; rounded to 3 decimals.
 */
export function streamCurveRow(
  tally: StreamTally,
  model: string,
  baseline: string,
  k: number,
  classes: number,
) {
  const accuracy = (key: string) => tally.get(key)!.correct / tally.get(key)!.weight;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const skewed = (name: string) => Array.from({ length: classes }, (_, d) => accuracy(`${name}/${k}/${d}`));
  const baselineSkewed = skewed(baseline);
  const modelSkewed = skewed(model);
  const predicted = tally.get(`${model}/${k}/balanced`)!.predicted;
  return {
    baseline: r3(accuracy(`${baseline}/${k}/balanced`)),
    model: r3(accuracy(`${model}/${k}/balanced`)),
    baselineSkewed: r3(mean(baselineSkewed)),
    modelSkewed: r3(mean(modelSkewed)),
    worstSkewedDelta: r3(Math.min(...modelSkewed.map((c, d) => c - baselineSkewed[d]!))),
    largestShare: r3(Math.max(...predicted) / predicted.reduce((a, b) => a + b, 0)),
  };
}

/** The stored out-of-fold ensembles the speaker rounds (20, 38, 40, 41) are scored beside. */
export const STORED_ENSEMBLE_DRAWS = [
  { name: 'package seeds (round 16, ABBc8)', dir: 'round16', members: ['A1c8', 'B1c8', 'B2c8'] },
  { name: "round 17's seeds (ABB′c8)", dir: 'round17', members: ['A3c8', 'B3c8', 'B4c8'] },
] as const;

/**
 * A draw's members' clean out-of-fold probabilities averaged as the graph averages them, per held-out
 * clip in their pooled order, with that order's truths and folds (which every member must share).
 */
export async function storedEnsemble(draw: (typeof STORED_ENSEMBLE_DRAWS)[number], classes: number) {
  const members = await Promise.all(
    draw.members.map(async (m) => {
      const path = new URL(`../models/ser-lstm/${draw.dir}/${m}.probs.json`, import.meta.url);
      return (JSON.parse(await readFile(path, 'utf8')) as SavedProbabilities).clean;
    }),
  );
  const [first] = members;
  if (
    !members.every((m) => m.truth.every((t, j) => t === first!.truth[j] && m.foldOf[j] === first!.foldOf[j]))
  )
    throw new Error(`${draw.name}: the members' held-out orders differ`);
  const probabilities = first!.truth.map((_, j) =>
    Array.from({ length: classes }, (_, c) =>
      members.reduce((s, m) => s + m.probabilities[j * classes + c]! / members.length, 0),
    ),
  );
  return { truth: first!.truth, foldOf: first!.foldOf, probabilities };
}
