import { CMVN_STD_FLOOR, frameStatistics } from '../lambdas/core/features/extract.ts';
import { mixRows, type RowMix } from './mixup.ts';
import { createRng, gaussian, glorotUniform, type Rng } from './random.ts';
import { tf } from './tf.ts';

/** How a batch goes through a model: training (dropout, mixup) or not, and the extra inputs it takes. */
export interface LogitsPass {
  training: boolean;
  /** The rows' speaker offsets [rows × offsetInput] (batches.ts `offsetBatch`), if any. */
  offsets?: Float32Array;
  /** Training only: mixup of the classifier's input rows, matched by the mixed targets. */
  mix?: RowMix;
  /** Training only: receives the head's hidden layer (after its relu, before dropout), for an adversary. */
  onHidden?: (hidden: tf.Tensor2D) => void;
}

/**
 * The shipped architecture, written with raw tfjs ops (not `tf.layers`) so that every step maps 1:1 onto
 * ONNX operators and the variable-length handling is exact:
 *
 *   features [B, T, dims] (CMVN, zero-padded at the end)
 *   → stack `stack` consecutive frames into one step ([B, T/stack, dims·stack]; halves the sequence,
 *     which is the main cost on 2 cores)
 *   → LSTM (`units`, sigmoid gates, tanh) over the real steps only
 *   → masked mean of the hidden states over real steps (a unidirectional LSTM's outputs at real steps do
 *     not depend on the padding after them, so masking the pool is exact — same as ONNX `sequence_lens`)
 *   → Dense(`hidden`, relu) → dropout → Dense(labels) → softmax.
 *
 * Gate order of `kernel`/`recurrent`/`bias` columns is tfjs/Keras' i, f, c, o (ONNX wants i, o, f, c:
 * the exporter reorders).
 */
export interface LstmConfig {
  dims: number;
  stack: number;
  units: number;
  hidden: number;
  labels: number;
  dropout: number;
  /**
   * Training only: dropout on the pooled LSTM state (whole units), so that the classifier cannot lean on
   * the recurrent summary alone — it memorises TESS's two voices easily — and also learns from the
   * utterance statistics, which carry across voices. 0 or absent: none.
   */
  stateDropout?: number;
  /**
   * The model takes raw (not CMVN) features, applies per-utterance CMVN itself over the real frames,
   * and also feeds the per-utterance mean and standard deviation of every coefficient (standardised
   * with training-set constants) next to the pooled LSTM state. CMVN alone hides how loud and how
   * variable the voice is — arousal cues that carry across speakers. Package: `normalization: 'none'`.
   */
  utteranceStats?: boolean;
  /**
   * With `utteranceStats`: also the RMS of each channel's frame-to-frame change (how fast pitch, level
   * and spectrum move) — on held-out voices it added ~2–3 points over mean and std alone.
   */
  deltaStats?: boolean;
  /**
   * With `utteranceStats`: for the last `contourStats` channels (the prosody channels: pitch, voicing,
   * level), also their range (max − min) and their overall change (least-squares slope × frames) — how
   * wide and which way the melody and loudness move. +3 points on held-out voices in a probe.
   */
  contourStats?: number;
  /**
   * With `utteranceStats`: `no-spectral-means` leaves the utterance means of the spectral channels
   * (MFCC or log-mel) out of the head. Those means are where a microphone, a room or a phone line shows
   * most (a convolutive channel adds a constant to every cepstral frame) and they also carry the
   * speaker's vocal tract; std, delta and the prosody means stay. Implemented as a fixed 0/1 mask on
   * the statistics while training and as zero rows of the first dense layer in the exported weights, so
   * the ONNX graph is unchanged. Absent: `all`.
   */
  statsMask?: 'all' | 'no-spectral-means';
  /**
   * Speaker adaptation as an input (round 5c): the head also reads the speaker offset of `offsetInput`
   * adapted channels (`n/(n+k)·(population − speaker mean)`, speaker-shift.ts), divided by training-set
   * constants (`LstmWeights.offsetStd`), beside the raw utterance statistics, which stay unshifted (they
   * carry emotion as well as voice). No context: offset 0. Absent or 0: no such input, the graph of before.
   */
  offsetInput?: number;
  /**
   * How the LSTM's outputs become one vector: `mean` over the real steps (absent: every package so far),
   * or `attention` (round 21, development only): weights softmax(h_t · w) over the real steps, w learnt
   * and starting at 0, i.e. at the mean. The ONNX exporter refuses it until a round confirms it.
   */
  pooling?: 'mean' | 'attention';
  /**
   * Round 26 (development only; the exporter refuses it): a convolutional front end over the log-mel
   * bands, recovered exactly from the frames' first `bands` values (all the MFCCs of `bands` mel bands,
   * meyda's unnormalised DCT-II) by a fixed inverse DCT; normalised per utterance (band means off, one
   * overall std), Conv2D 3 × 3 over time × bands with `channels` filters, relu, max-pooled over `pool`
   * bands, and fed to the LSTM beside the CMVN'd frames. Absent: none.
   */
  frontEnd?: { bands: number; channels: number; pool: number };
}

