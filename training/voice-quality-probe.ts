/**
 * Round 34's probe (models/ser-lstm/ROUND34.md): per-clip statistics and small classifiers, asking whether
 * voice-quality descriptors (voice-quality.ts) add anything on unseen RAVDESS voices, clean and through an
 * unseen channel, to the statistics the model's graph already computes.
 *
 *   npx tsx training/voice-quality-probe.ts [--out models/ser-lstm/round34] [--rows /tmp/rows.json]
 *
 * Features are computed once and kept in `--rows` (JSON) so the classifiers can be re-run alone.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { createFeatureExtractor } from '../lambdas/core/features/extract.ts';
import { applyChannel, DEFAULT_CHANNEL, TEST_CHANNEL } from './channel.ts';
import { type Clip, defaultDatasetDir, EMOTIONS, scanDataset } from './datasets.ts';
import { createFeaturePipeline } from './features.ts';
import { computeMetrics, largestClassShare } from './metrics.ts';
import { DEFAULTS } from './pipeline.ts';
import { createRng, seedFrom } from './random.ts';
import { graphStatistics, standardiser, statsClassifier } from './stats-mlp.ts';
import { initTf, tf } from './tf.ts';
import { UNSEEN_CHANNEL_SEED } from './unseen-channel.ts';
import { createVoiceQualityExtractor, VOICE_QUALITY_NAMES } from './voice-quality.ts';

interface Row {
  speaker: string;
  emotion: number;
  /** Per variant: B (graph statistics) and VQ (voice quality). */
  clean: { b: number[]; vq: number[] };
  trainChannel: { b: number[]; vq: number[] };
  testChannel?: { b: number[]; vq: number[] };
}

