import type * as ort from 'onnxruntime-node';
import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import { shiftChannels, speakerOffsets } from '../lambdas/core/features/speaker-normalization.ts';
import { channelMeans, drawPrior, PRIOR_COUNTS, type StreamClip, targetWeight } from './adaptive-streams.ts';
import type { OffsetMatrix } from './batches.ts';
import { windowProbabilities } from './onnx-eval.ts';
import { createRng, seedFrom } from './random.ts';

/**
 * One way of adapting: which channels are shifted and how strongly the shift is shrunk; or, with
 * `kind: 'prior'`, no shift but a label-shift correction: the clip's probabilities divided by the
 * speaker's mean predicted probabilities (shrunk toward uniform by `shrinkageClips`), renormalised; or,
 * with `kind: 'input'` (a package with `speakerAdaptation.apply` "input"), the same offsets fed to the
 * graph's `speaker_offset` input, frames unshifted.
 */
export interface AdaptVariant {
  name: string;
  kind?: 'shift' | 'prior' | 'input';
  channels: number[];
  shrinkageClips: number;
  /** The population of `channels` (the package's own for 'input'); absent: the evaluation's. */
  populationMean?: number[];
}

export interface CurvePoint {
  k: number;
  accuracy: number;
  baseline: number;
  /** Skewed streams: the smallest (adapted − context-free) over the dominant emotions. */
  worstDelta?: number;
  /** Balanced streams: the share of the most predicted class. */
  largestShare?: number;
}

export interface VariantResult {
  variant: AdaptVariant;
  balanced: CurvePoint[];
  skewed: CurvePoint[];
}

/** Predicted label of each matrix (mean of its windows' probabilities), batched through one session. */
async function scoreMatrices(
  session: ort.InferenceSession,
  matrices: FeatureMatrix[],
  frames: number,
  labels: number,
): Promise<Int32Array> {
  const p = await probabilitiesOf(session, matrices, frames, labels);
  return Int32Array.from(matrices, (_, c) => argmax(p.subarray(c * labels, (c + 1) * labels)));
}

/** Probabilities of each matrix (mean over its windows), [matrices × labels]. */
export async function probabilitiesOf(
  session: ort.InferenceSession,
  matrices: FeatureMatrix[],
  frames: number,
  labels: number,
): Promise<Float64Array> {
  return windowProbabilities(session, matrices, frames, labels, { cmvn: false, batchSize: 256 });
}

/** Index of the largest value (the first on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** The target's features shifted by what its prior clips say about the speaker (or carrying the offset). */
function adaptedMatrix(
  target: StreamClip,
  prior: StreamClip[],
  variant: AdaptVariant,
  population: readonly number[],
): FeatureMatrix {
  const mean = variant.channels.map((c) => prior.reduce((s, p) => s + p.means[c]!, 0) / prior.length);
  const offsets = speakerOffsets(
    { count: prior.length, mean, m2: mean.map(() => 0) },
    {
      channels: variant.channels,
      populationMean: variant.populationMean ?? variant.channels.map((c) => population[c]!),
      shrinkageClips: variant.shrinkageClips,
      minClips: 1,
    },
  );
  // No earlier clip drawn (a stream of a speaker with no other clip of the dominant emotion): no context.
  if (!offsets) return target.matrix;
  if (variant.kind === 'input')
    return { ...target.matrix, offset: Float32Array.from(offsets) } as OffsetMatrix;
  const matrix = { ...target.matrix, data: target.matrix.data.slice() };
  shiftChannels(matrix, matrix.frames, variant.channels, offsets);
  return matrix;
}

export interface AdaptiveRunOptions {
  session: ort.InferenceSession;
  clips: StreamClip[];
  population: readonly number[];
  frames: number;
  labels: number;
  repetitions: number;
  seed: number;
}

/** Accuracy (weighted for the stream) and predicted-class counts of one (stream, k) cell. */
interface Cell {
  correct: number;
  weight: number;
  counts: number[];
}

async function runCell(
  options: AdaptiveRunOptions,
  variant: AdaptVariant,
  k: number,
  dominant: number | undefined,
): Promise<Cell> {
  const { clips, repetitions } = options;
  const jobs: Array<{ target: StreamClip; matrix: FeatureMatrix; prior: StreamClip[] }> = [];
  for (let rep = 0; rep < repetitions; rep++) {
    for (const [index, target] of clips.entries()) {
      const rng = createRng(seedFrom(options.seed, target.speaker, index, k, dominant ?? -1, rep));
      const own = clips.filter((c) => c.speaker === target.speaker);
      const prior = drawPrior(target, own, k, rng, dominant);
      const matrix =
        variant.kind === 'prior' ? target.matrix : adaptedMatrix(target, prior, variant, options.population);
      jobs.push({ target, matrix, prior });
    }
  }
  const predicted =
    variant.kind === 'prior'
      ? Int32Array.from(jobs, (j) => priorCorrected(j.target, j.prior, variant, options.labels))
      : await scoreMatrices(
          options.session,
          jobs.map((j) => j.matrix),
          options.frames,
          options.labels,
        );
  return tally(
    jobs.map((j) => j.target),
    predicted,
    clips,
    dominant,
    options.labels,
  );
}