/** Values per frame of the front end's output (0 without one). */
export function frontEndSize(config: LstmConfig): number {
  if (!config.frontEnd) return 0;
  const { bands, channels, pool } = config.frontEnd;
  if (bands % pool !== 0) throw new Error(`front end: ${bands} bands do not pool by ${pool}`);
  return (bands / pool) * channels;
}

/** Width of one LSTM input step: stacked frames of the CMVN'd features and any front-end output. */
export const stepInputSize = (config: LstmConfig): number =>
  (config.dims + frontEndSize(config)) * config.stack;

/**
 * The inverse of meyda's unnormalised DCT-II (`c_k = 2·Σ_n x_n·cos(π/N·(n+½)·k)`, all N coefficients):
 * `x = c · M` with `M[k][n] = w_k/N·cos(π/N·(n+½)·k)`, `w_0 = ½`, else 1. [N × N], row-major.
 */
export function inverseDctMatrix(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let k = 0; k < n; k++)
    for (let i = 0; i < n; i++)
      m[k * n + i] = ((k === 0 ? 0.5 : 1) / n) * Math.cos((Math.PI / n) * (i + 0.5) * k);
  return m;
}

/** Length of the utterance statistics vector: [mean ‖ std (‖ delta RMS) (‖ range ‖ change)], 0 without. */
export const statsSize = (config: LstmConfig): number =>
  config.utteranceStats ? (config.deltaStats ? 3 : 2) * config.dims + 2 * (config.contourStats ?? 0) : 0;

/** Width of the head's input: pooled state ‖ utterance statistics ‖ speaker offset. */
export const headSize = (config: LstmConfig): number =>
  config.units + statsSize(config) + (config.offsetInput ?? 0);

/** The 0/1 mask of `LstmConfig.statsMask` over the statistics vector (undefined: keep all). */
export function statsKeepMask(config: LstmConfig): Float32Array | undefined {
  if (!config.utteranceStats || (config.statsMask ?? 'all') === 'all') return undefined;
  const keep = new Float32Array(statsSize(config)).fill(1);
  const spectral = config.dims - (config.contourStats ?? 0);
  keep.fill(0, 0, spectral); // the first block of the statistics is the per-channel mean
  return keep;
}

/** Least-squares slope of `values[0..n)` against the frame index, times n (the change over the clip). */
function overallChange(values: (f: number) => number, n: number): number {
  if (n < 2) return 0;
  const centre = (n - 1) / 2;
  let num = 0;
  let den = 0;
  for (let f = 0; f < n; f++) {
    num += (f - centre) * values(f);
    den += (f - centre) ** 2;
  }
  return (num / den) * n;
}

