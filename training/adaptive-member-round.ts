/**
 * Round 40 (models/ser-lstm/ROUND40.md, #18): a statistics MLP that reads a clip's statistics beside its
 * speaker's shrunk mean from the earlier clips of a stream, trained on streams of the training speakers
 * (balanced and skewed), scored as a fourth member beside the stored ensembles of rounds 16 and 17 on
 * round 20's adaptive streams of the held-out actors. Round 41 (ROUND41.md): the same MLP on fresh seeds,
 * judged alone, with its raw calibration error.
 *
 *   npx tsx training/adaptive-member-round.ts [--round 40|41] [--out models/ser-lstm/round40/adaptive-member.json]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Command } from 'commander';
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
import { defaultDatasetDir, EMOTIONS } from './datasets.ts';
import type { ClipFeatures } from './features.ts';
import { actorFoldsOf } from './folds.ts';
import { reliability } from './metrics.ts';
import { DEFAULTS } from './pipeline.ts';
import { createRng, type Rng, seedFrom } from './random.ts';
import { multiCorpusSplit } from './splits.ts';
import { graphStatistics, recipeClipFeatures, standardiser, statsClassifier } from './stats-mlp.ts';
import { initTf, tf } from './tf.ts';

/** Fixed before the run (ROUND40.md). */
const LABELS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad'];
const K = LABELS.length;
const SHRINK_CLIPS = 3;
const TRAIN_PRIOR_COUNTS = [0, 1, 2, 3, 5, 10, 20, 30];
const TRAIN_SKEW = [0.5, 0.9] as const;
const EPOCHS = 60;
const BATCH = 128;
const LABEL_SMOOTHING = 0.05;
const RAVDESS_REPEATS = 3;
const MEMBER_WEIGHT = 0.25;
const REPETITIONS = 4;
/** Round 40's MLP seeds beside each stored ensemble draw (STORED_ENSEMBLE_DRAWS' order). */
const ROUND40_SEEDS = [
  [11, 12, 13],
  [14, 15, 16],
];
/** Round 41's MLP seeds (never used before it), beside the same two ensembles. */
const ROUND41_SEEDS = [
  [17, 18, 19],
  [20, 21, 22],
];

/** One way of hearing a clip: its statistics and the speaker-like scaling it was made with (1: original). */
interface View {
  stats: number[];
  scale: number;
}

interface Clip {
  speaker: string;
  label: number;
  /** Times per epoch (RAVDESS's clips are repeated, as the recipe's members see them). */
  repeats: number;
  views: View[];
}

const clipOf = (i: ClipFeatures): Clip => ({
  speaker: i.clip.speaker,
  label: labelIndex(LABELS, i.clip.emotion),
  repeats: i.clip.corpus === 'ravdess' ? RAVDESS_REPEATS : 1,
  views: [
    { stats: graphStatistics(i.original), scale: 1 },
    ...i.augmented.map((m, c) => ({ stats: graphStatistics(m), scale: i.augmentations[c]!.spectralScale })),
  ],
});

const meanOf = (vectors: readonly number[][]): number[] =>
  vectors[0]!.map((_, d) => vectors.reduce((s, v) => s + v[d]!, 0) / vectors.length);

/** The view of an earlier clip that sounds most like the target's voice (nearest scaling, in log). */
const nearestView = (clip: Clip, scale: number): View =>
  clip.views.reduce((best, v) =>
    Math.abs(Math.log(v.scale / scale)) < Math.abs(Math.log(best.scale / scale)) ? v : best,
  );

/** The MLP's input: the clip's statistics, their difference from the shrunk speaker mean, the trust in it. */
function inputRow(view: View, prior: readonly Clip[], population: number[]): number[] {
  const k = prior.length;
  const mean = k === 0 ? population : meanOf(prior.map((c) => nearestView(c, view.scale).stats));
  const shrunk = population.map((p, d) => (k * mean[d]! + SHRINK_CLIPS * p) / (k + SHRINK_CLIPS));
  return [...view.stats, ...view.stats.map((v, d) => v - shrunk[d]!), k / (k + SHRINK_CLIPS)];
}

