/**
 * Per-frame prosody: pitch, voicing and level, aligned with the MFCC frames.
 *
 * MFCCs describe the spectral envelope; how high, how varied and how loud the voice is (what listeners
 * use to tell angry from sad in a voice they never heard) is mostly lost in them. On held-out RAVDESS
 * actors, a linear classifier on per-clip MFCC statistics scored 0.36 (7 classes); with pitch and level
 * statistics added, 0.46 (see "How the recipe was chosen" in models/ser-lstm/REPORT.md).
 *
 * Channels, per MFCC frame f (centred on the same samples):
 * - `pitch`: F0 in semitones relative to 100 Hz; unvoiced frames hold the last voiced value (the first
 *   voiced value before any), 0 if the clip has no voiced frame at all;
 * - `voicing`: YIN periodicity, 1 − d′(τ) at the chosen lag (0…1; near 1 for clean voiced speech);
 * - `level`: frame energy in dB relative to full scale, floored at −80 dB.
 *
 * Pitch is YIN (de Cheveigné & Kawahara 2002) on a 900 Hz low-passed copy decimated to ~4 kHz: the
 * low-pass removes formants that cause octave errors, and decimation makes it 16× cheaper than at 16 kHz.
 */

import { sumOfSquares } from '../audio/sums.ts';
import { yinKernel } from './yin-kernel.ts';

export const PROSODY_CHANNELS = 3;
export const PITCH_MIN_HZ = 60;
export const PITCH_MAX_HZ = 500;
/** YIN's absolute threshold on the cumulative-mean-normalised difference. */
const YIN_THRESHOLD = 0.15;
const LEVEL_FLOOR_DB = -80;
/** Frames this far below the loudest frame are silence: not searched for pitch. */
const SILENCE_BELOW_PEAK_DB = 50;
const LOWPASS_HZ = 900;

export interface ProsodyTrack {
  frames: number;
  /** Semitones re 100 Hz (held through unvoiced frames). */
  pitch: Float32Array;
  voicing: Float32Array;
  /** dBFS of each frame. */
  level: Float32Array;
  /** Whether YIN found a period in the frame. */
  voiced: Uint8Array;
}

/**
 * Buffers an extractor reuses from clip to clip (they grow to the longest clip seen), so that a clip
 * does not allocate — and later collect — a few hundred KB of intermediate signals. Views into them never
 * leave one `extractProsody` call. The predictor extracts one analysis window at a time (at most the
 * model's `windowSec`), so there they stay a window's size whatever the upload's length.
 */
export interface ProsodyScratch {
  x: Float64Array;
  energy: Float64Array;
}

export const createProsodyScratch = (): ProsodyScratch => ({
  x: new Float64Array(0),
  energy: new Float64Array(0),
});

/** `buffer` if it holds `length` values, else a new one with room to spare (a reused buffer's growth). */
export function atLeast<T extends Float32Array | Float64Array>(
  buffer: T,
  length: number,
  create: (n: number) => T,
): T {
  return buffer.length >= length ? buffer : create(Math.max(length, Math.ceil(buffer.length * 1.5)));
}

/** Each frame's energy in dB relative to full scale (`fullPower` = full scale squared), floored. */
function frameLevels(
  signal: Float32Array,
  frameSize: number,
  hopSize: number,
  frames: number,
  fullPower: number,
): Float32Array {
  const level = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    const start = f * hopSize;
    const end = Math.min(signal.length, start + frameSize);
    const power = end > start ? sumOfSquares(signal, start, end) / frameSize / fullPower : 0;
    level[f] = Math.max(LEVEL_FLOOR_DB, 10 * Math.log10(power + 1e-12));
  }
  return level;
}

/** The low-passed copy decimated to ~4 kHz that YIN searches, with its running energy. */
export interface PitchInput {
  x: Float64Array;
  /** energy[i] = Σ x[j]² for j < i: the energy of any window in O(1). */
  energy: Float64Array;
  factor: number;
  rate: number;
}

/**
 * The pitch input of `signal`: two cascaded RBJ biquad low-passes (Q = 1/√2, 24 dB/octave above
 * LOWPASS_HZ), every `factor`-th output kept, with its running energy. With `scratch`, the arrays are
 * views into (and grow) its buffers.
 */
