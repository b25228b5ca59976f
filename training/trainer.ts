import cliProgress from 'cli-progress';
import { type FeatureMatrix, frameStatistics } from '../lambdas/core/features/extract.ts';
import {
  bucketedBatches,
  evaluationWindows,
  labelIndex,
  offsetBatch,
  offsetOf,
  padBatch,
  window,
} from './batches.ts';
import type { ClipFeatures } from './features.ts';
import { type LogitsPass, type LstmConfig, LstmModel } from './lstm.ts';
import { computeMetrics } from './metrics.ts';
import { drawRowMix, mixRows, type RowMix } from './mixup.ts';
import { createRng, glorotUniform, type Rng } from './random.ts';
import {
  createSpeakerAdversary,
  reversalWeight,
  type SpeakerAdversary,
  speakerIndices,
} from './speaker-adversary.ts';
import type { Split } from './splits.ts';
import { tf } from './tf.ts';

/**
 * What the training loop needs from a model: how a clip becomes input rows (one row per window for the
 * LSTM, one pooled row for the MLP) and logits for a padded batch of rows.
 */
export interface Learner {
  readonly kind: 'lstm' | 'mlp';
  readonly variables: tf.Variable[];
  /** Stacking factor of the time axis (batches are padded to a multiple of it). */
  readonly stack: number;
  /** Width of the head's hidden layer, for a speaker adversary (absent: the learner cannot have one). */
  readonly hiddenWidth?: number;
  trainRow(matrix: FeatureMatrix, rng: Rng): FeatureMatrix;
  evalRows(matrix: FeatureMatrix): FeatureMatrix[];
  logits(features: tf.Tensor3D, frames: Int32Array, pass: LogitsPass): tf.Tensor2D;
  snapshot(): Float32Array[];
  restore(values: Float32Array[]): void;
  describe(): Record<string, unknown>;
}

const snapshotOf = (variables: tf.Variable[]) =>
  variables.map((v) => Float32Array.from(v.dataSync() as Float32Array));
const restoreTo = (variables: tf.Variable[], values: Float32Array[]) => {
  for (const [i, v] of variables.entries()) v.assign(tf.tensor(values[i]!, v.shape));
};

export function lstmLearner(
  config: LstmConfig,
  maxFrames: number,
  seed: number,
): Learner & { model: LstmModel } {
  const model = new LstmModel(config, seed);
  // With in-model CMVN the rows stay raw: the model normalises (and measures) each utterance itself.
  const cmvn = !config.utteranceStats;
  return {
    kind: 'lstm',
    model,
    variables: model.variables,
    stack: config.stack,
    hiddenWidth: config.hidden,
    trainRow(matrix, rng) {
      const count = Math.min(matrix.frames, maxFrames);
      return window(matrix, Math.floor(rng() * (matrix.frames - count + 1)), count, cmvn);
    },
    evalRows: (matrix) => evaluationWindows(matrix, maxFrames, cmvn),
    logits: (features, frames, pass) => model.logits(features, frames, pass),
    snapshot: () => snapshotOf(model.variables),
    restore: (values) => restoreTo(model.variables, values),
    describe: () => ({
      type: 'lstm',
      ...config,
      description: `${config.utteranceStats ? `raw frames (${config.dims} channels) → in-model per-utterance CMVN over real frames → ` : ''}frames stacked by ${config.stack} → LSTM(${config.units}, sigmoid gates) over real steps → masked mean over time${config.utteranceStats ? ` ‖ standardised per-utterance mean, std${config.deltaStats ? ' and delta RMS' : ''} of each channel` : ''}${config.offsetInput ? ` ‖ speaker offset of ${config.offsetInput} channels (÷ training RMS; 0 without context)` : ''} → Dense(${config.hidden}, relu) → dropout ${config.dropout} → Dense(${config.labels}) → softmax`,
      parameters: model.variables.reduce((n, v) => n + v.size, 0),
    }),
    ...(config.utteranceStats
      ? { fitNormalisation: (rows: FeatureMatrix[]) => model.setStatsNormalisation(rows) }
      : {}),
  };
}

