/**
 * `npx tsx training/speaker-head-round.ts [--round 20|38] [--out <file>]`: round 20
 * (models/ser-lstm/ROUND20.md) — a speaker-normalised logistic head on per-clip statistics, combined with
 * the stored out-of-fold probabilities of an ensemble (rounds 16 and 17), scored on adaptive streams of
 * the held-out actors — and round 38 (ROUND38.md): the same head with the stream's emotion mix removed
 * from the speaker's mean, adding only how the context moves the head's opinion.
 * No LSTM is trained: the head is fitted per actor fold on that fold's training speakers.
 */
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { type FeatureMatrix, frameStatistics } from '../lambdas/core/features/extract.ts';
import { argmax } from './adaptive.ts';
import {
  addToTally,
  drawPrior,
  PRIOR_COUNTS,
  STORED_ENSEMBLE_DRAWS,
  type StreamTally,
  storedEnsemble,
  streamCurveRow,
  targetWeight,
} from './adaptive-streams.ts';
import { labelIndex } from './batches.ts';
import { defaultDatasetDir, EMOTIONS, scanDataset } from './datasets.ts';
import { type ClipFeatures, createFeaturePipeline, dedupe } from './features.ts';
import { actorFoldsOf } from './folds.ts';
import { DEFAULTS } from './pipeline.ts';
import { createRng, seedFrom } from './random.ts';
import { multiCorpusSplit } from './splits.ts';

const LABELS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad'];
const K = LABELS.length;
/** Fixed before the runs (ROUND20.md). */
const SHRINK_CLIPS = 3;
const L2 = 1e-3;
const STEPS = 400;
const LEARNING_RATE = 0.05;
const REPETITIONS = 4;

interface Row {
  speaker: string;
  label: number;
  /** Per channel: mean over the clip's frames, then standard deviation (raw features). */
  stats: number[];
}

/** Mean and standard deviation of every channel over the frames of a raw feature matrix. */
function clipStatistics(m: FeatureMatrix): number[] {
  const { mean, std } = frameStatistics(m.data, m.frames, m.dims);
  return [...mean, ...std];
}

/**
 * The clips of rounds 16–17 (same scan, feature settings and dedupe as develop.ts) and the held-out
 * order. Only the originals' features are used, and they do not depend on the copies (their cache key
 * holds only the feature settings): no copies are made, which keeps a run without the feature cache short.
 */
async function loadRows(): Promise<{ rows: Row[]; heldOrder: number[] }> {
  const scan = await scanDataset(defaultDatasetDir(), ['tess', 'ravdess']);
  const pipeline = await createFeaturePipeline({
    config: { ...DEFAULTS.featureConfig, normalization: 'none' },
    augmentCopies: 0,
    augmentation: DEFAULTS.augmentation,
    seed: DEFAULTS.seed,
  });
  const kept: ClipFeatures[] = dedupe((await pipeline.run(scan.clips)).items).kept;
  const rows = kept.map((i) => ({
    speaker: i.clip.speaker,
    label: labelIndex(LABELS, i.clip.emotion),
    stats: clipStatistics(i.original),
  }));
  const index = new Map(kept.map((i, r) => [i.fileHash, r]));
  // The order in which actorFolds pooled the held-out clips (folds.ts): the fold's split's test order.
  const heldOrder = actorFoldsOf(kept).flatMap((fold) =>
    multiCorpusSplit('fold', kept, fold, DEFAULTS.seed)
      .test.filter((i) => fold.includes(i.clip.speaker))
      .map((i) => index.get(i.fileHash)!),
  );
  return { rows, heldOrder };
}

const meanOf = (vectors: readonly number[][]): number[] =>
  vectors[0]!.map((_, d) => vectors.reduce((s, v) => s + v[d]!, 0) / vectors.length);

interface Head {
  /** K rows of dims + 1 (bias last). */
  weights: number[][];
  spread: number[];
  population: number[];
  /** Per emotion: how far its clips sit from their speaker's mean, averaged over speakers (round 38). */
  offsets: number[][];
}

