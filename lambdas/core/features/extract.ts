import { createMelFilterBank } from 'meyda/dist/node/utilities.js';
import { blackman, hamming, hanning, sine } from 'meyda/dist/node/windowing.js';
import { type FeatureConfig, featureDimension, spectralDimension } from './config.ts';
import { scaleForExtraction } from './loudness.ts';
import { atLeast, createProsodyScratch, extractProsody, type ProsodyScratch } from './prosody.ts';
import { SpectralKernel } from './spectral-kernel.ts';

/** Frames × dims, row-major: `data[frame * dims + d]`. */
export interface FeatureMatrix {
  frames: number;
  dims: number;
  data: Float32Array;
}

export interface FeatureExtractor {
  readonly config: FeatureConfig;
  readonly dims: number;
  /** Features of mono samples in [-1, 1] at `config.sampleRate` (loudness-normalised here; no CMVN). */
  extract(samples: Float32Array): FeatureMatrix;
}

/** Number of whole frames meyda's `frame()` cuts; inputs shorter than one frame are zero-padded to one. */
export const frameCount = (samples: number, frameSize: number, hopSize: number): number =>
  samples <= frameSize ? 1 : 1 + Math.floor((samples - frameSize) / hopSize);

const WINDOWS = { hanning, hamming, blackman, sine } as const;

/**
 * Meyda's triangular mel filters reduced to their non-zero bins and packed into flat typed arrays, so a
 * frame costs ~2 multiplications per FFT bin: filter m covers bins `first[m]…first[m] + count[m] - 1`
 * with weights `weights[offset[m]…]`.
 */
interface PackedFilterBank {
  size: number;
  first: Int32Array;
  count: Int32Array;
  offset: Int32Array;
  weights: Float32Array;
}

function packedMelFilterBank(config: FeatureConfig): PackedFilterBank {
  // Meyda sizes its bank by max(melBands, coefficients); the schema guarantees melBands >= coefficients.
  const bank = createMelFilterBank(config.melBands, config.sampleRate, config.frameSize);
  const usableBins = config.frameSize / 2; // meyda drops the Nyquist bin
  const first = new Int32Array(bank.length);
  const count = new Int32Array(bank.length);
  const offset = new Int32Array(bank.length);
  const packed: number[] = [];
  bank.forEach((row, m) => {
    let start = 0;
    while (start < usableBins && row[start] === 0) start++;
    let end = usableBins;
    while (end > start && row[end - 1] === 0) end--;
    first[m] = start;
    count[m] = end - start;
    offset[m] = packed.length;
    packed.push(...row.slice(start, end));
  });
  // Meyda multiplies in float32 (Float32Array × Float32Array): keep the weights in float32 too.
  return { size: bank.length, first, count, offset, weights: Float32Array.from(packed) };
}

/**
 * Meyda's DCT-II, `X[k] = 2·Σ x[n]·cos(π/N·(n+½)·k)`, unnormalised, first `coefficients` terms. Since
 * cos(π/N·(N-1-n+½)·k) = (-1)^k·cos(π/N·(n+½)·k), even k only need x[n] + x[N-1-n] and odd k only
 * x[n] - x[N-1-n]: half the multiplications. Rows hold the N/2 (or ⌈N/2⌉) folded weights.
 */
export function foldedDct(size: number, coefficients: number): { half: number; matrix: Float64Array } {
  const half = Math.ceil(size / 2);
  const matrix = new Float64Array(coefficients * half);
  for (let k = 0; k < coefficients; k++) {
    for (let n = 0; n < half; n++) {
      const middle = size % 2 === 1 && n === half - 1; // odd N: the middle term is not paired
      const weight = 2 * Math.cos((Math.PI / size) * (n + 0.5) * k);
      matrix[k * half + n] = middle && k % 2 === 1 ? 0 : weight;
    }
  }
  return { half, matrix };
}