/** The MLP's weights, Glorot-uniform from the seeded rng in layer order, biases zero. */
function mlpVariables(inputs: number, hidden: number, labels: number, rng: Rng) {
  const glorot = (a: number, b: number) => tf.variable(tf.tensor2d(glorotUniform(rng, a, b), [a, b]));
  const w1 = glorot(inputs, hidden);
  const b1 = tf.variable(tf.zeros([hidden]));
  const w2 = glorot(hidden, hidden / 2);
  const b2 = tf.variable(tf.zeros([hidden / 2]));
  const w3 = glorot(hidden / 2, labels);
  const b3 = tf.variable(tf.zeros([labels]));
  return { w1, b1, w2, b2, w3, b3, variables: [w1, b1, w2, b2, w3, b3] };
}

type Standardisation = { mean: Float32Array; std: Float32Array };

/** One pooled row of a clip: each channel's mean and std over frames, standardised once `norm` is fitted. */
function pooledRow(matrix: FeatureMatrix, dims: number, norm: Standardisation | undefined): FeatureMatrix {
  const inputs = dims * 2;
  const out = new Float32Array(inputs);
  const { mean, std } = frameStatistics(matrix.data, matrix.frames, dims);
  for (let d = 0; d < dims; d++) {
    out[d] = mean[d]!;
    out[dims + d] = std[d]!;
  }
  if (norm) for (let i = 0; i < inputs; i++) out[i] = (out[i]! - norm.mean[i]!) / norm.std[i]!;
  return { frames: 1, dims: inputs, data: out };
}

/** Mean and standard deviation (floored at 1e-6) of every input over the training rows. */
function standardisationOf(rows: FeatureMatrix[], inputs: number): Standardisation {
  const mean = new Float32Array(inputs);
  const std = new Float32Array(inputs);
  for (const r of rows) for (let i = 0; i < inputs; i++) mean[i]! += r.data[i]! / rows.length;
  for (const r of rows)
    for (let i = 0; i < inputs; i++) std[i]! += (r.data[i]! - mean[i]!) ** 2 / rows.length;
  for (let i = 0; i < inputs; i++) std[i] = Math.max(Math.sqrt(std[i]!), 1e-6);
  return { mean, std };
}

/**
 * The seed's baseline: an MLP on per-clip statistics (mean and standard deviation of each MFCC over the
 * clip, before CMVN — after CMVN they would be 0 and 1), standardised with the training set's statistics.
 */
export function mlpLearner(
  dims: number,
  labels: number,
  hidden: number,
  seed: number,
  dropout = 0.3,
): Learner {
  const rng = createRng(seed);
  const inputs = dims * 2;
  const { w1, b1, w2, b2, w3, b3, variables } = mlpVariables(inputs, hidden, labels, rng);
  const dropoutRng = createRng(seed ^ 0x9e3779b9);
  let norm: Standardisation | undefined;
  const drop = (x: tf.Tensor2D) => {
    const keep = Float32Array.from({ length: x.size }, () =>
      dropoutRng() < dropout ? 0 : 1 / (1 - dropout),
    );
    return x.mul(tf.tensor2d(keep, x.shape)) as tf.Tensor2D;
  };
  return {
    kind: 'mlp',
    variables,
    stack: 1,
    trainRow: (matrix) => pooledRow(matrix, dims, norm),
    evalRows: (matrix) => [pooledRow(matrix, dims, norm)],
    logits(features, _frames, { training, mix }) {
      let x = features.reshape([features.shape[0], inputs]) as tf.Tensor2D;
      if (training && mix) x = mixRows(x, mix);
      x = x.matMul(w1).add(b1).relu() as tf.Tensor2D;
      if (training) x = drop(x);
      x = x.matMul(w2).add(b2).relu() as tf.Tensor2D;
      if (training) x = drop(x);
      return x.matMul(w3).add(b3) as tf.Tensor2D;
    },
    snapshot: () => [...snapshotOf(variables), ...(norm ? [norm.mean, norm.std] : [])],
    restore: (values) => restoreTo(variables, values.slice(0, variables.length)),
    describe: () => ({
      type: 'mlp',
      inputs: 'per-clip mean and std of each raw MFCC, standardised on the training set',
      layers: [inputs, hidden, hidden / 2, labels],
      dropout,
    }),
    // Standardisation statistics come from the training rows only (set by `fitNormalisation`).
    ...{
      fitNormalisation(rows: FeatureMatrix[]) {
        norm = standardisationOf(rows, inputs);
      },
    },
  } as Learner;
}