export function pitchInput(signal: Float32Array, sampleRate: number, scratch?: ProsodyScratch): PitchInput {
  const factor = Math.max(1, Math.round(sampleRate / 4000));
  const length = Math.floor(signal.length / factor);
  if (scratch) {
    scratch.x = atLeast(scratch.x, length, (n) => new Float64Array(n));
    scratch.energy = atLeast(scratch.energy, length + 1, (n) => new Float64Array(n));
  }
  const x = scratch ? scratch.x.subarray(0, length) : new Float64Array(length);
  const energy = scratch ? scratch.energy.subarray(0, length + 1) : new Float64Array(length + 1);
  lowPassDecimated(signal, lowPassCoefficients(sampleRate, LOWPASS_HZ), factor, x, energy);
  return { x, energy, factor, rate: sampleRate / factor };
}

/**
 * Fills `x` with every `factor`-th output of the two low-pass stages and `energy` with its running sum
 * of squares. Both stages run in one loop, the second reading the first's output rounded to float32 (as
 * when a Float32Array held it between them): the same values as two passes, but the two recursions, each
 * bound by its own latency, overlap in the CPU, and the filtered signal is never stored. A function of
 * its own, with nothing after the loop: V8 compiles the loop on the first clip while it runs (OSR), and
 * code after a loop that had never run then deoptimised on every clip.
 */
function lowPassDecimated(
  signal: Float32Array,
  { b0, b1, a1, a2 }: BiquadCoefficients,
  factor: number,
  x: Float64Array,
  energy: Float64Array,
): void {
  // Each stage's state (s: input, y: output; u, z: the second stage's). Separate lets: one destructured
  // declaration made this loop twice as slow.
  let s1 = 0;
  let s2 = 0;
  let y1 = 0;
  let y2 = 0;
  let u1 = 0;
  let u2 = 0;
  let z1 = 0;
  let z2 = 0;
  let sum = 0;
  let keep = 0;
  energy[0] = 0;
  for (let i = 0, j = 0; j < x.length; i++) {
    const s = signal[i]!;
    const y = b0 * s + b1 * s1 + b0 * s2 - a1 * y1 - a2 * y2;
    s2 = s1;
    s1 = s;
    y2 = y1;
    y1 = y;
    const u = Math.fround(y);
    const z = b0 * u + b1 * u1 + b0 * u2 - a1 * z1 - a2 * z2;
    u2 = u1;
    u1 = u;
    z2 = z1;
    z1 = z;
    if (i === keep) {
      keep += factor;
      const kept = Math.fround(z);
      x[j] = kept;
      sum += kept * kept;
      energy[++j] = sum;
    }
  }
}

interface BiquadCoefficients {
  b0: number;
  b1: number;
  a1: number;
  a2: number;
}

/** An RBJ-cookbook biquad low-pass at `cutoff` with Q = 1/√2, normalised by a0 (b2 = b0). */
function lowPassCoefficients(sampleRate: number, cutoff: number): BiquadCoefficients {
  const w = (2 * Math.PI * cutoff) / sampleRate;
  const alpha = Math.sin(w) / Math.SQRT2;
  const cos = Math.cos(w);
  const a0 = 1 + alpha;
  return { b0: (1 - cos) / 2 / a0, b1: (1 - cos) / a0, a1: (-2 * cos) / a0, a2: (1 - alpha) / a0 };
}

/** YIN's lag range and analysis window at the decimated rate, with the buffer its search fills. */
export interface YinSearch {
  window: number;
  minLag: number;
  maxLag: number;
  span: number;
  cmnd: Float64Array;
}

export function yinSearch(rate: number): YinSearch {
  const window = Math.round(0.025 * rate);
  const minLag = Math.floor(rate / PITCH_MAX_HZ);
  const maxLag = Math.ceil(rate / PITCH_MIN_HZ);
  return { window, minLag, maxLag, span: window + maxLag, cmnd: new Float64Array(maxLag + 1) };
}