/** Label-shift correction: the clip's probabilities over the speaker's (shrunk) mean probabilities. */
function priorCorrected(
  target: StreamClip,
  prior: StreamClip[],
  variant: AdaptVariant,
  labels: number,
): number {
  const n = prior.length;
  const adjusted = Array.from({ length: labels }, (_, l) => {
    const speakerMean = prior.reduce((s, p) => s + p.probabilities![l]!, 0) / n;
    const shrunk = (n * speakerMean + variant.shrinkageClips / labels) / (n + variant.shrinkageClips);
    return target.probabilities![l]! / Math.max(shrunk, 1e-6);
  });
  return argmax(adjusted);
}

function tally(
  targets: StreamClip[],
  predicted: Int32Array,
  clips: StreamClip[],
  dominant: number | undefined,
  labels: number,
): Cell {
  const cell: Cell = { correct: 0, weight: 0, counts: new Array(labels).fill(0) };
  targets.forEach((t, i) => {
    const own = clips.filter((c) => c.speaker === t.speaker);
    const w = targetWeight(t, own, dominant);
    cell.weight += w;
    if (predicted[i] === t.label) cell.correct += w;
    cell.counts[predicted[i]!]! += 1;
  });
  return cell;
}

const accuracyOf = (cell: Cell): number => cell.correct / cell.weight;

/** Balanced and skewed curves of one variant over `PRIOR_COUNTS`, next to the context-free baseline. */
export async function runVariant(options: AdaptiveRunOptions, variant: AdaptVariant): Promise<VariantResult> {
  const baselinePredicted = await scoreMatrices(
    options.session,
    options.clips.map((c) => c.matrix),
    options.frames,
    options.labels,
  );
  const baseline = (dominant: number | undefined) =>
    accuracyOf(tally(options.clips, baselinePredicted, options.clips, dominant, options.labels));
  const share = (cell: Cell) => Math.max(...cell.counts) / cell.counts.reduce((a, b) => a + b, 0);
  const present = [...new Set(options.clips.map((c) => c.label))].sort((a, b) => a - b);
  const balanced: CurvePoint[] = [];
  const skewed: CurvePoint[] = [];
  for (const k of PRIOR_COUNTS) {
    if (k === 0) {
      const cell = tally(options.clips, baselinePredicted, options.clips, undefined, options.labels);
      balanced.push({ k, accuracy: accuracyOf(cell), baseline: accuracyOf(cell), largestShare: share(cell) });
      const b = present.map((e) => baseline(e));
      skewed.push({ k, accuracy: mean(b), baseline: mean(b), worstDelta: 0 });
      continue;
    }
    const cell = await runCell(options, variant, k, undefined);
    balanced.push({
      k,
      accuracy: accuracyOf(cell),
      baseline: baseline(undefined),
      largestShare: share(cell),
    });
    const deltas: number[] = [];
    const accs: number[] = [];
    for (const e of present) {
      const a = accuracyOf(await runCell(options, variant, k, e));
      accs.push(a);
      deltas.push(a - baseline(e));
    }
    const b = present.map((e) => baseline(e));
    skewed.push({ k, accuracy: mean(accs), baseline: mean(b), worstDelta: Math.min(...deltas) });
  }
  return { variant, balanced, skewed };
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * The population a speaker is mapped to: each training speaker's mean of its clips' channel means, averaged
 * over speakers (so the corpus with the most clips per voice does not set it). Clean clips, not the
 * model's augmented training rows: noise and crops move those rows' cepstral and level means.
 */
export function speakerBalancedMean(clips: readonly StreamClip[]): number[] {
  const bySpeaker = new Map<string, StreamClip[]>();
  for (const c of clips) bySpeaker.set(c.speaker, [...(bySpeaker.get(c.speaker) ?? []), c]);
  const dims = clips[0]!.means.length;
  const total = new Float64Array(dims);
  for (const own of bySpeaker.values()) {
    for (const c of own) for (let d = 0; d < dims; d++) total[d]! += c.means[d]! / own.length;
  }
  return Array.from(total, (t) => t / bySpeaker.size);
}

/** A held-out clip as a stream element. */
export const streamClip = (speaker: string, label: number, matrix: FeatureMatrix): StreamClip => ({
  speaker,
  label,
  matrix,
  means: channelMeans(matrix),
});