/** The mean over the training speakers of their originals' mean statistics. */
function populationOf(train: readonly Clip[]): number[] {
  const speakers = [...new Set(train.map((c) => c.speaker))];
  return meanOf(
    speakers.map((s) => meanOf(train.filter((c) => c.speaker === s).map((c) => c.views[0]!.stats))),
  );
}

/** A training stream's earlier clips: k drawn from TRAIN_PRIOR_COUNTS, balanced or skewed half the time. */
function trainingPrior(target: Clip, own: readonly Clip[], rng: Rng): Clip[] {
  const k = TRAIN_PRIOR_COUNTS[Math.floor(rng() * TRAIN_PRIOR_COUNTS.length)]!;
  if (rng() < 0.5) return drawPrior(target, own, k, rng);
  const dominant = Math.floor(rng() * K);
  const share = TRAIN_SKEW[0] + rng() * (TRAIN_SKEW[1] - TRAIN_SKEW[0]);
  return drawPrior(target, own, k, rng, dominant, share);
}

/** One epoch's rows: each clip once (RAVDESS RAVDESS_REPEATS times) as a random view in a random stream. */
function epochRows(train: readonly Clip[], bySpeaker: Map<string, Clip[]>, population: number[], rng: Rng) {
  const rows: Array<{ row: number[]; label: number }> = [];
  for (const clip of train) {
    for (let r = 0; r < clip.repeats; r++) {
      const view = clip.views[Math.floor(rng() * clip.views.length)]!;
      const prior = trainingPrior(clip, bySpeaker.get(clip.speaker)!, rng);
      rows.push({ row: inputRow(view, prior, population), label: clip.label });
    }
  }
  for (let a = rows.length - 1; a > 0; a--) {
    const b = Math.floor(rng() * (a + 1));
    [rows[a], rows[b]] = [rows[b]!, rows[a]!];
  }
  return rows;
}

const groupBySpeaker = (clips: readonly Clip[]) => {
  const groups = new Map<string, Clip[]>();
  for (const c of clips) groups.set(c.speaker, [...(groups.get(c.speaker) ?? []), c]);
  return groups;
};

/** One seed's MLP on one fold's training speakers' streams; the probabilities of the `test` rows. */
async function trainMember(
  train: Clip[],
  test: number[][],
  seed: number,
  fold: number,
): Promise<Float32Array> {
  const rng = createRng(seedFrom(seed, 'adaptive-member', fold));
  const bySpeaker = groupBySpeaker(train);
  const population = populationOf(train);
  const first = epochRows(train, bySpeaker, population, rng);
  const scale = standardiser(first.map((p) => p.row));
  const net = statsClassifier('mlp', test[0]!.length, seed);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const rows = epoch === 0 ? first : epochRows(train, bySpeaker, population, rng);
    const xs = tf.tensor2d(rows.map((p) => scale(p.row)));
    const ys = tf.tidy(() =>
      tf
        .oneHot(
          tf.tensor1d(
            rows.map((p) => p.label),
            'int32',
          ),
          K,
        )
        .toFloat()
        .mul(1 - LABEL_SMOOTHING)
        .add(LABEL_SMOOTHING / K),
    );
    await net.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);
  }
  const out = tf.tidy(() => net.predict(tf.tensor2d(test.map(scale))) as tf.Tensor).dataSync();
  net.dispose();
  return Float32Array.from(out);
}

/** One scored position of a stream: which clip, after how many earlier ones, in which kind of stream. */
interface Scored {
  target: number;
  k: number;
  dominant: number | undefined;
  row: number[];
}

/** Round 20's streams of one fold's held-out clips (same seeds, so the same earlier clips). */
function streamsOf(held: readonly Clip[], population: number[]): Scored[] {
  const scored: Scored[] = [];
  held.forEach((target, index) => {
    const own = held.filter((c) => c.speaker === target.speaker);
    for (const k of PRIOR_COUNTS) {
      for (const dominant of [undefined, ...LABELS.keys()]) {
        for (let rep = 0; rep < (k === 0 ? 1 : REPETITIONS); rep++) {
          const rng = createRng(seedFrom(20, target.speaker, index, k, dominant ?? -1, rep));
          const prior = drawPrior(target, own, k, rng, dominant);
          scored.push({ target: index, k, dominant, row: inputRow(target.views[0]!, prior, population) });
        }
      }
    }
  });
  return scored;
}