/**
 * YIN on the window of `input.x` from `start`: the cumulative-mean-normalised difference d′(τ) lag by lag
 * until the first dip below the threshold (walked down to its bottom), then the period parabolically
 * refined — or -1 with the lowest d′ seen. d′ is computed as the search reads it, so a voiced frame stops
 * just past its dip instead of at `maxLag`. The search runs in WebAssembly (yin.wat, two float64 lanes
 * per cross-correlation step) with the same operations in the same order as the JavaScript it replaced,
 * so it gives the same values to the last bit (test/prosody.test.ts holds it to the full search;
 * yin-kernel.ts holds the module);
 * `search.cmnd` receives the d′ values read.
 */
export function yinPeriod(
  input: PitchInput,
  start: number,
  search: YinSearch,
): { period: number; cmnd: number } {
  const { minLag, maxLag, cmnd } = search;
  const kernel = yinKernel();
  kernel.load(input, cmnd.length);
  const { best, lowest } = kernel.search(start, search.window, minLag, maxLag, YIN_THRESHOLD);
  const read = Math.min(maxLag, best < 0 ? maxLag : best + 1) + 1;
  cmnd.set(kernel.cmnd.subarray(0, read));
  if (best < 0) return { period: -1, cmnd: lowest };
  return refine(cmnd, best, minLag, maxLag);
}

/** The dip at `best`, refined by a parabola through its neighbours (when both are in range). */
function refine(cmnd: Float64Array, best: number, minLag: number, maxLag: number) {
  let period = best;
  if (best > minLag && best < maxLag) {
    const a = cmnd[best - 1]!;
    const b = cmnd[best]!;
    const c = cmnd[best + 1]!;
    const curvature = a - 2 * b + c;
    if (curvature > 0) period = best + (0.5 * (a - c)) / curvature;
  }
  return { period, cmnd: cmnd[best]! };
}

/** Holds pitch through unvoiced frames (the first voiced value before any), so its statistics describe voice. */
function holdPitch(pitch: Float32Array, voiced: Uint8Array): void {
  let held = Number.NaN;
  for (let f = 0; f < pitch.length; f++) {
    if (voiced[f]) {
      held = pitch[f]!;
      break;
    }
  }
  if (Number.isNaN(held)) held = 0;
  for (let f = 0; f < pitch.length; f++) {
    if (voiced[f]) held = pitch[f]!;
    else pitch[f] = held;
  }
}

/**
 * Prosody of `signal` (any amplitude scale; `fullScale` is the value of a full-scale sample) for the
 * `frames` frames of `frameSize` samples every `hopSize` samples that the feature extractor cuts:
 * levels → the ~4 kHz pitch input → YIN per non-silent frame → pitch held through unvoiced frames.
 */
export function extractProsody(
  signal: Float32Array,
  sampleRate: number,
  frameSize: number,
  hopSize: number,
  frames: number,
  fullScale = 1,
  scratch?: ProsodyScratch,
): ProsodyTrack {
  const pitch = new Float32Array(frames);
  const voicing = new Float32Array(frames);
  const voiced = new Uint8Array(frames);
  const level = frameLevels(signal, frameSize, hopSize, frames, fullScale * fullScale);
  let peakDb = LEVEL_FLOOR_DB;
  for (let f = 0; f < frames; f++) peakDb = Math.max(peakDb, level[f]!);

  const input = pitchInput(signal, sampleRate, scratch);
  const search = yinSearch(input.rate);
  const { x, energy, factor, rate } = input;
  for (let f = 0; f < frames; f++) {
    if (level[f]! < peakDb - SILENCE_BELOW_PEAK_DB || x.length < search.span) continue;
    const centre = (f * hopSize + frameSize / 2) / factor;
    const start = Math.max(0, Math.min(x.length - search.span, Math.round(centre - search.span / 2)));
    if (energy[start + search.window]! - energy[start]! <= 0) continue;
    const found = yinPeriod(input, start, search);
    voicing[f] = Math.max(0, 1 - found.cmnd);
    if (found.period < 0) continue;
    voiced[f] = 1;
    pitch[f] = 12 * Math.log2(rate / found.period / 100);
  }
  holdPitch(pitch, voiced);
  return { frames, pitch, voicing, level, voiced };
}
