import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelMetadata, ModelMetadataSchema } from '../lambdas/core/model/metadata.ts';
import { loadModel, loadModelPackage } from '../lambdas/core/model/runtime.ts';
import { createPredictor } from '../lambdas/core/predict.ts';
import { candidateVariants, evaluateAdaptation } from '../training/adaptive-report.ts';
import { DatasetError, scanDataset } from '../training/datasets.ts';
import { createFeaturePipeline } from '../training/features.ts';
import {
  DEFAULTS,
  onnxMetrics,
  type TrainPackageOptions,
  type TrainPackageResult,
  trainPackage,
} from '../training/pipeline.ts';

// The committed fixture clips only: CI has no /work/shared.
const FIXTURES = resolve(import.meta.dirname, 'fixtures', 'tess');

/**
 * A miniature package on the TESS fixtures, written to `work/package` (features cached in `work/cache`):
 * one augmented copy, no experiments, no predictor check; `recipe` sets what each test trains.
 */
const miniaturePackage = (
  work: string,
  recipe: Pick<TrainPackageOptions, 'version' | 'channelCopies' | 'settings'> & Partial<TrainPackageOptions>,
): TrainPackageOptions => ({
  dataDir: FIXTURES,
  corpora: ['tess'],
  outDir: join(work, 'package'),
  featureConfig: DEFAULTS.featureConfig,
  windowSec: 3,
  seed: 7,
  augmentCopies: 1,
  augmentation: DEFAULTS.augmentation,
  channel: DEFAULTS.channel,
  heldOutSpeakers: [],
  experiments: [],
  experimentEpochs: 1,
  progress: false,
  cacheDir: join(work, 'cache'),
  command: 'vitest',
  log: () => {},
  predictorCheck: false,
  ...recipe,
});