export interface TrainOptions {
  labels: readonly string[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Epochs without a better validation macro-F1 before stopping (the best weights are restored). */
  patience: number;
  seed: number;
  /** Use the augmented copies of training clips (never of validation/test clips). */
  augment: boolean;
  /** Label for the progress bar. */
  name: string;
  progress: boolean;
  /** Clip the gradients' global norm (LSTMs occasionally spike). */
  clipNorm?: number;
  labelSmoothing?: number;
  /** Mixup of the classifier's input rows with weights from Beta(mixup, mixup); 0 or absent: none. */
  mixup?: number;
  /**
   * Speaker-adversarial training (round 15, speaker-adversary.ts): the largest gradient-reversal weight of
   * an adversary that names the training speaker from the head's hidden layer. 0 or absent: none.
   */
  speakerAdversary?: number;
  /** Repeat smaller corpora (up to 3×) in each epoch. */
  balanceCorpora?: boolean;
  /** Fixed repeats per epoch for these corpora (wins over `balanceCorpora`'s ratio). */
  corpusRepeats?: Record<string, number>;
  /** SpecAugment-style masks on training rows: 2 coefficient bands and 2 time spans set to 0 (the CMVN mean). */
  specAugment?: boolean;
  /**
   * Called after every epoch with its record (the training-job runner copies it into the job); a promise
   * it returns is awaited before the next epoch, so its I/O goes out while training runs.
   */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /**
   * Round 29: end with the mean of the weights after every epoch from this one to the last trained,
   * instead of the best epoch's (stochastic weight averaging). Absent: the best epoch's weights.
   */
  averageFrom?: number;
}

function maskRow(row: FeatureMatrix, rng: Rng): void {
  const { frames, dims, data } = row;
  if (frames < 4) return;
  for (let k = 0; k < 2; k++) {
    const width = Math.floor(rng() * Math.min(6, dims / 4));
    const start = Math.floor(rng() * (dims - width));
    for (let t = 0; t < frames; t++) data.fill(0, t * dims + start, t * dims + start + width);
  }
  for (let k = 0; k < 2; k++) {
    const width = Math.floor(rng() * Math.min(10, frames / 8));
    const start = Math.floor(rng() * (frames - width));
    data.fill(0, start * dims, (start + width) * dims);
  }
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  valMacroF1: number;
  learningRate: number;
  seconds: number;
}

export interface TrainResult {
  history: EpochRecord[];
  bestEpoch: number;
  /** With `averageFrom`: how many epochs' weights were averaged into the result (0: none reached it). */
  averagedEpochs?: number;
  seconds: number;
}

/** Mean probabilities over each clip's windows, in `items` order: [clips × labels]. */
export function predictClips(
  learner: Learner,
  items: ClipFeatures[],
  labelCount: number,
  batchSize = 64,
): Float32Array {
  const rows: Array<{
    clip: number;
    frames: number;
    data: Float32Array;
    dims: number;
    offset?: Float32Array;
  }> = [];
  items.forEach((item, clip) => {
    for (const w of learner.evalRows(item.original))
      rows.push({ clip, frames: w.frames, data: w.data, dims: w.dims, offset: offsetOf(w) });
  });
  rows.sort((a, b) => a.frames - b.frames);
  const sums = new Float32Array(items.length * labelCount);
  const counts = new Float32Array(items.length);
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    const dims = batch[0]!.dims;
    const { data, time, frames } = padBatch(batch, dims, learner.stack);
    const offsets = offsetBatch(batch);
    const probabilities = tf.tidy(() =>
      tf
        .softmax(
          learner.logits(tf.tensor3d(data, [batch.length, time, dims]), frames, { training: false, offsets }),
        )
        .dataSync(),
    );
    batch.forEach((row, i) => {
      for (let l = 0; l < labelCount; l++)
        sums[row.clip * labelCount + l]! += probabilities[i * labelCount + l]!;
      counts[row.clip]! += 1;
    });
  }
  for (let c = 0; c < items.length; c++)
    for (let l = 0; l < labelCount; l++) sums[c * labelCount + l]! /= counts[c]!;
  return sums;
}

export function argmaxRows(probabilities: Float32Array, labelCount: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < probabilities.length / labelCount; r++) {
    let best = 0;
    for (let l = 1; l < labelCount; l++) {
      if (probabilities[r * labelCount + l]! > probabilities[r * labelCount + best]!) best = l;
    }
    out.push(best);
  }
  return out;
}