export interface LstmWeights {
  config: LstmConfig;
  kernel: Float32Array; // [dims·stack, 4·units]
  recurrent: Float32Array; // [units, 4·units]
  bias: Float32Array; // [4·units]
  dense1: Float32Array; // [units, hidden]
  dense1Bias: Float32Array; // [hidden]
  dense2: Float32Array; // [hidden, labels]
  dense2Bias: Float32Array; // [labels]
  /** With `utteranceStats`: standardisation of the statistics (`statsSize`), fixed from the training set. */
  statsMean?: Float32Array;
  statsStd?: Float32Array;
  /**
   * With `offsetInput`: the scale each offset is divided by (the RMS of the training rows' offsets, about
   * 0 by construction; not centred, so that offset 0 — no context — stays 0 in the head).
   */
  offsetStd?: Float32Array;
  /** With `frontEnd`: the convolution's kernel [3, 3, 1, channels] and bias [channels]. */
  convKernel?: Float32Array;
  convBias?: Float32Array;
}

/** The core's CMVN floor: the in-model CMVN and the exported graph use the same one. */
export { CMVN_STD_FLOOR };

/** Steps the LSTM runs for a row of `frames` real frames. */
export const stackedLength = (frames: number, stack: number): number => Math.ceil(frames / stack);

/** [B, T, 1] with 1 on each row's real frames, and the rows' real frame counts [B, 1, 1]. */
function realFrames(frames: Int32Array, batch: number, time: number) {
  const frameMask = new Float32Array(batch * time);
  for (let b = 0; b < batch; b++) frameMask.fill(1, b * time, b * time + frames[b]!);
  return {
    mask: tf.tensor3d(frameMask, [batch, time, 1]),
    count: tf.tensor3d(Float32Array.from(frames), [batch, 1, 1]),
  };
}

/** In-model CMVN over each row's real frames (the ONNX graph does the same from `lengths`). */
function utteranceNormalise(raw: tf.Tensor3D, frames: Int32Array) {
  const [batch, time] = raw.shape;
  const { mask, count } = realFrames(frames, batch, time);
  const mean = raw.mul(mask).sum(1, true).div(count);
  const centered = raw.sub(mean).mul(mask);
  const std = centered.square().sum(1, true).div(count).sqrt().maximum(CMVN_STD_FLOOR);
  return { features: centered.div(std) as tf.Tensor3D, mask, mean, std };
}

/** RMS of frame-to-frame differences over the real frames (pairs t-1, t with t < frames): [B, 1, dims]. */
function deltaRms(raw: tf.Tensor3D, mask: tf.Tensor3D, frames: Int32Array): tf.Tensor3D {
  const [batch, time, dims] = raw.shape;
  const diff = raw
    .slice([0, 1, 0], [batch, time - 1, dims])
    .sub(raw.slice([0, 0, 0], [batch, time - 1, dims]));
  const pairMask = mask.slice([0, 1, 0], [batch, time - 1, 1]);
  const pairs = tf.tensor3d(
    Float32Array.from(frames, (f) => Math.max(f - 1, 1)),
    [batch, 1, 1],
  );
  return diff.square().mul(pairMask).sum(1, true).div(pairs).sqrt() as tf.Tensor3D;
}

/** Range and overall change of the last `contour` channels (the prosody contours) over the real frames. */
function contourStats(raw: tf.Tensor3D, mask: tf.Tensor3D, frames: Int32Array, contour: number): tf.Tensor[] {
  const [batch, time, dims] = raw.shape;
  const tail = raw.slice([0, 0, dims - contour], [batch, time, contour]);
  const outside = tf.scalar(1).sub(mask).mul(1e9);
  const range = tail.sub(outside).max(1, true).sub(tail.add(outside).min(1, true));
  // Slope × n: Σ (t − t̄)·x / Σ (t − t̄)² · n over the real frames (0 for a single frame).
  const weights = new Float32Array(batch * time);
  const scale = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    const n = frames[b]!;
    const centre = (n - 1) / 2;
    let den = 0;
    for (let t = 0; t < n; t++) den += (t - centre) ** 2;
    for (let t = 0; t < n; t++) weights[b * time + t] = t - centre;
    scale[b] = den > 0 ? n / den : 0;
  }
  const change = tail
    .mul(tf.tensor3d(weights, [batch, time, 1]))
    .sum(1, true)
    .mul(tf.tensor3d(scale, [batch, 1, 1]));
  return [range, change];
}