async function computeRows(): Promise<Row[]> {
  const config = DEFAULTS.featureConfig;
  const scan = await scanDataset(defaultDatasetDir(), ['tess', 'ravdess']);
  const pipeline = await createFeaturePipeline({
    config,
    augmentCopies: 0,
    augmentation: DEFAULTS.augmentation,
    seed: DEFAULTS.seed,
  });
  const extractor = createFeatureExtractor({ ...config, normalization: 'none' });
  const vq = createVoiceQualityExtractor(config);
  const describe = (samples: Float32Array) => ({
    b: graphStatistics(extractor.extract(samples)),
    vq: vq.describe(samples),
  });
  const seen = new Set<string>();
  const rows: Row[] = [];
  const started = Date.now();
  for (const [index, clip] of scan.clips.entries()) {
    const row = await rowOf(clip, pipeline, describe, seen, config.sampleRate);
    if (row) rows.push(row);
    if (index % 200 === 0)
      process.stderr.write(`${index}/${scan.clips.length} ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }
  return rows;
}

async function rowOf(
  clip: Clip,
  pipeline: Awaited<ReturnType<typeof createFeaturePipeline>>,
  describe: (samples: Float32Array) => { b: number[]; vq: number[] },
  seen: Set<string>,
  rate: number,
): Promise<Row | undefined> {
  const { samples } = await pipeline.trimmed(clip.path);
  const hash = createHash('sha1').update(new Uint8Array(samples.buffer)).digest('hex');
  if (seen.has(hash)) return undefined; // the same audio stored twice
  seen.add(hash);
  const train = applyChannel(samples, rate, DEFAULT_CHANNEL, createRng(seedFrom(1337, 'probe-train', hash)));
  const test =
    clip.corpus === 'ravdess'
      ? applyChannel(
          samples,
          rate,
          TEST_CHANNEL,
          createRng(seedFrom(UNSEEN_CHANNEL_SEED, 'probe-test', hash)),
        )
      : undefined;
  return {
    speaker: clip.speaker,
    emotion: EMOTIONS.indexOf(clip.emotion),
    clean: describe(samples),
    trainChannel: describe(train.samples),
    ...(test ? { testChannel: describe(test.samples) } : {}),
  };
}

type FeatureSet = 'B' | 'VQ' | 'B+VQ';
const pick = (v: { b: number[]; vq: number[] }, set: FeatureSet): number[] =>
  set === 'B' ? v.b : set === 'VQ' ? v.vq : [...v.b, ...v.vq];

/** Trains on (x, y) shuffled by `seed` and returns the test rows' probabilities. */
async function trainAndPredict(
  kind: 'linear' | 'mlp',
  x: number[][],
  y: number[],
  test: number[][],
  seed: number,
): Promise<Float32Array> {
  const rng = createRng(seedFrom(seed, kind));
  const order = x.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const net = statsClassifier(kind, x[0]!.length, seed);
  const xs = tf.tensor2d(order.map((i) => x[i]!));
  const ys = tf.oneHot(
    tf.tensor1d(
      order.map((i) => y[i]!),
      'int32',
    ),
    EMOTIONS.length,
  );
  await net.fit(xs, ys, {
    epochs: kind === 'linear' ? 150 : 60,
    batchSize: kind === 'linear' ? 512 : 128,
    shuffle: false,
    verbose: 0,
  });
  const probabilities = tf.tidy(() => net.predict(tf.tensor2d(test)) as tf.Tensor).dataSync() as Float32Array;
  tf.dispose([xs, ys]);
  net.dispose();
  return Float32Array.from(probabilities);
}

const FOLDS = [1, 3, 5, 7, 9, 11].map((a) => [a, a + 1].map((n) => `ravdess:${String(n).padStart(2, '0')}`));
const SEEDS = [1, 2, 3];

interface Score {
  accuracy: number;
  largest: string;
}

function score(truth: number[], probabilities: number[][]): Score {
  const predicted = probabilities.map((p) => p.indexOf(Math.max(...p)));
  const metrics = computeMetrics(EMOTIONS, truth, predicted);
  const { label, share } = largestClassShare(metrics.confusion);
  return { accuracy: metrics.accuracy, largest: `${EMOTIONS[label]} ${(share * 100).toFixed(0)} %` };
}

/** Pooled out-of-fold scores of one feature set and classifier, clean and through the unseen channel. */
async function evaluate(rows: Row[], set: FeatureSet, kind: 'linear' | 'mlp') {
  const truth: number[] = [];
  const clean: number[][] = [];
  const channel: number[][] = [];
  for (const held of FOLDS) {
    const train = rows.filter((r) => !held.includes(r.speaker));
    const test = rows.filter((r) => held.includes(r.speaker));
    const x = train.flatMap((r) => [pick(r.clean, set), pick(r.trainChannel, set)]);
    const y = train.flatMap((r) => [r.emotion, r.emotion]);
    const scale = standardiser(x);
    const testX = [...test.map((r) => pick(r.clean, set)), ...test.map((r) => pick(r.testChannel!, set))];
    const sum = new Float64Array(testX.length * EMOTIONS.length);
    for (const seed of SEEDS) {
      const p = await trainAndPredict(kind, x.map(scale), y, testX.map(scale), seed);
      p.forEach((v, i) => {
        sum[i]! += v / SEEDS.length;
      });
    }
    const row = (i: number) => Array.from(sum.subarray(i * EMOTIONS.length, (i + 1) * EMOTIONS.length));
    truth.push(...test.map((r) => r.emotion));
    test.forEach((_, i) => {
      clean.push(row(i));
      channel.push(row(test.length + i));
    });
  }
  return { clean: score(truth, clean), channel: score(truth, channel), clips: truth.length };
}

/** Mean |channel − clean| of one value over RAVDESS clips, in units of the clean clips' standard deviation. */
function shiftOf(rows: Row[], value: (v: { b: number[]; vq: number[] }) => number): number {
  const ravdess = rows.filter((r) => r.testChannel);
  const clean = ravdess.map((r) => value(r.clean));
  const mean = clean.reduce((a, b) => a + b, 0) / clean.length;
  const sd = Math.sqrt(clean.reduce((a, b) => a + (b - mean) ** 2, 0) / clean.length) || 1;
  const shift = ravdess.reduce((a, r) => a + Math.abs(value(r.testChannel!) - value(r.clean)), 0);
  return shift / ravdess.length / sd;
}

/** How far each descriptor moves with the unseen channel, beside the graph's own MFCC and contour means. */
function channelShift(rows: Row[]): Array<{ name: string; shift: number }> {
  const mfccMeans = Array.from({ length: 40 }, (_, d) => shiftOf(rows, (v) => v.b[d]!)).sort((a, b) => a - b);
  return [
    ...VOICE_QUALITY_NAMES.map((name, d) => ({ name, shift: shiftOf(rows, (v) => v.vq[d]!) })),
    { name: 'B: MFCC means, median of 40', shift: (mfccMeans[19]! + mfccMeans[20]!) / 2 },
    { name: 'B: MFCC means, smallest', shift: mfccMeans[0]! },
    { name: 'B: MFCC means, largest', shift: mfccMeans[39]! },
    ...['pitch', 'voicing', 'level'].map((c, i) => ({
      name: `B: ${c} mean`,
      shift: shiftOf(rows, (v) => v.b[40 + i]!),
    })),
  ];
}

const opts = new Command()
  .option('--out <dir>', 'where probe.json goes', 'models/ser-lstm/round34')
  .option(
    '--rows <file>',
    'per-clip features: read if present, else computed and written',
    '/tmp/vq-rows.json',
  )
  .option('--shift-only', 'print the channel shifts only (no classifiers, nothing written)')
  .parse()
  .opts<{ out: string; rows: string; shiftOnly?: boolean }>();

await initTf();
const rows: Row[] = await readFile(opts.rows, 'utf8').then(
  (text) => JSON.parse(text) as Row[],
  async () => {
    const computed = await computeRows();
    await writeFile(opts.rows, JSON.stringify(computed));
    return computed;
  },
);
process.stderr.write(`${rows.length} clips\n`);
if (opts.shiftOnly) {
  for (const { name, shift } of channelShift(rows))
    console.log(`shift ${name.padEnd(28)} ${shift.toFixed(2)}`);
  process.exit(0);
}
const results: Record<string, unknown> = {};
for (const kind of ['linear', 'mlp'] as const) {
  for (const set of ['B', 'B+VQ', 'VQ'] as const) {
    const r = await evaluate(rows, set, kind);
    results[`${kind} ${set}`] = r;
    console.log(
      `${kind.padEnd(6)} ${set.padEnd(5)} clean ${r.clean.accuracy.toFixed(3)} (${r.clean.largest})  channel ${r.channel.accuracy.toFixed(3)} (${r.channel.largest})  n=${r.clips}`,
    );
  }
}
const shifts = channelShift(rows);
for (const { name, shift } of shifts) console.log(`shift ${name.padEnd(28)} ${shift.toFixed(2)}`);
await mkdir(opts.out, { recursive: true });
await writeFile(
  join(opts.out, 'probe.json'),
  `${JSON.stringify({ folds: FOLDS, seeds: SEEDS, results, channelShift: shifts }, null, 2)}\n`,
);