function crossEntropy(probabilities: Float32Array, truth: number[], labelCount: number): number {
  let sum = 0;
  truth.forEach((t, r) => {
    sum -= Math.log(Math.max(probabilities[r * labelCount + t]!, 1e-7));
  });
  return sum / (truth.length || 1);
}

type Optimizer = ReturnType<typeof tf.train.adam>;
type TrainingRow = {
  frames: number;
  data: Float32Array;
  dims: number;
  label: number;
  /** Index of the clip's speaker among the training part's (speaker-adversary.ts `speakerIndices`). */
  speaker: number;
  offset?: Float32Array;
};

type NormalisingLearner = Learner & { fitNormalisation?: (rows: FeatureMatrix[]) => void };

/** The variants of a training clip an epoch may draw from: the original, plus its copies when augmenting. */
function variantsOf(item: ClipFeatures, augment: boolean): FeatureMatrix[] {
  return augment ? [item.original, ...item.augmented, ...(item.channel ?? [])] : [item.original];
}

/** Fits a normalising learner (CMVN statistics) on one training row of every variant of every clip. */
function fitNormalisation(
  learner: NormalisingLearner,
  split: Split<ClipFeatures>,
  augment: boolean,
  rng: Rng,
) {
  // Only a learner that normalises draws from the rng here (the rows are built only when asked for).
  learner.fitNormalisation?.(
    split.train.flatMap((i) => variantsOf(i, augment).map((m) => learner.trainRow(m, rng))),
  );
}

/** How often each corpus's clips appear in an epoch. */
function corpusRepeatsOf(split: Split<ClipFeatures>, options: TrainOptions): Map<string, number> {
  const corpusCounts = new Map<string, number>();
  for (const i of split.train) corpusCounts.set(i.clip.corpus, (corpusCounts.get(i.clip.corpus) ?? 0) + 1);
  const largest = Math.max(...corpusCounts.values());
  return new Map(
    [...corpusCounts].map(([c, n]) => [
      c,
      options.corpusRepeats?.[c] ??
        (options.balanceCorpora ? Math.min(3, Math.max(1, Math.round(largest / n))) : 1),
    ]),
  );
}