/**
 * `tf.conv2d(image[..., None], kernel, 1, 'same')` [B, T, F, C] as 9 shifted copies × the kernel
 * [9, C] (the WASM backend has no Conv2D gradient); patch order (dt, df) row-major is the kernel's
 * [3, 3, 1, C] layout (tfjs's; an ONNX `Conv` would take them transposed to [C, 1, 3, 3]).
 */
export function conv3x3Same(image: tf.Tensor3D, kernel: tf.Tensor4D): tf.Tensor4D {
  const [batch, time, bands] = image.shape;
  const channels = kernel.shape[3];
  const padded = image.pad([
    [0, 0],
    [1, 1],
    [1, 1],
  ]);
  const patches: tf.Tensor[] = [];
  for (let dt = 0; dt < 3; dt++)
    for (let df = 0; df < 3; df++) patches.push(padded.slice([0, dt, df], [batch, time, bands]));
  return tf
    .stack(patches, 3)
    .reshape([batch * time * bands, 9])
    .matMul(kernel.reshape([9, channels]))
    .reshape([batch, time, bands, channels]) as tf.Tensor4D;
}

/** mask[t] is [B, 1]: 1 where stacked step t is real for that row. */
function stepMasks(lengths: number[], batch: number): tf.Tensor[] {
  const maxSteps = Math.max(...lengths);
  const maskData = new Float32Array(maxSteps * batch);
  for (let b = 0; b < batch; b++) for (let t = 0; t < lengths[b]!; t++) maskData[t * batch + b] = 1;
  return tf.tidy(() => tf.unstack(tf.tensor3d(maskData, [maxSteps, batch, 1])));
}

export class LstmModel {
  readonly config: LstmConfig;
  readonly variables: tf.Variable[];
  private readonly kernel: tf.Variable;
  private readonly recurrent: tf.Variable;
  private readonly bias: tf.Variable;
  private readonly dense1: tf.Variable;
  private readonly dense1Bias: tf.Variable;
  private readonly dense2: tf.Variable;
  private readonly dense2Bias: tf.Variable;
  /** With `pooling: 'attention'`: the score vector [units, 1]. */
  private readonly attention: tf.Variable | undefined;
  /** With `frontEnd`: the convolution and the fixed inverse DCT [bands, bands]. */
  private readonly conv: { kernel: tf.Variable; bias: tf.Variable; idct: tf.Tensor2D } | undefined;
  private readonly dropoutRng: Rng;
  private statsMean: Float32Array;
  private statsStd: Float32Array;
  private offsetStd: Float32Array;
  /** 0/1 per utterance statistic (see `LstmConfig.statsMask`); undefined when every statistic is used. */
  private readonly statsKeep: Float32Array | undefined;

