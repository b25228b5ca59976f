import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FEATURE_CONFIG } from '../lambdas/core/features/config.ts';
import { DEFAULT_AUGMENTATION } from '../training/augment.ts';
import { evaluationWindows, offsetBatch, padBatch } from '../training/batches.ts';
import { scanDataset } from '../training/datasets.ts';
import { type ClipFeatures, createFeaturePipeline } from '../training/features.ts';
import { LstmModel } from '../training/lstm.ts';
import { maxAbsDiff, predictWithOnnx } from '../training/onnx-eval.ts';
import { exportLstmToOnnx } from '../training/onnx-export.ts';
import { nodeCount, shareCommonNodes } from '../training/onnx-share.ts';
import { initTf, tf } from '../training/tf.ts';

const FIXTURES = resolve(import.meta.dirname, 'fixtures', 'tess');
const FRAMES = 149;
const LABELS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad'];
/** The shipped architecture in small: MFCC + prosody frames with every utterance statistic in the head. */
const PROSODY_STATS_CONFIG = {
  dims: 43,
  stack: 2,
  units: 16,
  hidden: 16,
  labels: 7,
  dropout: 0,
  utteranceStats: true,
  deltaStats: true,
  contourStats: 3,
};

/** tfjs probabilities of each clip's first window, batched the way the trainer batches. */
function tfjsFirstWindow(model: LstmModel, items: ClipFeatures[], cmvn = true): Float32Array {
  const rows = items.map((i) => evaluationWindows(i.original, FRAMES, cmvn)[0]!);
  const { dims, stack } = model.config;
  const { data, time, frames } = padBatch(rows, dims, stack);
  const offsets = offsetBatch(rows);
  return model
    .predict(tf.tensor3d(data, [rows.length, time, dims]), frames, offsets)
    .dataSync() as Float32Array;
}