function progressBar(options: TrainOptions): cliProgress.SingleBar | undefined {
  if (!options.progress) return undefined;
  return new cliProgress.SingleBar(
    {
      format: `${options.name} epoch {epoch} |{bar}| {value}/{total} batches loss {loss} acc {acc} | val acc {vacc} F1 {vf1} | {duration_formatted}`,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
}

/** One epoch's training rows: every clip once per repeat of its corpus, as a random variant (and crop). */
function epochRows(
  learner: NormalisingLearner,
  split: Split<ClipFeatures>,
  trainLabels: number[],
  trainSpeakers: Int32Array,
  repeats: Map<string, number>,
  options: TrainOptions,
  rng: Rng,
): TrainingRow[] {
  const rows: TrainingRow[] = [];
  split.train.forEach((item, i) => {
    // A smaller corpus is repeated (each time as another random variant) so it is not drowned out.
    for (let r = 0; r < (repeats.get(item.clip.corpus) ?? 1); r++) {
      const variants = variantsOf(item, options.augment);
      const matrix = variants[Math.floor(rng() * variants.length)]!;
      const row = learner.trainRow(matrix, rng);
      // Masks only make sense on CMVN rows (0 = the utterance mean); raw rows would get fake statistics.
      if (options.specAugment && !learner.fitNormalisation) maskRow(row, rng);
      rows.push({
        frames: row.frames,
        data: row.data,
        dims: row.dims,
        label: trainLabels[i]!,
        speaker: trainSpeakers[i]!,
        offset: offsetOf(row),
      });
    }
  });
  return rows;
}

/** What every training step of one run shares. */
interface StepContext {
  learner: Learner;
  optimizer: Optimizer;
  options: TrainOptions;
  mixRng: Rng;
  /** The run's speaker adversary (`TrainOptions.speakerAdversary`), if any. */
  adversary: SpeakerAdversary | undefined;
}

/**
 * The batch's training loss (emotion cross-entropy, plus the adversary's speaker cross-entropy through the
 * reversal of `reversal`); `onPredicted` receives the predicted labels, kept out of the tidy scope.
 */
function batchLoss(
  context: StepContext,
  batch: TrainingRow[],
  inputs: { x: tf.Tensor3D; frames: Int32Array; y: tf.Tensor2D; mix: RowMix | undefined },
  reversal: number,
  onPredicted: (predicted: tf.Tensor) => void,
): tf.Scalar {
  const { learner, options, adversary } = context;
  let hidden: tf.Tensor2D | undefined;
  const onHidden = adversary ? (h: tf.Tensor2D) => (hidden = h) : undefined;
  const offsets = offsetBatch(batch);
  const logits = learner.logits(inputs.x, inputs.frames, {
    training: true,
    offsets,
    mix: inputs.mix,
    onHidden,
  });
  onPredicted(tf.keep(logits.argMax(1)));
  const smoothing = options.labelSmoothing ?? 0;
  const loss = tf.losses.softmaxCrossEntropy(inputs.y, logits, undefined, smoothing) as tf.Scalar;
  if (!adversary) return loss;
  const speakers = Int32Array.from(batch, (r) => r.speaker);
  return loss.add(adversary.loss(hidden!, speakers, reversal)) as tf.Scalar;
}

/**
 * One Adam step on a batch, gradients clipped to `clipNorm`: the batch's loss and predicted labels.
 * `reversal` is the adversary's gradient-reversal weight for this batch (unused without one).
 */
function trainStep(
  context: StepContext,
  batch: TrainingRow[],
  reversal: number,
): { loss: number; predictions: Int32Array | Float32Array | Uint8Array } {
  const { learner, optimizer, options, mixRng, adversary } = context;
  const dims = batch[0]!.dims;
  const { data, time, frames } = padBatch(batch, dims, learner.stack);
  const labelsTensor = Int32Array.from(batch, (r) => r.label);
  const mix = options.mixup ? drawRowMix(batch.length, options.mixup, mixRng) : undefined;
  let predicted: tf.Tensor | undefined;
  const loss = tf.tidy(() => {
    const x = tf.tensor3d(data, [batch.length, time, dims]);
    const oneHot = tf.oneHot(tf.tensor1d(labelsTensor, 'int32'), options.labels.length) as tf.Tensor2D;
    const y = mix ? mixRows(oneHot.toFloat(), mix) : oneHot;
    const variables = [...learner.variables, ...(adversary?.variables ?? [])];
    const { value, grads } = tf.variableGrads(
      () => batchLoss(context, batch, { x, frames, y, mix }, reversal, (p) => (predicted = p)),
      variables,
    );
    const names = Object.keys(grads);
    const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]!))))).dataSync()[0]!;
    const scale = options.clipNorm && norm > options.clipNorm ? options.clipNorm / norm : 1;
    const clipped: Record<string, tf.Tensor> = {};
    for (const n of names) clipped[n] = scale === 1 ? grads[n]! : grads[n]!.mul(scale);
    optimizer.applyGradients(clipped as unknown as Parameters<typeof optimizer.applyGradients>[0]);
    return value.dataSync()[0]!;
  });
  const predictions = predicted!.dataSync() as Int32Array | Float32Array | Uint8Array;
  predicted!.dispose();
  return { loss, predictions };
}

/** The adversary of `TrainOptions.speakerAdversary`, on the learner's hidden layer (undefined: none). */
function speakerAdversaryFor(
  learner: Learner,
  speakers: number,
  options: TrainOptions,
): SpeakerAdversary | undefined {
  if (!options.speakerAdversary) return undefined;
  if (learner.hiddenWidth === undefined)
    throw new Error(`a ${learner.kind} learner cannot train a speaker adversary`);
  if (options.mixup)
    throw new Error('a speaker adversary and mixup are alternatives (mixed rows have no one speaker)');
  if (speakers < 2) throw new Error('a speaker adversary needs at least two training speakers');
  return createSpeakerAdversary(learner.hiddenWidth, speakers, options.seed);
}

