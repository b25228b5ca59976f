/**
 * The per-clip probe of rounds 34 and 39 (models/ser-lstm/ROUND34.md, ROUND39.md): every clip's features
 * clean, through the training channel and (RAVDESS) through the unseen channel, and small seeded
 * classifiers scored on six folds of two held-out RAVDESS actors, pooled. What a probe describes per clip
 * (`describe`) and which values a classifier sees (`pick`) are the probe's own.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { applyChannel, DEFAULT_CHANNEL, TEST_CHANNEL } from './channel.ts';
import { type Clip, defaultDatasetDir, EMOTIONS, scanDataset } from './datasets.ts';
import { createFeaturePipeline } from './features.ts';
import { computeMetrics, largestClassShare } from './metrics.ts';
import { DEFAULTS } from './pipeline.ts';
import { createRng, seedFrom } from './random.ts';
import { standardiser, statsClassifier } from './stats-mlp.ts';
import { tf } from './tf.ts';
import { UNSEEN_CHANNEL_SEED } from './unseen-channel.ts';

/** One clip: its speaker, its emotion (index in EMOTIONS) and what `describe` made of each version. */
export interface ProbeRow<V> {
  speaker: string;
  emotion: number;
  clean: V;
  trainChannel: V;
  /** RAVDESS clips only: the test folds' clips through the unseen channel. */
  testChannel?: V;
}

type Describe<V> = (samples: Float32Array) => V;
type Pipeline = Awaited<ReturnType<typeof createFeaturePipeline>>;

/** Every TESS and RAVDESS (01–12, no calm) clip, decoded and trimmed as training does; duplicates once. */
export async function computeProbeRows<V>(describe: Describe<V>): Promise<ProbeRow<V>[]> {
  const scan = await scanDataset(defaultDatasetDir(), ['tess', 'ravdess']);
  const pipeline = await createFeaturePipeline({
    config: DEFAULTS.featureConfig,
    augmentCopies: 0,
    augmentation: DEFAULTS.augmentation,
    seed: DEFAULTS.seed,
  });
  const seen = new Set<string>();
  const rows: ProbeRow<V>[] = [];
  const started = Date.now();
  for (const [index, clip] of scan.clips.entries()) {
    const row = await rowOf(clip, pipeline, describe, seen);
    if (row) rows.push(row);
    if (index % 200 === 0)
      process.stderr.write(`${index}/${scan.clips.length} ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }
  return rows;
}

/** `file`'s rows when it is there (re-running the classifiers alone), else computed and written there. */
export const loadOrComputeProbeRows = <V>(file: string, describe: Describe<V>): Promise<ProbeRow<V>[]> =>
  readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as ProbeRow<V>[],
    async () => {
      const computed = await computeProbeRows(describe);
      await writeFile(file, JSON.stringify(computed));
      return computed;
    },
  );

async function rowOf<V>(
  clip: Clip,
  pipeline: Pipeline,
  describe: Describe<V>,
  seen: Set<string>,
): Promise<ProbeRow<V> | undefined> {
  const rate = DEFAULTS.featureConfig.sampleRate;
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

export const PROBE_FOLDS = [1, 3, 5, 7, 9, 11].map((a) =>
  [a, a + 1].map((n) => `ravdess:${String(n).padStart(2, '0')}`),
);
export const PROBE_SEEDS = [1, 2, 3];

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
export async function evaluateProbe<V>(
  rows: ProbeRow<V>[],
  pick: (v: V) => number[],
  kind: 'linear' | 'mlp',
) {
  const truth: number[] = [];
  const clean: number[][] = [];
  const channel: number[][] = [];
  for (const held of PROBE_FOLDS) {
    const train = rows.filter((r) => !held.includes(r.speaker));
    const test = rows.filter((r) => held.includes(r.speaker));
    const x = train.flatMap((r) => [pick(r.clean), pick(r.trainChannel)]);
    const y = train.flatMap((r) => [r.emotion, r.emotion]);
    const scale = standardiser(x);
    const testX = [...test.map((r) => pick(r.clean)), ...test.map((r) => pick(r.testChannel!))];
    const sum = new Float64Array(testX.length * EMOTIONS.length);
    for (const seed of PROBE_SEEDS) {
      const p = await trainAndPredict(kind, x.map(scale), y, testX.map(scale), seed);
      p.forEach((v, i) => {
        sum[i]! += v / PROBE_SEEDS.length;
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