/** Class-weighted softmax cross-entropy gradient of the head on standardised rows `x`. */
function gradient(weights: number[][], x: number[][], y: number[], classWeight: number[]): number[][] {
  const dims = x[0]!.length;
  const total = y.reduce((s, l) => s + classWeight[l]!, 0);
  const g = weights.map(() => new Array<number>(dims + 1).fill(0));
  x.forEach((row, n) => {
    const logits = weights.map((w) => w[dims]! + row.reduce((s, v, d) => s + v * w[d]!, 0));
    const p = softmax(logits);
    for (let k = 0; k < K; k++) {
      const e = (classWeight[y[n]!]! * (p[k]! - (k === y[n] ? 1 : 0))) / total;
      for (let d = 0; d < dims; d++) g[k]![d]! += e * row[d]!;
      g[k]![dims]! += e;
    }
  });
  return g;
}

/** Full-batch Adam on the class-weighted, L2-regularised multinomial logistic loss. */
function fitLogistic(x: number[][], y: number[]): number[][] {
  const dims = x[0]!.length;
  const counts = LABELS.map((_, k) => y.filter((l) => l === k).length);
  const classWeight = counts.map((c) => y.length / (K * Math.max(c, 1)));
  const weights = LABELS.map(() => new Array<number>(dims + 1).fill(0));
  const m = weights.map((w) => w.map(() => 0));
  const v = weights.map((w) => w.map(() => 0));
  for (let step = 1; step <= STEPS; step++) {
    const g = gradient(weights, x, y, classWeight);
    for (let k = 0; k < K; k++) {
      for (let d = 0; d <= dims; d++) {
        const gd = g[k]![d]! + (d < dims ? L2 * weights[k]![d]! : 0);
        m[k]![d] = 0.9 * m[k]![d]! + 0.1 * gd;
        v[k]![d] = 0.999 * v[k]![d]! + 0.001 * gd * gd;
        const mHat = m[k]![d]! / (1 - 0.9 ** step);
        const vHat = v[k]![d]! / (1 - 0.999 ** step);
        weights[k]![d]! -= (LEARNING_RATE * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
    }
  }
  return weights;
}

/** The head of one fold: every training clip normalised by its own speaker's mean over all its clips. */
function fitHead(train: readonly Row[]): Head {
  const speakers = [...new Set(train.map((r) => r.speaker))];
  const speakerMean = new Map(
    speakers.map((s) => [s, meanOf(train.filter((r) => r.speaker === s).map((r) => r.stats))]),
  );
  const population = meanOf([...speakerMean.values()]);
  const spread = population.map((_, d) => {
    const variance = train.reduce((s, r) => s + (r.stats[d]! - speakerMean.get(r.speaker)![d]!) ** 2, 0);
    return Math.sqrt(variance / train.length) + 1e-6;
  });
  const x = train.map((r) => r.stats.map((v, d) => (v - speakerMean.get(r.speaker)![d]!) / spread[d]!));
  return {
    weights: fitLogistic(
      x,
      train.map((r) => r.label),
    ),
    spread,
    population,
    offsets: emotionOffsets(train, speakerMean),
  };
}

/** δ[e] of ROUND38.md: the mean over speakers of (their clips of e's mean − their mean). */
function emotionOffsets(train: readonly Row[], speakerMean: Map<string, number[]>): number[][] {
  return LABELS.map((_, e) => {
    const perSpeaker = [...speakerMean].flatMap(([speaker, mean]) => {
      const clips = train.filter((r) => r.speaker === speaker && r.label === e);
      return clips.length === 0 ? [] : [meanOf(clips.map((r) => r.stats)).map((v, d) => v - mean[d]!)];
    });
    return meanOf(perSpeaker);
  });
}

/** The earlier clips' mean with the emotion mix `mix` (K shares) taken out: the speaker's own mean. */
function mixCorrectedMean(head: Head, prior: readonly number[][], mix: readonly number[]): number[] {
  const mean = meanOf(prior);
  return mean.map((v, d) => v - mix.reduce((s, share, e) => s + share * head.offsets[e]![d]!, 0));
}

function softmax(logits: number[]): number[] {
  const top = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** The head's log-probabilities of a clip whose speaker's mean is estimated as `speakerMean`. */
function headLogProbabilities(head: Head, stats: number[], speakerMean: number[]): number[] {
  const dims = stats.length;
  const x = stats.map((v, d) => (v - speakerMean[d]!) / head.spread[d]!);
  return softmax(head.weights.map((w) => w[dims]! + x.reduce((s, v, d) => s + v * w[d]!, 0))).map((p) =>
    Math.log(p),
  );
}

/**
 * The speaker's mean from k earlier clips (their plain mean, or `estimate` of it), shrunk toward the
 * population by SHRINK_CLIPS pseudo-clips.
 */
function shrunkMean(head: Head, prior: readonly number[][], estimate?: number[]): number[] {
  const mean = prior.length === 0 ? head.population : (estimate ?? meanOf(prior));
  return head.population.map(
    (p, d) => (prior.length * mean[d]! + SHRINK_CLIPS * p) / (prior.length + SHRINK_CLIPS),
  );
}

type HeldClip = Row & { row: number; probabilities: number[] };
type Tally = StreamTally;

const addTo = (tally: Tally, key: string, predicted: number, truth: number, weight: number) =>
  addToTally(tally, key, predicted, truth, weight, K);

/**
 * Round 20's and round 38's predictions of one clip after `prior`, by name: round 20 scores `ensemble`,
 * `head` and `combined`; round 38 adds its candidate and the three variants ROUND38.md reports beside it.
 */
function predictionsOf(head: Head, target: HeldClip, prior: readonly HeldClip[], round: number) {
  const logEnsemble = target.probabilities.map((p) => Math.log(Math.max(p, 1e-9)));
  const stats = prior.map((c) => c.stats);
  const headLog = headLogProbabilities(head, target.stats, shrunkMean(head, stats));
  const plus = (...terms: number[][]) =>
    argmax(logEnsemble.map((v, c) => terms.reduce((s, t) => s + t[c]!, v)));
  const predictions: Record<string, number> = {
    ensemble: argmax(logEnsemble),
    head: argmax(headLog),
    combined: plus(headLog),
  };
  if (round !== 38) return predictions;
  const minus = (log: number[]) => log.map((v) => -v);
  const population = minus(headLogProbabilities(head, target.stats, head.population));
  const corrected = (mix: number[]) =>
    headLogProbabilities(
      head,
      target.stats,
      shrunkMean(head, stats, prior.length > 0 ? mixCorrectedMean(head, stats, mix) : undefined),
    );
  const predictedMix = LABELS.map(
    (_, e) => prior.reduce((s, c) => s + c.probabilities[e]!, 0) / prior.length,
  );
  const trueMix = LABELS.map((_, e) => prior.filter((c) => c.label === e).length / prior.length);
  const correctedLog = corrected(predictedMix);
  return {
    ...predictions,
    candidate: plus(correctedLog, population),
    deltaOnly: plus(headLog, population),
    correctedOnly: plus(correctedLog),
    oracle: plus(corrected(trueMix), population),
  };
}

/** Scores one held-out clip in every stream kind and k. */
function scoreClip(
  tally: Tally,
  head: Head,
  target: HeldClip,
  own: HeldClip[],
  index: number,
  round: number,
) {
  for (const k of PRIOR_COUNTS) {
    for (const dominant of [undefined, ...LABELS.keys()]) {
      const weight = targetWeight(target, own, dominant);
      for (let rep = 0; rep < (k === 0 ? 1 : REPETITIONS); rep++) {
        // Round 20's stream seeds in both rounds: the same streams, scored two ways.
        const rng = createRng(seedFrom(20, target.speaker, index, k, dominant ?? -1, rep));
        const prior = drawPrior(target, own, k, rng, dominant);
        const key = `${k}/${dominant ?? 'balanced'}`;
        for (const [model, predicted] of Object.entries(predictionsOf(head, target, prior, round)))
          addTo(tally, `${model}/${key}`, predicted, target.label, weight);
      }
    }
  }
}

/** Every held-out clip of one draw, fold by fold, each fold's head fitted on its training speakers. */
async function scoreDraw(
  rows: Row[],
  heldOrder: number[],
  draw: (typeof STORED_ENSEMBLE_DRAWS)[number],
  round: number,
): Promise<Tally> {
  const { truth, foldOf, probabilities: ensemble } = await storedEnsemble(draw, K);
  if (!heldOrder.every((r, j) => rows[r]!.label === truth[j])) throw new Error('held-out order differs');
  const tally: Tally = new Map();
  for (const fold of new Set(foldOf)) {
    const held = heldOrder.flatMap((r, j) => (foldOf[j] === fold ? [{ r, j }] : []));
    const heldSpeakers = new Set(held.map(({ r }) => rows[r]!.speaker));
    const head = fitHead(rows.filter((r) => !heldSpeakers.has(r.speaker)));
    const clips: HeldClip[] = held.map(({ r, j }) => ({ ...rows[r]!, row: j, probabilities: ensemble[j]! }));
    clips.forEach((target, index) => {
      const own = clips.filter((c) => c.speaker === target.speaker);
      scoreClip(tally, head, target, own, index, round);
    });
  }
  return tally;
}

/**
 * Accuracy-after-k rows of one combined `model` against the ensemble alone: balanced, and the mean and
 * worst (vs the ensemble) of the skewed streams.
 */
function curves(tally: Tally, model: string) {
  return PRIOR_COUNTS.map((k) => {
    const row = streamCurveRow(tally, model, 'ensemble', k, K);
    const head = streamCurveRow(tally, 'head', 'ensemble', k, K).model;
    return {
      k,
      ensemble: row.baseline,
      head,
      combined: row.model,
      ensembleSkewed: row.baselineSkewed,
      combinedSkewed: row.modelSkewed,
      worstSkewedDelta: row.worstSkewedDelta,
      largestShare: row.largestShare,
    };
  });
}

/** The combined predictions each round reports; the first is the one its rule decides on. */
const MODELS_OF_ROUND: Record<number, string[]> = {
  20: ['combined'],
  38: ['candidate', 'deltaOnly', 'correctedOnly', 'oracle'],
};

function printCurves(title: string, rows: ReturnType<typeof curves>): void {
  console.log(
    `\n${title}\n| k | ensemble | head | combined | Δ | skewed: ensemble | combined | Δ | worst Δ | largest |`,
  );
  const delta = (a: number, b: number) => (a - b >= 0 ? '+' : '') + (a - b).toFixed(3);
  for (const c of rows) {
    console.log(
      `| ${c.k} | ${c.ensemble} | ${c.head} | ${c.combined} | ${delta(c.combined, c.ensemble)} | ${c.ensembleSkewed} | ${c.combinedSkewed} | ${delta(c.combinedSkewed, c.ensembleSkewed)} | ${c.worstSkewedDelta} | ${c.largestShare} |`,
    );
  }
}

const { out, round } = new Command()
  .option('--out <file>', 'write the curves as JSON')
  .option('--round <n>', 'the round whose predictions to score: 20 or 38', (v) => Number(v), 20)
  .parse()
  .opts<{ out?: string; round: number }>();
if (EMOTIONS.length !== K) throw new Error('label set changed');
const models = MODELS_OF_ROUND[round];
if (!models) throw new Error(`--round: 20 or 38, not ${round}`);
const { rows, heldOrder } = await loadRows();
const results = [];
for (const draw of STORED_ENSEMBLE_DRAWS) {
  const tally = await scoreDraw(rows, heldOrder, draw, round);
  for (const model of models) {
    const rowsOfDraw = curves(tally, model);
    results.push(
      round === 20 ? { draw: draw.name, curves: rowsOfDraw } : { draw: draw.name, model, curves: rowsOfDraw },
    );
    printCurves(round === 20 ? draw.name : `${draw.name}: ${model}`, rowsOfDraw);
  }
}
if (out) await writeFile(out, `${JSON.stringify(results, null, 1)}\n`);
