/**
 * Round 35's probe (models/ser-lstm/ROUND35.md): a statistics MLP trained on the recipe's own fold splits
 * and feature cache, saved as out-of-fold probabilities in `develop.ts --save-probabilities`'s format, so
 * that `ensemble-folds.ts` can score it beside the stored LSTM members.
 *
 *   npx tsx training/stats-member-probe.ts --name M1 --seeds 1,2,3 [--out models/ser-lstm/round35]
 *     [--label-smoothing 0.05]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { labelIndex } from './batches.ts';
import { defaultDatasetDir, scanDataset } from './datasets.ts';
import type { SavedProbabilities } from './ensemble-folds.ts';
import type { ClipFeatures } from './features.ts';
import { actorFoldsOf, metricsOf } from './folds.ts';
import { DEFAULTS } from './pipeline.ts';
import { createRng, type Rng, seedFrom } from './random.ts';
import { multiCorpusSplit } from './splits.ts';
import {
  graphStatistics,
  RECIPE_FEATURE_CONFIG,
  recipeClipFeatures,
  standardiser,
  statsClassifier,
} from './stats-mlp.ts';
import { initTf, tf } from './tf.ts';
import { unseenChannelCopies } from './unseen-channel.ts';

const LABELS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad'];
const EPOCHS = 60;
const BATCH = 128;
const RAVDESS_REPEATS = 3;

/** Every view a B member trains on (clean, speaker-like copies, training-channel copies), as statistics. */
const viewsOf = (i: ClipFeatures): number[][] =>
  [i.original, ...i.augmented, ...i.channel].map(graphStatistics);

/** One epoch's rows: each clip once as a random view, RAVDESS clips RAVDESS_REPEATS times, shuffled. */
function epochRows(train: ClipFeatures[], views: Map<ClipFeatures, number[][]>, rng: Rng) {
  const picks: Array<{ row: number[]; label: number }> = [];
  for (const i of train) {
    const repeats = i.clip.corpus === 'ravdess' ? RAVDESS_REPEATS : 1;
    const all = views.get(i)!;
    for (let r = 0; r < repeats; r++)
      picks.push({ row: all[Math.floor(rng() * all.length)]!, label: labelIndex(LABELS, i.clip.emotion) });
  }
  for (let a = picks.length - 1; a > 0; a--) {
    const b = Math.floor(rng() * (a + 1));
    [picks[a], picks[b]] = [picks[b]!, picks[a]!];
  }
  return picks;
}

/** One seed's MLP on one fold's training clips; the probabilities of `test` rows. */
async function trainMember(
  train: ClipFeatures[],
  views: Map<ClipFeatures, number[][]>,
  test: number[][],
  seed: number,
  fold: number,
  labelSmoothing: number,
): Promise<Float32Array> {
  const rng = createRng(seedFrom(seed, 'stats-member', fold));
  const first = epochRows(train, views, rng);
  const scale = standardiser(first.map((p) => p.row));
  const net = statsClassifier('mlp', test[0]!.length, seed);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const picks = epoch === 0 ? first : epochRows(train, views, rng);
    const xs = tf.tensor2d(picks.map((p) => scale(p.row)));
    // Label smoothing as the LSTM members train (round 37): 1 − ε on the true class plus ε spread over all.
    const ys = tf.tidy(() =>
      tf
        .oneHot(
          tf.tensor1d(
            picks.map((p) => p.label),
            'int32',
          ),
          LABELS.length,
        )
        .toFloat()
        .mul(1 - labelSmoothing)
        .add(labelSmoothing / LABELS.length),
    );
    await net.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);
  }
  const out = tf.tidy(() => net.predict(tf.tensor2d(test.map(scale))) as tf.Tensor).dataSync();
  net.dispose();
  return Float32Array.from(out);
}

const opts = new Command()
  .requiredOption('--name <name>', 'member name (M1: seeds 1,2,3; M2: seeds 4,5,6)')
  .requiredOption('--seeds <list>', 'MLP seeds averaged into the member')
  .option('--out <dir>', 'where <name>.probs.json goes', 'models/ser-lstm/round35')
  .option('--data <dir>', 'datasets folder', defaultDatasetDir())
  .option('--label-smoothing <e>', 'target smoothing (round 37: 0.05, as the LSTM members)', Number, 0)
  .parse()
  .opts<{ name: string; seeds: string; out: string; data: string; labelSmoothing: number }>();
const seeds = opts.seeds.split(',').map(Number);

await initTf();
const kept = await recipeClipFeatures(opts.data);
const shifted = await unseenChannelCopies(
  (await scanDataset(opts.data, ['tess', 'ravdess'])).clips,
  RECIPE_FEATURE_CONFIG,
);
const views = new Map(kept.map((i) => [i, viewsOf(i)] as const));
const saved: SavedProbabilities = {
  name: opts.name,
  labels: LABELS,
  folds: [],
  clean: { truth: [], foldOf: [], probabilities: [] },
  channelShifted: { truth: [], probabilities: [] },
};
for (const [f, fold] of actorFoldsOf(kept).entries()) {
  const started = performance.now();
  const split = multiCorpusSplit(`actors-${f}`, kept, fold, DEFAULTS.seed);
  const held = split.test.filter((i) => fold.includes(i.clip.speaker));
  const test = [
    ...held.map((i) => graphStatistics(i.original)),
    ...held.map((i) => graphStatistics(shifted.get(i.fileHash)!)),
  ];
  const mean = new Float32Array(test.length * LABELS.length);
  for (const seed of seeds) {
    const p = await trainMember(
      [...split.train, ...split.validation],
      views,
      test,
      seed,
      f,
      opts.labelSmoothing,
    );
    p.forEach((v, i) => {
      mean[i]! += v / seeds.length;
    });
  }
  const truth = held.map((i) => labelIndex(LABELS, i.clip.emotion));
  const clean = mean.subarray(0, held.length * LABELS.length);
  saved.clean.truth.push(...truth);
  saved.clean.foldOf.push(...truth.map(() => f));
  saved.clean.probabilities.push(...Array.from(clean, (v) => Math.round(v * 1e6) / 1e6));
  saved.channelShifted!.truth.push(...truth);
  saved.channelShifted!.probabilities.push(
    ...Array.from(mean.subarray(held.length * LABELS.length), (v) => Math.round(v * 1e6) / 1e6),
  );
  const accuracy = metricsOf(LABELS, clean, truth).pooled.accuracy;
  const trainSeconds = Math.round((performance.now() - started) / 1000);
  saved.folds.push({ actors: fold, accuracy, clips: held.length, trainSeconds });
  process.stderr.write(`${opts.name} fold ${fold.join(',')}: ${accuracy.toFixed(3)} (${trainSeconds} s)\n`);
}
await mkdir(opts.out, { recursive: true });
await writeFile(join(opts.out, `${opts.name}.probs.json`), `${JSON.stringify(saved)}\n`);