  constructor(config: LstmConfig, seed: number, weights?: LstmWeights) {
    this.config = config;
    const rng = createRng(seed);
    this.dropoutRng = createRng(seed ^ 0x5bd1e995);
    const { units, hidden, labels } = config;
    const input = stepInputSize(config);
    const recurrentInit = Float32Array.from(
      { length: units * 4 * units },
      () => gaussian(rng) / Math.sqrt(units),
    );
    // Forget-gate bias 1 (Jozefowicz et al.): remembers by default, trains faster.
    const biasInit = new Float32Array(4 * units);
    biasInit.fill(1, units, 2 * units);
    const w: Omit<LstmWeights, 'config'> = weights ?? {
      kernel: glorotUniform(rng, input, 4 * units),
      recurrent: recurrentInit,
      bias: biasInit,
      dense1: glorotUniform(rng, headSize(config), hidden),
      dense1Bias: new Float32Array(hidden),
      dense2: glorotUniform(rng, hidden, labels),
      dense2Bias: new Float32Array(labels),
    };
    this.kernel = tf.variable(tf.tensor2d(w.kernel, [input, 4 * units]), true);
    this.recurrent = tf.variable(tf.tensor2d(w.recurrent, [units, 4 * units]), true);
    this.bias = tf.variable(tf.tensor1d(w.bias), true);
    this.dense1 = tf.variable(tf.tensor2d(w.dense1, [headSize(config), hidden]), true);
    this.statsMean = w.statsMean ?? new Float32Array(statsSize(config));
    this.statsStd = w.statsStd ?? new Float32Array(statsSize(config)).fill(1);
    this.offsetStd = w.offsetStd ?? new Float32Array(config.offsetInput ?? 0).fill(1);
    this.dense1Bias = tf.variable(tf.tensor1d(w.dense1Bias), true);
    this.dense2 = tf.variable(tf.tensor2d(w.dense2, [hidden, labels]), true);
    this.dense2Bias = tf.variable(tf.tensor1d(w.dense2Bias), true);
    this.statsKeep = statsKeepMask(config);
    this.attention = config.pooling === 'attention' ? tf.variable(tf.zeros([units, 1]), true) : undefined;
    this.conv = config.frontEnd ? LstmModel.createConv(config.frontEnd, rng, w) : undefined;
    this.variables = [
      this.kernel,
      this.recurrent,
      this.bias,
      this.dense1,
      this.dense1Bias,
      this.dense2,
      this.dense2Bias,
      ...(this.attention ? [this.attention] : []),
      ...(this.conv ? [this.conv.kernel, this.conv.bias] : []),
    ];
  }

  private static createConv(
    frontEnd: NonNullable<LstmConfig['frontEnd']>,
    rng: Rng,
    w: Partial<LstmWeights>,
  ): NonNullable<LstmModel['conv']> {
    const { bands, channels } = frontEnd;
    // Glorot over a 3 × 3 kernel: fan-in 9 (one input map), fan-out 9 · channels.
    const limit = Math.sqrt(6 / (9 + 9 * channels));
    const kernel = w.convKernel ?? Float32Array.from({ length: 9 * channels }, () => (rng() * 2 - 1) * limit);
    return {
      kernel: tf.variable(tf.tensor4d(kernel, [3, 3, 1, channels]), true),
      bias: tf.variable(tf.tensor1d(w.convBias ?? new Float32Array(channels)), true),
      idct: tf.keep(tf.tensor2d(inverseDctMatrix(bands), [bands, bands])),
    };
  }

  /** The front end's output [B, T, frontEndSize], zero on padded frames (see `LstmConfig.frontEnd`). */
  private frontEndFrames(raw: tf.Tensor3D, frames: Int32Array): tf.Tensor3D {
    const { bands, channels, pool } = this.config.frontEnd!;
    const { kernel, bias, idct } = this.conv!;
    const [batch, time] = raw.shape;
    const { mask, count } = realFrames(frames, batch, time);
    const logMel = raw
      .slice([0, 0, 0], [batch, time, bands])
      .reshape([batch * time, bands])
      .matMul(idct)
      .reshape([batch, time, bands]);
    const centered = logMel.sub(logMel.mul(mask).sum(1, true).div(count)).mul(mask);
    const std = centered.square().sum([1, 2], true).div(count.mul(bands)).sqrt().maximum(CMVN_STD_FLOOR);
    const maps = conv3x3Same(centered.div(std) as tf.Tensor3D, kernel as tf.Tensor4D)
      .add(bias)
      .relu();
    // tf.maxPool, not a max over a reshaped axis: the same values, and its gradient is 2× cheaper here.
    const pooled = tf.maxPool(maps as tf.Tensor4D, [1, pool], [1, pool], 'valid');
    return pooled.reshape([batch, time, (bands / pool) * channels]).mul(mask) as tf.Tensor3D;
  }