type Tally = StreamTally;

const addTo = (tally: Tally, key: string, predicted: number, truth: number, weight: number) =>
  addToTally(tally, key, predicted, truth, weight, K);

/** The four predictions ROUND40.md names, for one scored position. */
function predictionsOf(ensemble: number[], adapted: ArrayLike<number>, alone: ArrayLike<number>) {
  const beside = (member: ArrayLike<number>) =>
    argmax(ensemble.map((p, c) => (1 - MEMBER_WEIGHT) * p + MEMBER_WEIGHT * member[c]!));
  return {
    ensemble: argmax(ensemble),
    member0: beside(alone),
    adapted: beside(adapted),
    mlp: argmax(adapted),
  };
}

/** The MLP seeds' mean probabilities of `rows`, each seed trained on the fold's training clips. */
async function mlpProbabilities(train: Clip[], rows: number[][], seeds: number[], fold: number) {
  const mean = new Float32Array(rows.length * K);
  for (const seed of seeds) {
    const p = await trainMember(train, rows, seed, fold);
    p.forEach((v, i) => {
      mean[i]! += v / seeds.length;
    });
  }
  return mean;
}

/** Balanced streams' probabilities by `model/k` (the MLP alone and the ensemble), for their raw ECE. */
type Calibration = Map<string, { probabilities: number[]; truth: number[] }>;

function collect(calibration: Calibration, key: string, probabilities: ArrayLike<number>, truth: number) {
  const c = calibration.get(key) ?? { probabilities: [], truth: [] };
  c.probabilities.push(...Array.from(probabilities));
  c.truth.push(truth);
  calibration.set(key, c);
}

/** Scores one fold of one draw into `tally`; `offset` is the fold's first clip in the pooled order. */
async function scoreFold(
  tally: Tally,
  calibration: Calibration,
  fold: { train: Clip[]; held: Clip[]; index: number },
  ensemble: Awaited<ReturnType<typeof storedEnsemble>>,
  offset: number,
  seeds: number[],
) {
  const population = populationOf(fold.train);
  const scored = streamsOf(fold.held, population);
  const rows = [...scored.map((s) => s.row), ...fold.held.map((c) => inputRow(c.views[0]!, [], population))];
  const p = await mlpProbabilities(fold.train, rows, seeds, fold.index);
  scored.forEach((s, n) => {
    const target = fold.held[s.target]!;
    if (
      ensemble.truth[offset + s.target] !== target.label ||
      ensemble.foldOf[offset + s.target] !== fold.index
    )
      throw new Error('held-out order differs from the stored ensemble');
    const aloneAt = scored.length + s.target;
    const predictions = predictionsOf(
      ensemble.probabilities[offset + s.target]!,
      p.subarray(n * K, (n + 1) * K),
      p.subarray(aloneAt * K, (aloneAt + 1) * K),
    );
    const weight = targetWeight(
      target,
      fold.held.filter((c) => c.speaker === target.speaker),
      s.dominant,
    );
    const key = `${s.k}/${s.dominant ?? 'balanced'}`;
    for (const [model, predicted] of Object.entries(predictions))
      addTo(tally, `${model}/${key}`, predicted, target.label, weight);
    if (s.dominant !== undefined) return;
    collect(calibration, `mlp/${s.k}`, p.subarray(n * K, (n + 1) * K), target.label);
    collect(calibration, `ensemble/${s.k}`, ensemble.probabilities[offset + s.target]!, target.label);
  });
}