describe('ONNX export of the LSTM matches tfjs on real clips', () => {
  let cache: string;
  let items: ClipFeatures[];
  let prosodyItems: ClipFeatures[];

  beforeAll(async () => {
    await initTf();
    cache = await mkdtemp(join(tmpdir(), 'ser-parity-'));
    const scan = await scanDataset(FIXTURES);
    const features = async (prosody: boolean) => {
      const pipeline = await createFeaturePipeline({
        config: { ...DEFAULT_FEATURE_CONFIG, prosody },
        augmentCopies: 0,
        augmentation: DEFAULT_AUGMENTATION,
        seed: 1,
        cacheDir: cache,
      });
      return (await pipeline.run(scan.clips)).items;
    };
    items = await features(false);
    prosodyItems = await features(true);
  });

  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it.each([1, 2, 3])('stack %i: onnxruntime probabilities equal tfjs within 1e-4', async (stack) => {
    expect(items.length).toBeGreaterThanOrEqual(8);
    const model = new LstmModel(
      { dims: 40, stack, units: 24, hidden: 16, labels: 7, dropout: 0 },
      11 + stack,
    );
    // Non-trivial biases so every gate matters (a gate-order mistake would show).
    const weights = model.weights();
    for (let i = 0; i < weights.bias.length; i++) weights.bias[i] = Math.sin(i * 1.7) * 0.8;
    model.setWeights(weights);
    const onnx = exportLstmToOnnx(model.weights(), { frames: FRAMES, labels: LABELS });
    const expected = tfjsFirstWindow(model, items);
    const actual = await predictWithOnnx(onnx, items, FRAMES, LABELS.length);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });

  it('with in-model CMVN and utterance statistics: onnxruntime equals tfjs within 1e-4', async () => {
    const model = new LstmModel(
      { dims: 40, stack: 2, units: 24, hidden: 16, labels: 7, dropout: 0, utteranceStats: true },
      21,
    );
    model.setStatsNormalisation(items.map((i) => ({ data: i.original.data, frames: i.original.frames })));
    const onnx = exportLstmToOnnx(model.weights(), { frames: FRAMES, labels: LABELS });
    const expected = tfjsFirstWindow(model, items, false);
    const actual = await predictWithOnnx(onnx, items, FRAMES, LABELS.length, 64, false);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
    // The probabilities are not all alike: the statistics branch is really wired in.
    expect(Math.max(...actual) - Math.min(...actual)).toBeGreaterThan(1e-3);
    model.dispose();
  });

  it('with prosody channels, delta and contour statistics: onnxruntime equals tfjs within 1e-4', async () => {
    expect(prosodyItems[0]!.original.dims).toBe(43);
    const model = new LstmModel(
      {
        ...PROSODY_STATS_CONFIG,
        units: 24,
      },
      23,
    );
    model.setStatsNormalisation(
      prosodyItems.map((i) => ({ data: i.original.data, frames: i.original.frames })),
    );
    const onnx = exportLstmToOnnx(model.weights(), { frames: FRAMES, labels: LABELS });
    const expected = tfjsFirstWindow(model, prosodyItems, false);
    const actual = await predictWithOnnx(onnx, prosodyItems, FRAMES, LABELS.length, 64, false);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
    expect(Math.max(...actual) - Math.min(...actual)).toBeGreaterThan(1e-3);
    model.dispose();
  });

  it('with the spectral means masked out of the head: the exported zero rows equal the training mask', async () => {
    const config = { ...PROSODY_STATS_CONFIG, statsMask: 'no-spectral-means' as const };
    const model = new LstmModel(config, 29);
    model.setStatsNormalisation(
      prosodyItems.map((i) => ({ data: i.original.data, frames: i.original.frames })),
    );
    const weights = model.weights();
    // The 40 MFCC means feed nothing: their rows of the first dense layer are zero in the export.
    const rows = weights.dense1.subarray(16 * 16, (16 + 40) * 16);
    expect(rows.every((v) => v === 0)).toBe(true);
    const onnx = exportLstmToOnnx(weights, { frames: FRAMES, labels: LABELS });
    const expected = tfjsFirstWindow(model, prosodyItems, false);
    const actual = await predictWithOnnx(onnx, prosodyItems, FRAMES, LABELS.length, 64, false);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });

  it('with the speaker offset as a second input: onnxruntime equals tfjs within 1e-4, offsets nonzero', async () => {
    const config = { ...PROSODY_STATS_CONFIG, offsetInput: 3 };
    // Offsets on the scale adaptation gives (a few units of cepstrum, semitones, dB), one per clip; one
    // clip without any (the context-free input, zeros).
    const offset = (i: number) => Float32Array.from([Math.sin(i) * 4, Math.cos(i * 1.3) * 2, (i % 3) - 1]);
    const withOffsets = prosodyItems.map((item, i) =>
      i === 0 ? item : { ...item, original: { ...item.original, offset: offset(i) } },
    );
    const members = [new LstmModel(config, 37), new LstmModel(config, 38)];
    for (const m of members)
      m.setStatsNormalisation(
        withOffsets.map((i) => i.original as typeof i.original & { offset?: Float32Array }),
      );
    const single = exportLstmToOnnx(members[0]!.weights(), { frames: FRAMES, labels: LABELS });
    const expected = tfjsFirstWindow(members[0]!, withOffsets, false);
    const actual = await predictWithOnnx(single, withOffsets, FRAMES, LABELS.length, 64, false);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
    // The offset really moves the output (else parity would prove nothing about its branch).
    const zero = tfjsFirstWindow(members[0]!, prosodyItems, false);
    expect(maxAbsDiff(expected, zero)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(expected.slice(0, 7), zero.slice(0, 7))).toBe(0);
    const ensemble = exportLstmToOnnx(
      members.map((m) => m.weights()),
      { frames: FRAMES, labels: LABELS },
    );
    const [a, b] = members.map((m) => tfjsFirstWindow(m, withOffsets, false));
    const both = await predictWithOnnx(ensemble, withOffsets, FRAMES, LABELS.length, 64, false);
    expect(
      maxAbsDiff(
        both,
        a!.map((v, i) => (v + b![i]!) / 2),
      ),
    ).toBeLessThanOrEqual(1e-4);
    const session = await ort.InferenceSession.create(ensemble);
    expect(session.inputNames).toEqual(['features', 'lengths', 'speaker_offset']);
    await session.release();
    for (const m of members) m.dispose();
  });

  it('an ensemble graph is the mean of its members', async () => {
    const config = { dims: 40, stack: 2, units: 16, hidden: 8, labels: 7, dropout: 0, utteranceStats: true };
    const members = [new LstmModel(config, 31), new LstmModel(config, 32)];
    for (const m of members)
      m.setStatsNormalisation(items.map((i) => ({ data: i.original.data, frames: i.original.frames })));
    const onnx = exportLstmToOnnx(
      members.map((m) => m.weights()),
      { frames: FRAMES, labels: LABELS },
    );
    const [a, b] = members.map((m) => tfjsFirstWindow(m, items, false));
    const expected = a!.map((v, i) => (v + b![i]!) / 2);
    const actual = await predictWithOnnx(onnx, items, FRAMES, LABELS.length, 64, false);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-4);
    for (const m of members) m.dispose();
  });

  it('an ensemble graph computes what its members share once, with exactly the same outputs', async () => {
    // Prepare: three members of the shipped architecture (statistics, delta, contours) with their own weights.
    const members = [41, 42, 43].map((seed) => new LstmModel(PROSODY_STATS_CONFIG, seed));
    for (const m of members)
      m.setStatsNormalisation(
        prosodyItems.map((i) => ({ data: i.original.data, frames: i.original.frames })),
      );
    const options = { frames: FRAMES, labels: LABELS };
    const single = exportLstmToOnnx(members[0]!.weights(), { ...options, shareNodes: false });

    // Act
    const shared = exportLstmToOnnx(
      members.map((m) => m.weights()),
      options,
    );
    const unshared = exportLstmToOnnx(
      members.map((m) => m.weights()),
      { ...options, shareNodes: false },
    );

    // Assess: one statistics branch, not three; the same probabilities to the last bit.
    expect(nodeCount(unshared)).toBe(3 * nodeCount(single) + 1);
    expect(nodeCount(shared)).toBeLessThan(nodeCount(single) + 2 * (nodeCount(single) / 2));
    expect(shareCommonNodes(shared)).toEqual(shared);
    const [x, y] = await Promise.all(
      [shared, unshared].map((graph) =>
        predictWithOnnx(graph, prosodyItems, FRAMES, LABELS.length, 64, false),
      ),
    );
    expect(maxAbsDiff(x!, y!)).toBe(0);
    for (const m of members) m.dispose();
  });

  it('documents its contract: inputs features/lengths, output probabilities, dynamic batch', async () => {
    const model = new LstmModel({ dims: 40, stack: 2, units: 8, hidden: 8, labels: 7, dropout: 0 }, 5);
    const session = await ort.InferenceSession.create(
      exportLstmToOnnx(model.weights(), { frames: FRAMES, labels: LABELS }),
    );
    expect(session.inputNames).toEqual(['features', 'lengths']);
    expect(session.outputNames).toEqual(['probabilities']);
    // A one-frame row and a full row in one batch: padding must not change the short row's result.
    const features = new Float32Array(2 * FRAMES * 40);
    for (let i = 0; i < 40; i++) features[i] = Math.cos(i);
    for (let i = 0; i < FRAMES * 40; i++) features[FRAMES * 40 + i] = Math.sin(i * 0.01);
    const output = await session.run({
      features: new ort.Tensor('float32', features, [2, FRAMES, 40]),
      lengths: new ort.Tensor('int32', Int32Array.from([1, FRAMES]), [2]),
    });
    const p = output.probabilities!;
    expect(p.dims).toEqual([2, 7]);
    const single = await session.run({
      features: new ort.Tensor('float32', features.slice(0, FRAMES * 40), [1, FRAMES, 40]),
      lengths: new ort.Tensor('int32', Int32Array.from([1]), [1]),
    });
    expect(
      maxAbsDiff((p.data as Float32Array).slice(0, 7), single.probabilities!.data as Float32Array),
    ).toBeLessThan(1e-6);
    await session.release();
    model.dispose();
  });
});
