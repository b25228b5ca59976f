/**
 * `npx tsx training/speaker-head-round.ts [--out <file>]`: round 20 (models/ser-lstm/ROUND20.md) — a
 * speaker-normalised logistic head on per-clip statistics, combined with the stored out-of-fold
 * probabilities of an ensemble (rounds 16 and 17), scored on adaptive streams of the held-out actors.
 * No LSTM is trained: the head is fitted per actor fold on that fold's training speakers.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { type FeatureMatrix, frameStatistics } from '../lambdas/core/features/extract.ts';
import { argmax } from './adaptive.ts';
import { drawPrior, PRIOR_COUNTS, targetWeight } from './adaptive-streams.ts';
import { labelIndex } from './batches.ts';
import { DEFAULT_CHANNEL } from './channel.ts';
import { defaultDatasetDir, EMOTIONS, scanDataset } from './datasets.ts';
import type { SavedProbabilities } from './ensemble-folds.ts';
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
const DRAWS = [
  { name: 'package seeds (round 16, ABBc8)', dir: 'round16', members: ['A1c8', 'B1c8', 'B2c8'] },
  { name: "round 17's seeds (ABB′c8)", dir: 'round17', members: ['A3c8', 'B3c8', 'B4c8'] },
];

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

/** The clips of rounds 16–17 (same scan, cache and dedupe as develop.ts) and the held-out order. */
async function loadRows(): Promise<{ rows: Row[]; heldOrder: number[] }> {
  const scan = await scanDataset(defaultDatasetDir(), ['tess', 'ravdess']);
  const pipeline = await createFeaturePipeline({
    config: { ...DEFAULTS.featureConfig, normalization: 'none' },
    augmentCopies: 8,
    augmentation: { ...DEFAULTS.augmentation, spectralScale: [0.8, 1.25] },
    seed: DEFAULTS.seed,
    channel: DEFAULT_CHANNEL,
    channelCopies: 2,
    corpusCopies: { tess: { augment: 4, channel: 1 } },
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
  };
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

/** The speaker's mean from k earlier clips, shrunk toward the population by SHRINK_CLIPS pseudo-clips. */
function shrunkMean(head: Head, prior: readonly number[][]): number[] {
  const mean = prior.length > 0 ? meanOf(prior) : head.population;
  return head.population.map(
    (p, d) => (prior.length * mean[d]! + SHRINK_CLIPS * p) / (prior.length + SHRINK_CLIPS),
  );
}

type HeldClip = Row & { row: number };
type Tally = Map<string, { correct: number; weight: number; predicted: number[] }>;

function addTo(tally: Tally, key: string, predicted: number, truth: number, weight: number): void {
  const t = tally.get(key) ?? { correct: 0, weight: 0, predicted: LABELS.map(() => 0) };
  t.correct += predicted === truth ? weight : 0;
  t.weight += weight;
  t.predicted[predicted]! += 1;
  tally.set(key, t);
}

/** Scores one held-out clip in every stream kind and k: the ensemble alone, the head, both combined. */
function scoreClip(
  tally: Tally,
  head: Head,
  target: HeldClip,
  own: HeldClip[],
  index: number,
  ensemble: number[],
) {
  const logEnsemble = ensemble.map((p) => Math.log(Math.max(p, 1e-9)));
  for (const k of PRIOR_COUNTS) {
    for (const dominant of [undefined, ...LABELS.keys()]) {
      const weight = targetWeight(target, own, dominant);
      for (let rep = 0; rep < (k === 0 ? 1 : REPETITIONS); rep++) {
        const rng = createRng(seedFrom(20, target.speaker, index, k, dominant ?? -1, rep));
        const prior = drawPrior(target, own, k, rng, dominant);
        const headLog = headLogProbabilities(
          head,
          target.stats,
          shrunkMean(
            head,
            prior.map((c) => c.stats),
          ),
        );
        const key = `${k}/${dominant ?? 'balanced'}`;
        addTo(tally, `ensemble/${key}`, argmax(logEnsemble), target.label, weight);
        addTo(tally, `head/${key}`, argmax(headLog), target.label, weight);
        addTo(
          tally,
          `combined/${key}`,
          argmax(logEnsemble.map((v, c) => v + headLog[c]!)),
          target.label,
          weight,
        );
      }
    }
  }
}

/** Every held-out clip of one draw, fold by fold, each fold's head fitted on its training speakers. */
async function scoreDraw(rows: Row[], heldOrder: number[], draw: (typeof DRAWS)[number]): Promise<Tally> {
  const members = await Promise.all(
    draw.members.map(async (m) => {
      const path = new URL(`../models/ser-lstm/${draw.dir}/${m}.probs.json`, import.meta.url);
      return (JSON.parse(await readFile(path, 'utf8')) as SavedProbabilities).clean;
    }),
  );
  const ensemble = heldOrder.map((_, j) =>
    LABELS.map((_, k) => members.reduce((s, m) => s + m.probabilities[j * K + k]! / members.length, 0)),
  );
  members.forEach((m) => {
    if (!heldOrder.every((r, j) => rows[r]!.label === m.truth[j])) throw new Error('held-out order differs');
  });
  const tally: Tally = new Map();
  for (const fold of new Set(members[0]!.foldOf)) {
    const held = heldOrder.flatMap((r, j) => (members[0]!.foldOf[j] === fold ? [{ r, j }] : []));
    const heldSpeakers = new Set(held.map(({ r }) => rows[r]!.speaker));
    const head = fitHead(rows.filter((r) => !heldSpeakers.has(r.speaker)));
    const clips: HeldClip[] = held.map(({ r, j }) => ({ ...rows[r]!, row: j }));
    clips.forEach((target, index) => {
      const own = clips.filter((c) => c.speaker === target.speaker);
      scoreClip(tally, head, target, own, index, ensemble[target.row]!);
    });
  }
  return tally;
}

/** Accuracy-after-k rows: balanced, and the mean and worst (vs k = 0) of the skewed streams. */
function curves(tally: Tally) {
  const accuracy = (key: string) => tally.get(key)!.correct / tally.get(key)!.weight;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return PRIOR_COUNTS.map((k) => {
    const skewed = (model: string) => [...LABELS.keys()].map((d) => accuracy(`${model}/${k}/${d}`));
    const ensembleSkewed = skewed('ensemble');
    const combinedSkewed = skewed('combined');
    const predicted = tally.get(`combined/${k}/balanced`)!.predicted;
    return {
      k,
      ensemble: r3(accuracy(`ensemble/${k}/balanced`)),
      head: r3(accuracy(`head/${k}/balanced`)),
      combined: r3(accuracy(`combined/${k}/balanced`)),
      ensembleSkewed: r3(mean(ensembleSkewed)),
      combinedSkewed: r3(mean(combinedSkewed)),
      worstSkewedDelta: r3(Math.min(...combinedSkewed.map((c, d) => c - ensembleSkewed[d]!))),
      largestShare: r3(Math.max(...predicted) / predicted.reduce((a, b) => a + b, 0)),
    };
  });
}

const { out } = new Command()
  .option('--out <file>', 'write the curves as JSON')
  .parse()
  .opts<{ out?: string }>();
if (EMOTIONS.length !== K) throw new Error('label set changed');
const { rows, heldOrder } = await loadRows();
const results = [];
for (const draw of DRAWS) {
  const rowsOfDraw = curves(await scoreDraw(rows, heldOrder, draw));
  results.push({ draw: draw.name, curves: rowsOfDraw });
  console.log(
    `\n${draw.name}\n| k | ensemble | head | combined | Δ | skewed: ensemble | combined | Δ | worst Δ | largest |`,
  );
  for (const c of rowsOfDraw) {
    const delta = (a: number, b: number) => (a - b >= 0 ? '+' : '') + (a - b).toFixed(3);
    console.log(
      `| ${c.k} | ${c.ensemble} | ${c.head} | ${c.combined} | ${delta(c.combined, c.ensemble)} | ${c.ensembleSkewed} | ${c.combinedSkewed} | ${delta(c.combinedSkewed, c.ensembleSkewed)} | ${c.worstSkewedDelta} | ${c.largestShare} |`,
    );
  }
}
if (out) await writeFile(out, `${JSON.stringify(results, null, 1)}\n`);