/** What one extractor plans once and reuses for every frame: spectral kernel, filter bank, DCT. */
interface FramePlan {
  /** Spectrum bins kept per frame (the Nyquist bin is dropped, as meyda does). */
  bins: number;
  /** Window, FFT and power, and the DCT, of a block of frames at a time (spectral.wat). */
  kernel: SpectralKernel;
  bank: PackedFilterBank;
  /** What a frame's spectral values are: MFCCs (through the kernel's DCT) or the log-mel bands. */
  kind: FeatureConfig['kind'];
  /** MFCCs or log-mel bands written per frame. */
  spectralDims: number;
  /** The loudness-scaled signal and the pitch input's buffers, reused from clip to clip. */
  scratch: { scaled: Float32Array; prosody: ProsodyScratch };
}

function planFrames(config: FeatureConfig): FramePlan {
  const { frameSize, hopSize } = config;
  const bank = packedMelFilterBank(config);
  const window =
    config.window === 'rect' ? new Float32Array(frameSize).fill(1) : WINDOWS[config.window](frameSize);
  const dct =
    config.kind === 'mfcc'
      ? {
          ...foldedDct(bank.size, config.mfccCoefficients),
          bands: bank.size,
          coefficients: config.mfccCoefficients,
          stride: featureDimension(config),
        }
      : undefined;
  return {
    bins: frameSize / 2,
    kernel: new SpectralKernel({ size: frameSize, hop: hopSize, window, dct }),
    bank,
    kind: config.kind,
    spectralDims: spectralDimension(config),
    scratch: { scaled: new Float32Array(0), prosody: createProsodyScratch() },
  };
}

/** The loudness-scaled signal in the plan's reused buffer (grown when a clip is longer than any before). */
function scaledSignal(plan: FramePlan, samples: Float32Array, config: FeatureConfig): Float32Array {
  plan.scratch.scaled = atLeast(plan.scratch.scaled, samples.length, (n) => new Float32Array(n));
  return scaleForExtraction(samples, config, plan.scratch.scaled);
}

const fround = Math.fround;

/**
 * The power spectrum of a block's frame (`plan.kernel.power` from `from`) through the mel filters →
 * `logMel[to…]`, `ln(energy + 1)`, float32 sums as meyda's.
 */
function logMelEnergies(plan: FramePlan, from: number, logMel: Float64Array, to: number): void {
  const { power } = plan.kernel;
  const { size, first, count, offset, weights } = plan.bank;
  for (let m = 0; m < size; m++) {
    const bin = from + first[m]! - offset[m]!;
    let sum = 0;
    for (let j = offset[m]!, end = j + count[m]!; j < end; j++)
      sum = fround(sum + fround(weights[j]! * power[bin + j]!));
    logMel[to + m] = fround(Math.log(sum + 1));
  }
}

/** A block's log-mel bands (ln has no WebAssembly instruction), then its MFCCs (kernel) into the matrix. */
function mfccBlock(plan: FramePlan, count: number, matrix: FeatureMatrix, first: number): void {
  const { kernel, bins } = plan;
  const bands = plan.bank.size;
  for (let f = 0; f < count; f++) logMelEnergies(plan, f * bins, kernel.logMel, f * bands);
  kernel.dct(count);
  // Whole rows of the matrix's width: the prosody columns copied here are 0 and written afterwards.
  matrix.data.set(kernel.mfcc.subarray(0, count * matrix.dims), first * matrix.dims);
}

/** A block's log-mel bands, written as the frames' values. */
function logMelBlock(plan: FramePlan, count: number, matrix: FeatureMatrix, first: number): void {
  const { dims, data } = matrix;
  const logMel = new Float64Array(plan.bank.size);
  for (let f = 0; f < count; f++) {
    logMelEnergies(plan, f * plan.bins, logMel, 0);
    for (let m = 0; m < plan.spectralDims; m++) data[(first + f) * dims + m] = logMel[m]!;
  }
}

/** Every frame's spectral values, a block of frames per kernel call. */
function spectralFrames(plan: FramePlan, signal: Float32Array, hopSize: number, matrix: FeatureMatrix): void {
  const { block } = plan.kernel;
  for (let first = 0; first < matrix.frames; first += block) {
    const count = Math.min(block, matrix.frames - first);
    plan.kernel.spectra(signal, first * hopSize, count);
    if (plan.kind === 'mfcc') mfccBlock(plan, count, matrix, first);
    else logMelBlock(plan, count, matrix, first);
  }
}