/** Runs every batch of epoch `epoch`: mean training loss (with any adversary's term) and accuracy. */
function trainBatches(
  context: StepContext,
  batches: TrainingRow[][],
  epoch: number,
  bar: cliProgress.SingleBar | undefined,
): { loss: number; accuracy: number } {
  const { options } = context;
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  for (const [b, batch] of batches.entries()) {
    // The reversal ramps up over the epoch cap (speaker-adversary.ts), batch by batch.
    const reversal = reversalWeight(
      options.speakerAdversary ?? 0,
      (epoch - 1 + b / batches.length) / options.epochs,
    );
    const { loss, predictions } = trainStep(context, batch, reversal);
    for (let i = 0; i < batch.length; i++) if (predictions[i] === batch[i]!.label) correct++;
    lossSum += loss * batch.length;
    seen += batch.length;
    bar?.increment(1, { loss: (lossSum / seen).toFixed(3), acc: (correct / seen).toFixed(3) });
  }
  return { loss: lossSum / seen, accuracy: correct / seen };
}

/** Model selection: mean of the corpora's macro-F1, so a small corpus (and its voices) counts as much. */
function corpusMeanMacroF1(
  labels: readonly string[],
  validation: ClipFeatures[],
  truth: number[],
  predicted: number[],
): number {
  const corpusScores = [...new Set(validation.map((i) => i.clip.corpus))].map((corpus) => {
    const index = validation.map((item, i) => (item.clip.corpus === corpus ? i : -1)).filter((i) => i >= 0);
    return computeMetrics(
      labels,
      index.map((i) => truth[i]!),
      index.map((i) => predicted[i]!),
    ).macroF1;
  });
  return corpusScores.length ? corpusScores.reduce((a, b) => a + b, 0) / corpusScores.length : 0;
}

/** Validation of the current weights: loss, accuracy, macro-F1 and the model-selection score. */
function validate(learner: Learner, split: Split<ClipFeatures>, truth: number[], labels: readonly string[]) {
  const probabilities = predictClips(learner, split.validation, labels.length);
  const predicted = argmaxRows(probabilities, labels.length);
  const metrics = computeMetrics(labels, truth, predicted);
  return {
    loss: crossEntropy(probabilities, truth, labels.length),
    accuracy: metrics.accuracy,
    macroF1: metrics.macroF1,
    score: corpusMeanMacroF1(labels, split.validation, truth, predicted),
  };
}

function logEpoch(options: TrainOptions, record: EpochRecord): void {
  if (options.progress) return;
  process.stderr.write(
    `${options.name} epoch ${record.epoch}: loss ${record.loss.toFixed(3)} acc ${record.accuracy.toFixed(3)} val acc ${record.valAccuracy.toFixed(3)} F1 ${record.valMacroF1.toFixed(3)} (${record.seconds.toFixed(1)} s)\n`,
  );
}

/**
 * Keeps the best epoch's weights (by score, ties broken by validation loss), halves the learning rate after
 * 3 epochs without progress and says when `patience` epochs passed without one.
 */
function createModelSelection(
  learner: Learner,
  optimizer: { learningRate: number },
  hasValidation: boolean,
  options: TrainOptions,
) {
  let sinceImprovement = 0;
  let sinceLrChange = 0;
  const selection = {
    best: { score: -1, loss: Infinity, epoch: 0, weights: learner.snapshot() },
    /** Records an epoch; true when training should stop. */
    next(epoch: number, score: number, valLoss: number): boolean {
      const best = selection.best;
      // Without validation clips (a tiny folder) every epoch counts as the best: the last one is kept.
      const better = !hasValidation || score > best.score || (score === best.score && valLoss < best.loss);
      if (better) {
        selection.best = { score, loss: valLoss, epoch, weights: learner.snapshot() };
        sinceImprovement = 0;
        sinceLrChange = 0;
        return false;
      }
      sinceImprovement++;
      sinceLrChange++;
      if (sinceImprovement >= options.patience) return true;
      if (sinceLrChange >= 3) {
        optimizer.learningRate /= 2;
        sinceLrChange = 0;
      }
      return false;
    },
  };
  return selection;
}

/** A running mean of weight snapshots (float64 sums, so that the order of the epochs does not matter). */
export function createWeightAverage() {
  let sums: Float64Array[] | undefined;
  let count = 0;
  return {
    add(weights: Float32Array[]): void {
      sums ??= weights.map((w) => new Float64Array(w.length));
      weights.forEach((w, i) => {
        const sum = sums![i]!;
        for (let k = 0; k < w.length; k++) sum[k]! += w[k]!;
      });
      count++;
    },
    get count() {
      return count;
    },
    mean: (): Float32Array[] | undefined => sums?.map((sum) => Float32Array.from(sum, (v) => v / count)),
  };
}