  /**
   * Logits [B, labels]. `features` is [B, T, dims] with T a multiple of `stack` (the batch builder pads);
   * `frames` holds each row's real frame count. Only max(steps) steps are run: rows are bucketed by length.
   */
  /** Per-row statistics of the real frames of raw features (for `setStatsNormalisation`). */
  static utteranceStats(
    data: Float32Array,
    frames: number,
    dims: number,
    delta = false,
    contour = 0,
  ): Float32Array {
    const { mean, std } = frameStatistics(data, frames, dims);
    const base = (delta ? 3 : 2) * dims;
    const out = new Float32Array(base + 2 * contour);
    for (let c = 0; c < contour; c++) {
      const d = dims - contour + c;
      let max = -Infinity;
      let min = Infinity;
      for (let f = 0; f < frames; f++) {
        max = Math.max(max, data[f * dims + d]!);
        min = Math.min(min, data[f * dims + d]!);
      }
      out[base + c] = frames > 0 ? max - min : 0;
      out[base + contour + c] = overallChange((f) => data[f * dims + d]!, frames);
    }
    for (let d = 0; d < dims; d++) {
      out[d] = mean[d]!;
      out[dims + d] = Math.max(std[d]!, CMVN_STD_FLOOR);
      if (delta) {
        let squares = 0;
        for (let f = 1; f < frames; f++) squares += (data[f * dims + d]! - data[(f - 1) * dims + d]!) ** 2;
        out[2 * dims + d] = Math.sqrt(squares / Math.max(frames - 1, 1));
      }
    }
    return out;
  }

  /** Fixes the standardisation of the utterance statistics (and of the speaker offsets) from training rows. */
  setStatsNormalisation(rows: Array<{ data: Float32Array; frames: number; offset?: Float32Array }>): void {
    this.setOffsetScale(rows);
    const { dims } = this.config;
    const size = statsSize(this.config);
    const mean = new Float64Array(size);
    const sq = new Float64Array(size);
    for (const r of rows) {
      const s = LstmModel.utteranceStats(
        r.data,
        r.frames,
        dims,
        this.config.deltaStats,
        this.config.contourStats,
      );
      for (let i = 0; i < size; i++) {
        mean[i]! += s[i]! / rows.length;
        sq[i]! += (s[i]! * s[i]!) / rows.length;
      }
    }
    this.statsMean = Float32Array.from(mean);
    this.statsStd = Float32Array.from(mean, (m, i) => Math.max(Math.sqrt(Math.max(sq[i]! - m * m, 0)), 1e-6));
  }

  /** `offsetStd` from the training rows' offsets (rows without one count as offset 0); 1 where all are 0. */
  private setOffsetScale(rows: Array<{ offset?: Float32Array }>): void {
    const size = this.config.offsetInput ?? 0;
    const squares = new Float64Array(size);
    for (const r of rows) for (let i = 0; i < size; i++) squares[i]! += (r.offset?.[i] ?? 0) ** 2;
    this.offsetStd = Float32Array.from(squares, (s) => {
      const rms = Math.sqrt(s / Math.max(rows.length, 1));
      return rms > 1e-6 ? rms : 1;
    });
  }

  /**
   * Per-utterance CMVN of the raw frames and the standardised utterance statistics (mean, std, delta RMS,
   * contour range and change), or the rows unchanged without in-model statistics.
   */
  private normaliseAndMeasure(
    raw: tf.Tensor3D,
    frames: Int32Array,
  ): { features: tf.Tensor3D; stats: tf.Tensor2D | undefined } {
    if (!this.config.utteranceStats) return { features: raw, stats: undefined };
    const { features, mask, mean, std } = utteranceNormalise(raw, frames);
    const parts: tf.Tensor[] = [mean, std];
    if (this.config.deltaStats) parts.push(deltaRms(raw, mask, frames));
    const contour = this.config.contourStats ?? 0;
    if (contour > 0) parts.push(...contourStats(raw, mask, frames, contour));
    let stats = tf
      .concat(parts, 2)
      .reshape([raw.shape[0], statsSize(this.config)])
      .sub(tf.tensor1d(this.statsMean))
      .div(tf.tensor1d(this.statsStd)) as tf.Tensor2D;
    if (this.statsKeep) stats = stats.mul(tf.tensor1d(this.statsKeep)) as tf.Tensor2D;
    return { features, stats };
  }