/** Writes the prosody track (pitch, voicing, level) after the spectral values of every frame. */
function appendProsody(signal: Float32Array, config: FeatureConfig, matrix: FeatureMatrix, plan: FramePlan) {
  const { frames, dims, data } = matrix;
  const { sampleRate, frameSize, hopSize, sampleScale } = config;
  const spectralDims = plan.spectralDims;
  const track = extractProsody(
    signal,
    sampleRate,
    frameSize,
    hopSize,
    frames,
    sampleScale,
    plan.scratch.prosody,
  );
  for (let f = 0; f < frames; f++) {
    data[f * dims + spectralDims] = track.pitch[f]!;
    data[f * dims + spectralDims + 1] = track.voicing[f]!;
    data[f * dims + spectralDims + 2] = track.level[f]!;
  }
}

/**
 * A fast extractor of exactly meyda 5.6's `melBands`/`mfcc` (see config.ts for the definition).
 * Meyda's own per-frame `extract` allocates arrays and objects for every frame (25–50 ms for a 3 s clip);
 * this one plans once — window, sparse filter bank, DCT matrix, FFT tables — and reuses its buffers (the
 * scaled signal and the pitch input's too: one extractor serves one thread, one clip at a time); the
 * window, fft.js's transform, the power and the DCT run in WebAssembly (spectral-kernel.ts), the same
 * values bit for bit.
 * It rounds to float32 at the same points meyda does (spectrum, power, filter products, the running mel
 * sum, the log), so its output matches meyda's to ~1e-5 (tested against meyda on real clips).
 */
export function createFeatureExtractor(config: FeatureConfig): FeatureExtractor {
  const { frameSize, hopSize } = config;
  const dims = featureDimension(config);
  const plan = planFrames(config);
  return {
    config,
    dims,
    extract(samples: Float32Array): FeatureMatrix {
      const signal = scaledSignal(plan, samples, config);
      const frames = frameCount(signal.length, frameSize, hopSize);
      const matrix = { frames, dims, data: new Float32Array(frames * dims) };
      spectralFrames(plan, signal, hopSize, matrix);
      if (config.prosody) appendProsody(signal, config, matrix, plan);
      return matrix;
    },
  };
}

/** Smallest standard deviation CMVN divides by: keeps constant dimensions (e.g. silence) at 0, not NaN. */
export const CMVN_STD_FLOOR = 1e-3;

/**
 * Each dimension's mean and (population) standard deviation over the first `frames` frames of row-major
 * `data` (frames × dims). The one definition behind CMVN, the model's utterance statistics and the MLP's
 * pooled features.
 */
export function frameStatistics(
  data: Float32Array,
  frames: number,
  dims: number,
): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(dims);
  const std = new Float64Array(dims);
  if (frames <= 0) return { mean, std };
  for (let d = 0; d < dims; d++) {
    let sum = 0;
    for (let f = 0; f < frames; f++) sum += data[f * dims + d]!;
    const m = sum / frames;
    let squares = 0;
    for (let f = 0; f < frames; f++) {
      const x = data[f * dims + d]! - m;
      squares += x * x;
    }
    mean[d] = m;
    std[d] = Math.sqrt(squares / frames);
  }
  return { mean, std };
}

/**
 * Per-utterance cepstral mean and variance normalisation over the first `validFrames` frames (default: all),
 * in place: each dimension gets mean 0 and standard deviation 1. Frames past `validFrames` are set to 0
 * (padding). It removes a constant channel/speaker offset from each coefficient.
 */
export function normalizeUtterance(matrix: FeatureMatrix, validFrames = matrix.frames): FeatureMatrix {
  const { dims, data } = matrix;
  const n = Math.min(validFrames, matrix.frames);
  const { mean, std } = frameStatistics(data, n, dims);
  for (let d = 0; d < dims; d++) {
    const scale = 1 / Math.max(std[d]!, CMVN_STD_FLOOR);
    for (let f = 0; f < n; f++) data[f * dims + d] = (data[f * dims + d]! - mean[d]!) * scale;
  }
  data.fill(0, n * dims);
  return matrix;
}
