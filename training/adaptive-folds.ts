import type { SpeakerAdaptation } from '../lambdas/core/features/speaker-normalization.ts';
import { channelMeans, drawPrior, PRIOR_COUNTS, type StreamClip, targetWeight } from './adaptive-streams.ts';
import { labelIndex } from './batches.ts';
import type { ClipFeatures } from './features.ts';
import { largestClassShare } from './metrics.ts';
import { createRng, seedFrom } from './random.ts';
import { offsetsAfter, shifted, withOffset } from './speaker-shift.ts';

/**
 * Adaptive streams on the actor folds (`develop.ts --speaker-shift`): each held-out clip is scored as the
 * (k+1)-th clip of seeded streams of its speaker (adaptive-streams.ts), by the fold model that never
 * heard the speaker; balanced streams and 70 %-skewed ones (every emotion dominant in turn). With
 * `--speaker-offset` the same streams (same seeds, same earlier clips) give each clip its offset as an
 * input instead of shifting it; k = 0 is offset 0.
 */
export interface StreamCell {
  k: number;
  /** Label index of the dominant emotion of a skewed stream; undefined: balanced. */
  dominant?: number;
  items: ClipFeatures[];
  truth: number[];
  weights: number[];
}

const REPETITIONS = 2;

/**
 * Every (k, stream kind) cell of one fold's held-out clips, adapted matrices ready to score: shifted
 * (`apply` 'shift', runs D/E) or carrying the speaker offset beside the frames ('input').
 */
export function streamCells(
  held: readonly ClipFeatures[],
  labels: readonly string[],
  adaptation: SpeakerAdaptation,
  seed: number,
  apply: 'shift' | 'input' = 'shift',
): StreamCell[] {
  const adapt = apply === 'input' ? withOffset : shifted;
  const clips: StreamClip[] = held.map((i) => ({
    speaker: i.clip.speaker,
    label: labelIndex(labels, i.clip.emotion),
    matrix: i.original,
    means: channelMeans(i.original),
  }));
  const kinds: Array<number | undefined> = [undefined, ...labels.map((_, d) => d)];
  const cells: StreamCell[] = [];
  for (const k of PRIOR_COUNTS) {
    for (const dominant of k === 0 ? [undefined] : kinds) {
      const cell: StreamCell = { k, dominant, items: [], truth: [], weights: [] };
      for (let rep = 0; rep < (k === 0 ? 1 : REPETITIONS); rep++) {
        clips.forEach((target, index) => {
          const rng = createRng(seedFrom(seed, target.speaker, index, k, dominant ?? -1, rep));
          const own = clips.filter((c) => c.speaker === target.speaker);
          const prior = drawPrior(target, own, k, rng, dominant).map((c) => c.means);
          const offsets = offsetsAfter(prior, adaptation);
          cell.items.push({ ...held[index]!, original: adapt(target.matrix, adaptation, offsets) });
          cell.truth.push(target.label);
          cell.weights.push(targetWeight(target, clips, dominant));
        });
      }
      cells.push(cell);
    }
  }
  return cells;
}

/** Pooled tallies over folds of one cell kind. */
interface Tally {
  correct: number;
  weight: number;
  confusion: number[][];
}

export interface StreamCurve {
  k: number;
  balanced: number;
  largestShare: number;
  /** Mean over dominant emotions of the skewed-stream accuracy (k = 0: the same clips, skewed weights). */
  skewed: number;
  /** Smallest (skewed accuracy at k − at k = 0) over the dominant emotions. */
  skewedWorstDelta: number;
}

/** Accumulates scored cells over the folds and summarises them as accuracy-after-k curves. */
export function createStreamTally(labels: readonly string[]) {
  const tallies = new Map<string, Tally>();
  const keyOf = (k: number, dominant?: number) => `${k}/${dominant ?? 'balanced'}`;
  const tally = (key: string) => {
    let t = tallies.get(key);
    if (!t) {
      t = { correct: 0, weight: 0, confusion: labels.map(() => labels.map(() => 0)) };
      tallies.set(key, t);
    }
    return t;
  };
  const add = (key: string, truth: number, predicted: number, weight: number) => {
    const t = tally(key);
    t.correct += predicted === truth ? weight : 0;
    t.weight += weight;
    t.confusion[truth]![predicted]! += 1;
  };
  return {
    add(cell: StreamCell, predicted: Int32Array | number[], held: readonly ClipFeatures[]): void {
      const clips = held.map((i) => ({ label: labelIndex(labels, i.clip.emotion) }) as StreamClip);
      cell.truth.forEach((truth, r) => {
        add(keyOf(cell.k, cell.dominant), truth, predicted[r]!, cell.weights[r]!);
        if (cell.k !== 0) return;
        // k = 0 needs no prior: its predictions also stand for every skewed stream's starting point.
        for (const d of labels.keys())
          add(keyOf(0, d), truth, predicted[r]!, targetWeight(clips[r]!, clips, d));
      });
    },
    curves(): StreamCurve[] {
      const accuracy = (key: string) => tally(key).correct / Math.max(tally(key).weight, 1e-12);
      return PRIOR_COUNTS.map((k) => {
        const skewed = labels.map((_, d) => accuracy(keyOf(k, d)));
        const start = labels.map((_, d) => accuracy(keyOf(0, d)));
        return {
          k,
          balanced: round(accuracy(keyOf(k))),
          largestShare: round(largestClassShare(tally(keyOf(k)).confusion).share),
          skewed: round(skewed.reduce((s, a) => s + a, 0) / skewed.length),
          skewedWorstDelta: round(Math.min(...skewed.map((a, d) => a - start[d]!))),
        };
      });
    },
  };
}

const round = (x: number) => Math.round(x * 10000) / 10000;