  /** The LSTM over the stacked real steps, its outputs pooled over each row's real steps (mean or attention): [B, units]. */
  private pooledLstm(features: tf.Tensor3D, frames: Int32Array): tf.Tensor2D {
    const { stack, units } = this.config;
    const [batch, time, dims] = features.shape;
    const steps = time / stack;
    const lengths = Array.from(frames, (f) => stackedLength(f, stack));
    const maxSteps = Math.max(...lengths);
    const masks = stepMasks(lengths, batch);
    const stepped = features
      .reshape([batch, steps, dims * stack])
      .slice([0, 0, 0], [batch, maxSteps, dims * stack]);
    // Input projections for all steps in one matMul: half the per-step work of a per-step cell.
    const projected = stepped
      .reshape([batch * maxSteps, dims * stack])
      .matMul(this.kernel)
      .add(this.bias)
      .reshape([batch, maxSteps, 4 * units]);
    const inputs = tf.unstack(projected, 1);
    let h: tf.Tensor2D = tf.zeros([batch, units]);
    let c: tf.Tensor2D = tf.zeros([batch, units]);
    let sum: tf.Tensor2D = tf.zeros([batch, units]);
    const states: tf.Tensor2D[] = [];
    for (let t = 0; t < maxSteps; t++) {
      const z = inputs[t]!.add(h.matMul(this.recurrent)) as tf.Tensor2D;
      const [i, f, g, o] = tf.split(z, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      c = f.sigmoid().mul(c).add(i.sigmoid().mul(g.tanh()));
      h = o.sigmoid().mul(c.tanh());
      if (this.attention) states.push(h);
      else sum = sum.add(h.mul(masks[t]!));
    }
    if (this.attention) return this.attentionPool(states, masks, this.attention);
    return sum.div(tf.tensor2d(Float32Array.from(lengths), [batch, 1])) as tf.Tensor2D;
  }

  /** Σ_t α_t·h_t with α = softmax(h_t · w) over each row's real steps (padded steps get weight 0). */
  private attentionPool(states: tf.Tensor2D[], masks: tf.Tensor[], w: tf.Variable): tf.Tensor2D {
    const h = tf.stack(states, 1) as tf.Tensor3D; // [B, S, units]
    const [batch, steps, units] = h.shape;
    const real = tf.stack(masks, 1).reshape([batch, steps]); // 1 on real steps
    const scores = h
      .reshape([batch * steps, units])
      .matMul(w)
      .reshape([batch, steps])
      .add(real.sub(1).mul(1e9));
    const alpha = tf.softmax(scores, 1).reshape([batch, steps, 1]);
    return h.mul(alpha).sum(1) as tf.Tensor2D;
  }

  /** Inverted dropout from the model's own seeded rng (so a seed gives the same masks every run). */
  private dropOut(x: tf.Tensor2D, rate: number): tf.Tensor2D {
    const keep = Float32Array.from({ length: x.size }, () => (this.dropoutRng() < rate ? 0 : 1 / (1 - rate)));
    return x.mul(tf.tensor2d(keep, x.shape));
  }

  /**
   * Logits [B, labels]. `features` is [B, T, dims] with T a multiple of `stack` (the batch builder pads);
   * `frames` holds each row's real frame count. Only max(steps) steps are run: rows are bucketed by length.
   */
  logits(raw: tf.Tensor3D, frames: Int32Array, pass: LogitsPass): tf.Tensor2D {
    const { training, offsets, mix, onHidden } = pass;
    const { dropout } = this.config;
    const { features, stats } = this.normaliseAndMeasure(raw, frames);
    const stepFeatures = this.conv
      ? (tf.concat([features, this.frontEndFrames(raw, frames)], 2) as tf.Tensor3D)
      : features;
    let pooled = this.pooledLstm(stepFeatures, frames);
    const stateDropout = this.config.stateDropout ?? 0;
    if (training && stateDropout > 0) pooled = this.dropOut(pooled, stateDropout);
    if (stats) pooled = tf.concat([pooled, stats], 1);
    const offsetSize = this.config.offsetInput ?? 0;
    if (offsetSize > 0) {
      const batch = raw.shape[0];
      const given = offsets ? tf.tensor2d(offsets, [batch, offsetSize]) : tf.zeros([batch, offsetSize]);
      pooled = tf.concat([pooled, given.div(tf.tensor1d(this.offsetStd)) as tf.Tensor2D], 1);
    }
    // Mixup at the head's input (pooled state, statistics and any speaker offset), not the padded frames.
    if (training && mix) pooled = mixRows(pooled, mix);
    let hidden = pooled.matMul(this.dense1).add(this.dense1Bias).relu() as tf.Tensor2D;
    if (training) onHidden?.(hidden);
    if (training && dropout > 0) hidden = this.dropOut(hidden, dropout);
    return hidden.matMul(this.dense2).add(this.dense2Bias) as tf.Tensor2D;
  }

  predict(features: tf.Tensor3D, frames: Int32Array, offsets?: Float32Array): tf.Tensor2D {
    return tf.tidy(() => tf.softmax(this.logits(features, frames, { training: false, offsets })));
  }

  weights(): LstmWeights {
    const read = (v: tf.Variable) => Float32Array.from(v.dataSync() as Float32Array);
    return {
      config: this.config,
      kernel: read(this.kernel),
      recurrent: read(this.recurrent),
      bias: read(this.bias),
      dense1: this.exportedDense1(read(this.dense1)),
      dense1Bias: read(this.dense1Bias),
      dense2: read(this.dense2),
      dense2Bias: read(this.dense2Bias),
      ...(this.config.utteranceStats
        ? { statsMean: this.statsMean.slice(), statsStd: this.statsStd.slice() }
        : {}),
      ...(this.config.offsetInput ? { offsetStd: this.offsetStd.slice() } : {}),
      ...(this.conv ? { convKernel: read(this.conv.kernel), convBias: read(this.conv.bias) } : {}),
    };
  }

  /** Dense-1 weights with the rows of masked statistics zeroed: the same function without the mask. */
  private exportedDense1(dense1: Float32Array): Float32Array {
    if (!this.statsKeep) return dense1;
    const { units, hidden } = this.config;
    this.statsKeep.forEach((keep, i) => {
      if (keep === 0) dense1.fill(0, (units + i) * hidden, (units + i + 1) * hidden);
    });
    return dense1;
  }

  setWeights(weights: LstmWeights): void {
    this.kernel.assign(tf.tensor(weights.kernel, this.kernel.shape));
    this.recurrent.assign(tf.tensor(weights.recurrent, this.recurrent.shape));
    this.bias.assign(tf.tensor(weights.bias, this.bias.shape));
    this.dense1.assign(tf.tensor(weights.dense1, this.dense1.shape));
    this.dense1Bias.assign(tf.tensor(weights.dense1Bias, this.dense1Bias.shape));
    this.dense2.assign(tf.tensor(weights.dense2, this.dense2.shape));
    this.dense2Bias.assign(tf.tensor(weights.dense2Bias, this.dense2Bias.shape));
    if (weights.statsMean) this.statsMean = weights.statsMean.slice();
    if (weights.statsStd) this.statsStd = weights.statsStd.slice();
    if (weights.offsetStd) this.offsetStd = weights.offsetStd.slice();
    if (this.conv) {
      if (!weights.convKernel || !weights.convBias)
        throw new Error('weights without the front end the model has');
      this.conv.kernel.assign(tf.tensor(weights.convKernel, this.conv.kernel.shape));
      this.conv.bias.assign(tf.tensor(weights.convBias, this.conv.bias.shape));
    }
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.conv?.idct.dispose();
  }
}