/**
 * Mini-batch Adam with gradient clipping, a learning rate halved after 3 epochs without progress,
 * early stopping on validation macro-F1 (patience), best weights restored. Each epoch sees every
 * training clip once, as a random variant (original or one of its augmented copies) and, for the LSTM,
 * a random crop if longer than the window. Fixed seed → same batches, same dropout, same result.
 */
export async function train(
  learner: Learner,
  split: Split<ClipFeatures>,
  options: TrainOptions,
): Promise<TrainResult> {
  const { labels } = options;
  const rng = createRng(options.seed);
  // Its own stream, so that runs without mixup draw exactly the batches and crops they drew before.
  const mixRng = createRng(options.seed ^ 0x2545f491);
  const optimizer = tf.train.adam(options.learningRate);
  const mutableOptimizer = optimizer as unknown as { learningRate: number };
  const trainLabels = split.train.map((i) => labelIndex(labels, i.clip.emotion));
  const validationTruth = split.validation.map((i) => labelIndex(labels, i.clip.emotion));
  fitNormalisation(learner, split, options.augment, rng);
  const speakers = speakerIndices(split.train.map((i) => i.clip.speaker));
  const adversary = speakerAdversaryFor(learner, speakers.count, options);
  const context: StepContext = { learner, optimizer, options, mixRng, adversary };
  const repeats = corpusRepeatsOf(split, options);
  const history: EpochRecord[] = [];
  const selection = createModelSelection(learner, mutableOptimizer, split.validation.length > 0, options);
  const started = performance.now();
  const bar = progressBar(options);
  const average = createWeightAverage();

  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const epochStart = performance.now();
    const rows = epochRows(learner, split, trainLabels, speakers.indices, repeats, options, rng);
    const batches = bucketedBatches(rows, options.batchSize, rng);
    bar?.start(batches.length, 0, {
      epoch: `${epoch}/${options.epochs}`,
      loss: '-',
      acc: '-',
      vacc: '-',
      vf1: '-',
    });
    const trained = trainBatches(context, batches, epoch, bar);
    const validation = validate(learner, split, validationTruth, labels);
    const record = epochRecord(epoch, trained, validation, mutableOptimizer.learningRate, epochStart);
    history.push(record);
    // Awaited: the epochs themselves never yield, so nothing asynchronous would run until training ended.
    await options.onEpoch?.(record);
    bar?.update(batches.length, { vacc: record.valAccuracy.toFixed(3), vf1: record.valMacroF1.toFixed(3) });
    bar?.stop();
    logEpoch(options, record);
    if (options.averageFrom !== undefined && epoch >= options.averageFrom) average.add(learner.snapshot());
    if (selection.next(epoch, validation.score, record.valLoss)) break;
  }
  const averaged = restoreFinalWeights(learner, selection.best.weights, average, options);
  optimizer.dispose();
  for (const v of adversary?.variables ?? []) v.dispose();
  return {
    history,
    bestEpoch: selection.best.epoch,
    ...averaged,
    seconds: (performance.now() - started) / 1000,
  };
}

function epochRecord(
  epoch: number,
  trained: { loss: number; accuracy: number },
  validation: { loss: number; accuracy: number; macroF1: number },
  learningRate: number,
  epochStart: number,
): EpochRecord {
  return {
    epoch,
    loss: trained.loss,
    accuracy: trained.accuracy,
    valLoss: validation.loss,
    valAccuracy: validation.accuracy,
    valMacroF1: validation.macroF1,
    learningRate,
    seconds: (performance.now() - epochStart) / 1000,
  };
}

/** Ends training on the mean of the weights from `averageFrom` on if any epoch reached it, else the best epoch's. */
function restoreFinalWeights(
  learner: Learner,
  best: Float32Array[],
  average: ReturnType<typeof createWeightAverage>,
  options: TrainOptions,
): Pick<TrainResult, 'averagedEpochs'> {
  learner.restore(average.mean() ?? best);
  if (options.averageFrom === undefined) return {};
  if (!options.progress)
    process.stderr.write(
      `${options.name}: weights averaged over ${average.count} epochs from ${options.averageFrom}\n`,
    );
  return { averagedEpochs: average.count };
}