/** Raw expected calibration error of the MLP alone and of the ensemble on balanced streams, by k. */
function calibrationErrors(calibration: Calibration) {
  const ece = (key: string) => {
    const c = calibration.get(key)!;
    return reliability(Float32Array.from(c.probabilities), c.truth, K).ece;
  };
  return PRIOR_COUNTS.map((k) => ({ k, mlp: ece(`mlp/${k}`), ensemble: ece(`ensemble/${k}`) }));
}

/** Accuracy-after-k rows of `model` against the ensemble alone (balanced; skewed mean and worst kind). */
function curves(tally: Tally, model: string) {
  return PRIOR_COUNTS.map((k) => {
    const row = streamCurveRow(tally, model, 'ensemble', k, K);
    return {
      k,
      ensemble: row.baseline,
      model: row.model,
      ensembleSkewed: row.baselineSkewed,
      modelSkewed: row.modelSkewed,
      worstSkewedDelta: row.worstSkewedDelta,
      largestShare: row.largestShare,
    };
  });
}

function printCurves(title: string, rows: ReturnType<typeof curves>): void {
  const delta = (a: number, b: number) => (a - b >= 0 ? '+' : '') + (a - b).toFixed(3);
  console.log(`\n${title}\n| k | ensemble | model | Δ | skewed: ensemble | model | Δ | worst Δ | largest |`);
  for (const c of rows) {
    console.log(
      `| ${c.k} | ${c.ensemble} | ${c.model} | ${delta(c.model, c.ensemble)} | ${c.ensembleSkewed} | ${c.modelSkewed} | ${delta(c.modelSkewed, c.ensembleSkewed)} | ${c.worstSkewedDelta} | ${c.largestShare} |`,
    );
  }
}

/** The recipe's three actor folds: training clips (as the LSTM members' folds) and held-out originals. */
function foldsOf(kept: ClipFeatures[]) {
  return actorFoldsOf(kept).map((actors, index) => {
    const split = multiCorpusSplit(`actors-${index}`, kept, actors, DEFAULTS.seed);
    return {
      index,
      train: [...split.train, ...split.validation].map(clipOf),
      held: split.test.filter((i) => actors.includes(i.clip.speaker)).map(clipOf),
    };
  });
}

const { out, data, round } = new Command()
  .option('--out <file>', 'write the curves as JSON')
  .option('--data <dir>', 'datasets folder', defaultDatasetDir())
  .option('--round <n>', "40, or 41 (round 40's MLP on fresh seeds)", Number, 40)
  .parse()
  .opts<{ out?: string; data: string; round: number }>();
if (round !== 40 && round !== 41) throw new Error(`--round: 40 or 41, not ${round}`);
if (EMOTIONS.length !== K) throw new Error('label set changed');
await initTf();
const folds = foldsOf(await recipeClipFeatures(data));
const results = [];
for (const [d, draw] of STORED_ENSEMBLE_DRAWS.entries()) {
  const started = performance.now();
  const ensemble = await storedEnsemble(draw, K);
  const tally: Tally = new Map();
  const calibration: Calibration = new Map();
  const seeds = (round === 41 ? ROUND41_SEEDS : ROUND40_SEEDS)[d]!;
  let offset = 0;
  for (const fold of folds) {
    await scoreFold(tally, calibration, fold, ensemble, offset, seeds);
    offset += fold.held.length;
  }
  process.stderr.write(
    `${draw.name}, MLP seeds ${seeds}: ${Math.round((performance.now() - started) / 1000)} s\n`,
  );
  for (const model of round === 41 ? ['mlp', 'adapted', 'member0'] : ['adapted', 'member0', 'mlp']) {
    const rows = curves(tally, model);
    results.push({ draw: draw.name, mlpSeeds: seeds, model, curves: rows });
    printCurves(`${draw.name}, MLP seeds ${seeds}: ${model}`, rows);
  }
  const errors = calibrationErrors(calibration);
  results.push({ draw: draw.name, mlpSeeds: seeds, rawEce: errors });
  console.log(
    `raw ECE, balanced streams: ${errors.map((e) => `k=${e.k} mlp ${e.mlp} / ensemble ${e.ensemble}`).join('; ')}`,
  );
}
if (out) {
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(results, null, 1)}\n`);
}