describe('training end to end on the fixture clips (load → train → export → parity)', () => {
  let work: string;
  let result: TrainPackageResult;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ser-train-smoke-'));
    // The shipped recipe in miniature (speaker-like copies), plus one channel copy so that path runs too.
    result = await trainPackage(
      miniaturePackage(work, {
        version: 'smoke',
        channelCopies: 1,
        tessWords: DEFAULTS.tessWords,
        settings: { ...DEFAULTS.settings, units: 8, hidden: 8, epochs: 2, batchSize: 4 },
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes a package the inference core accepts (schema, sha256, ONNX contract)', async () => {
    const dir = join(work, 'package');
    const metadata = ModelMetadataSchema.parse(
      JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')),
    );
    // 40 MFCCs + pitch, voicing, level.
    expect(metadata.input).toEqual({ windowSec: 3, frames: 149, dims: 43 });
    expect(await readFile(join(dir, 'REPORT.md'), 'utf8')).toContain(
      'windows of at most 149 frames (3 s at hop 320 / 16 kHz) of 43 features',
    );
    expect(metadata.featureConfig.prosody).toBe(true);
    expect(metadata.labels).toEqual(['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad']);
    expect(metadata.training.epochs).toMatchObject({ max: 2 });
    const model = await loadModelPackage(dir);
    await model.release();
    for (const file of ['REPORT.md', 'splits.json', 'figures/examples.svg', 'figures/curves-loss.svg']) {
      expect((await stat(join(dir, file))).size).toBeGreaterThan(0);
    }
  });

  it('the exported ONNX matches tfjs and its metrics are what evaluation recomputes', async () => {
    expect(result.parityMaxDiff).toBeLessThanOrEqual(1e-4);
    const dir = join(work, 'package');
    const onnx = await readFile(join(dir, 'model.onnx'));
    const splits = JSON.parse(await readFile(join(dir, 'splits.json'), 'utf8')) as {
      sets: Record<string, Array<{ sha1: string }>>;
    };
    const scan = await scanDataset(FIXTURES);
    const pipeline = await createFeaturePipeline({
      config: DEFAULTS.featureConfig,
      augmentCopies: 0,
      augmentation: DEFAULTS.augmentation,
      seed: 0,
      cacheDir: join(work, 'cache'),
    });
    const { items } = await pipeline.run(scan.clips);
    const wanted = splits.sets['tess-random']!.map((w) => items.find((i) => i.fileHash === w.sha1)!);
    expect(wanted.length).toBeGreaterThan(0);
    const cmvn = result.metadata.featureConfig.normalization === 'utterance';
    const metrics = await onnxMetrics(onnx, wanted, 149, result.metadata.labels, cmvn);
    const recorded = result.metadata.metrics['tess-random'] as { accuracy: number; macroF1: number };
    expect({ accuracy: metrics.accuracy, macroF1: metrics.macroF1 }).toEqual({
      accuracy: recorded.accuracy,
      macroF1: recorded.macroF1,
    });
  });

  it('refuses an empty or unrecognised folder with a clear error', async () => {
    await expect(scanDataset(join(work, 'nope'))).rejects.toThrow(DatasetError);
    await expect(scanDataset(resolve(import.meta.dirname, 'fixtures', 'generated'))).rejects.toThrow(
      /no labelled clips.*TESS/,
    );
  });
});

/** A miniature package trained for speaker adaptation on the TESS fixtures, in `work/package`. */
const adaptationPackage = (
  work: string,
  version: string,
  speakerShift: TrainPackageOptions['speakerShift'],
  ensemble: number,
): TrainPackageOptions =>
  miniaturePackage(work, {
    version,
    channelCopies: 0,
    speakerShift,
    settings: { ...DEFAULTS.settings, units: 8, hidden: 8, epochs: 1, ensemble, batchSize: 4 },
  });

describe('a package trained for speaker adaptation (train --speaker-shift)', () => {
  it('writes speakerAdaptation from the training speakers, and the inference core accepts it', async () => {
    const work = await mkdtemp(join(tmpdir(), 'ser-train-shift-'));
    try {
      const { metadata } = await trainPackage(
        adaptationPackage(work, 'smoke-shift', { shrinkageClips: 3, minClips: 10 }, 1),
      );
      const adaptation = metadata.speakerAdaptation!;
      expect(adaptation).toMatchObject({ shrinkageClips: 3, minClips: 10 });
      expect(adaptation.channels).toHaveLength(42);
      expect(adaptation.channels).not.toContain(41); // voicing is never shifted
      // A population of real MFCC/pitch/level means: finite and not all equal.
      expect(adaptation.populationMean.every(Number.isFinite)).toBe(true);
      expect(new Set(adaptation.populationMean).size).toBeGreaterThan(10);
      const model = await loadModelPackage(join(work, 'package'));
      await model.release();
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a package trained with the speaker offset as an input (train --speaker-offset)', () => {
  let work: string;
  let metadata: ModelMetadata;
  const packageDir = () => join(work, 'package');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ser-train-offset-'));
    ({ metadata } = await trainPackage(
      adaptationPackage(
        work,
        'smoke-offset',
        { shrinkageClips: 3, minClips: 10, apply: 'input', virtualSpeakers: true },
        2,
      ),
    ));
  }, 120_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('predicts through createPredictor: offset 0 without context, other outputs with it', async () => {
    const adaptation = metadata.speakerAdaptation!;
    expect(adaptation).toMatchObject({ shrinkageClips: 3, minClips: 10, apply: 'input' });
    expect(metadata.training.architecture).toMatchObject({ offsetInput: adaptation.channels.length });
    const predictor = await createPredictor({ modelDir: packageDir() });
    try {
      const clip = await readFile(join(FIXTURES, 'OAF_back_sad.flac'));
      const plain = await predictor.predict(clip);
      // A speaker 4 units off the population on every adapted channel, known from 9 or 12 earlier clips.
      const known = (count: number) => ({
        statistics: {
          count,
          mean: adaptation.populationMean.map((p) => p + 4),
          m2: adaptation.populationMean.map(() => 0),
        },
      });
      const below = await predictor.predict(clip, { speaker: known(9) });
      const adapted = await predictor.predict(clip, { speaker: known(12) });
      expect(below.adaptation).toBeUndefined();
      expect(below.probabilities).toEqual(plain.probabilities);
      expect(adapted.adaptation).toEqual({ clips: 12 });
      expect(adapted.probabilities).not.toEqual(plain.probabilities);
      // The frames were not shifted: the speaker's statistics learn the same clip means either way.
      expect(adapted.speakerClip).toEqual(below.speakerClip);
    } finally {
      await predictor.release();
    }
  });

  it("refuses a package whose graph's offset input and metadata's mode disagree", async () => {
    const adaptation = metadata.speakerAdaptation!;
    const onnx = await readFile(join(packageDir(), 'model.onnx'));
    const json = (change: object) =>
      JSON.stringify({ ...metadata, speakerAdaptation: { ...adaptation, ...change } });
    await expect(loadModel(json({ apply: 'shift' }), onnx)).rejects.toThrow(/apply is not "input"/);
    const fewer = {
      channels: adaptation.channels.slice(1),
      populationMean: adaptation.populationMean.slice(1),
    };
    await expect(loadModel(json(fewer), onnx)).rejects.toThrow(/needs a speaker_offset input/);
  });

  it('npm run evaluate --adaptive measures it by feeding the offset, with its own population', async () => {
    const variants = candidateVariants(metadata, [3, 10]);
    expect(variants).toEqual([
      expect.objectContaining({ kind: 'input', populationMean: metadata.speakerAdaptation!.populationMean }),
    ]);
    const scan = await scanDataset(FIXTURES);
    const pipeline = await createFeaturePipeline({
      config: metadata.featureConfig,
      augmentCopies: 0,
      augmentation: DEFAULTS.augmentation,
      seed: 0,
      cacheDir: join(work, 'cache'),
    });
    const { items } = await pipeline.run(scan.clips);
    const onnx = await readFile(join(packageDir(), 'model.onnx'));
    const evaluation = await evaluateAdaptation({
      onnx,
      metadata,
      items,
      population: [],
      variants,
      repetitions: 1,
      seed: 1,
    });
    const [result] = evaluation.results;
    expect(result!.balanced.map((p) => p.k)).toEqual([0, 1, 3, 10, 30]);
    expect(result!.balanced.every((p) => p.accuracy >= 0 && p.accuracy <= 1)).toBe(true);
  });
});

describe('too little data for a usable package: refused before training, for npm run train and jobs alike', () => {
  let work: string;
  const tiny = (data: string, recipe: Partial<TrainPackageOptions> = {}) =>
    miniaturePackage(work, {
      dataDir: data,
      version: 'tiny',
      channelCopies: 0,
      augmentCopies: 0,
      settings: { ...DEFAULTS.settings, units: 4, hidden: 4, epochs: 1, batchSize: 4, ensemble: 1 },
      ...recipe,
    });
  /** A folder with these TESS fixture clips, labelled by a labels.csv as `speaker`'s. */
  const labelledFolder = async (clips: Array<[file: string, emotion: string, speaker: string]>) => {
    const dir = await mkdtemp(join(work, 'data-'));
    for (const [file] of clips) await copyFile(join(FIXTURES, file), join(dir, file));
    await writeFile(join(dir, 'labels.csv'), clips.map((c) => c.join(',')).join('\n'));
    return dir;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ser-train-tiny-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('three clips of three emotions: every clip would train and nothing would be tested', async () => {
    const data = await labelledFolder([
      ['OAF_bath_angry.flac', 'angry', 'ann'],
      ['OAF_back_sad.flac', 'sad', 'ann'],
      ['OAF_back_neutral.flac', 'neutral', 'ann'],
    ]);

    const refused = trainPackage(tiny(data, { corpora: ['csv'] }));

    await expect(refused).rejects.toThrow(DatasetError);
    await expect(refused).rejects.toThrow(
      /^too few clips to test on: split random has no test clip \(3 train of 3 usable clips/,
    );
  });

  it('an emotion only the held-out speaker has: the model would never train on it', async () => {
    const data = await labelledFolder([
      ['OAF_bath_angry.flac', 'angry', 'ann'],
      ['OAF_back_sad.flac', 'sad', 'ann'],
      ['OAF_food_fear.flac', 'angry', 'bob'],
      ['OAF_back_neutral.flac', 'sad', 'bob'],
      ['YAF_back_happy.flac', 'happy', 'bob'],
    ]);

    const refused = trainPackage(tiny(data, { corpora: ['csv'], heldOutSpeakers: ['csv:./bob'] }));

    await expect(refused).rejects.toThrow(
      /^too few clips to train on: happy has fewer than 1 training clip\(s\) in split multi-corpus/,
    );
  });
});
