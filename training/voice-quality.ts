/**
 * Voice-quality descriptors of one trimmed clip, for round 34's probe (models/ser-lstm/ROUND34.md): does
 * what eGeMAPS-style features describe — how breathy, rough, tense or dark a voice is — add anything on
 * unseen voices to the statistics the model already computes? Candidates only: inference does not use
 * them, so they live in training until a probe and a round say otherwise.
 *
 * Everything is measured over the frames the core's YIN calls voiced (prosody.ts), on the extractor's
 * own frames (`frameSize` every `hopSize`), so a descriptor describes voice and not pauses.
 */
import type { FeatureConfig } from '../lambdas/core/features/config.ts';
import { createFeatureExtractor, frameCount } from '../lambdas/core/features/extract.ts';
import { extractProsody } from '../lambdas/core/features/prosody.ts';

export const VOICE_QUALITY_NAMES = [
  'hnr mean',
  'hnr std',
  'jitter',
  'shimmer',
  'shimmer dB',
  'alpha ratio mean',
  'alpha ratio std',
  'hammarberg mean',
  'hammarberg std',
  'slope 0-500 mean',
  'slope 0-500 std',
  'slope 500-1500 mean',
  'slope 500-1500 std',
  'F1 mean',
  'F1 std',
  'F2 mean',
  'F2 std',
  'F3 mean',
  'F3 std',
] as const;

const LPC_ORDER = 16;
const DB_FLOOR = 1e-10;

/** mean and population std of the finite values (0, 0 when none). */
function meanStd(values: number[]): [number, number] {
  const kept = values.filter(Number.isFinite);
  if (kept.length === 0) return [0, 0];
  const mean = kept.reduce((a, b) => a + b, 0) / kept.length;
  const variance = kept.reduce((a, b) => a + (b - mean) ** 2, 0) / kept.length;
  return [mean, Math.sqrt(variance)];
}

/** Normalised autocorrelation at lag `lag` over `[start, start + length)`. */
function correlationAt(x: Float32Array, start: number, length: number, lag: number): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let n = start; n < start + length && n + lag < x.length; n++) {
    const a = x[n]!;
    const b = x[n + lag]!;
    xy += a * b;
    xx += a * a;
    yy += b * b;
  }
  return xx > 0 && yy > 0 ? xy / Math.sqrt(xx * yy) : 0;
}

/** HNR (dB) of one voiced frame: the best normalised autocorrelation within ±2 samples of the period. */
function frameHnr(x: Float32Array, start: number, length: number, period: number): number {
  let best = 0;
  for (let lag = Math.max(2, Math.round(period) - 2); lag <= Math.round(period) + 2; lag++)
    best = Math.max(best, correlationAt(x, start, length, lag));
  const r = Math.min(0.999, Math.max(0.001, best));
  return 10 * Math.log10(r / (1 - r));
}

/** Sub-sample position and height of the largest `sign · x` in `[from, to)` (parabolic refinement). */
function peakIn(x: Float32Array, from: number, to: number, sign: number): { at: number; height: number } {
  let best = Math.max(0, from);
  for (let n = best; n < Math.min(to, x.length); n++) if (sign * x[n]! > sign * x[best]!) best = n;
  const a = sign * (x[best - 1] ?? x[best]!);
  const b = sign * x[best]!;
  const c = sign * (x[best + 1] ?? x[best]!);
  const curvature = a - 2 * b + c;
  // Only a true local maximum is refined, and never by more than half a sample (a peak at the range's
  // edge, with a larger neighbour outside it, stays where it is).
  const shift =
    curvature < 0 && b >= a && b >= c ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / curvature)) : 0;
  return { at: best + shift, height: b - 0.25 * (a - c) * shift };
}

/**
 * Glottal pulses of one voiced run `[start, end)` with its local period (samples) per sample: the largest
 * peak of the first period, then each next peak 0.8–1.2 periods after the last (the polarity of the first).
 */
function pulses(x: Float32Array, start: number, end: number, periodAt: (n: number) => number) {
  const first = peakIn(x, start, start + Math.ceil(periodAt(start)), 1);
  const low = peakIn(x, start, start + Math.ceil(periodAt(start)), -1);
  const sign = first.height >= low.height ? 1 : -1;
  const found = [sign === 1 ? first : low];
  for (;;) {
    const last = found[found.length - 1]!;
    const period = periodAt(Math.round(last.at));
    const from = Math.ceil(last.at + 0.8 * period);
    const to = Math.floor(last.at + 1.2 * period) + 1;
    if (!(to < end)) break;
    found.push(peakIn(x, from, to, sign));
  }
  return found;
}

/** Local jitter, local shimmer and shimmer in dB over consecutive pulse pairs of every voiced run. */
function perturbation(runs: Array<Array<{ at: number; height: number }>>): [number, number, number] {
  const periodDiffs: number[] = [];
  const periods: number[] = [];
  const ampDiffs: number[] = [];
  const amps: number[] = [];
  const ampDb: number[] = [];
  for (const run of runs) {
    for (let i = 2; i < run.length; i++) {
      const p1 = run[i - 1]!.at - run[i - 2]!.at;
      const p2 = run[i]!.at - run[i - 1]!.at;
      if (p2 / p1 > 1.3 || p1 / p2 > 1.3) continue; // Praat's period factor: not one voice's cycle
      periodDiffs.push(Math.abs(p2 - p1));
      periods.push(p2);
    }
    for (let i = 1; i < run.length; i++) {
      const a1 = run[i - 1]!.height;
      const a2 = run[i]!.height;
      if (a1 <= 0 || a2 <= 0) continue;
      ampDiffs.push(Math.abs(a2 - a1));
      amps.push(a2);
      ampDb.push(Math.abs(20 * Math.log10(a2 / a1)));
    }
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  const jitter = mean(periods) > 0 ? mean(periodDiffs) / mean(periods) : 0;
  const shimmer = mean(amps) > 0 ? mean(ampDiffs) / mean(amps) : 0;
  return [jitter, shimmer, mean(ampDb)];
}

/** Centre frequency (Hz) of each HTK mel band of the extractor's filter bank (config.ts's definition). */
export function melCentres(config: FeatureConfig): number[] {
  const mel = (f: number) => 1125 * Math.log(1 + f / 700);
  const hz = (m: number) => 700 * (Math.exp(m / 1125) - 1);
  const top = mel(config.sampleRate / 2);
  return Array.from({ length: config.melBands }, (_, b) => hz((top * (b + 1)) / (config.melBands + 1)));
}

/** Least-squares slope of `y` against `x` (dB per kHz when x is in kHz). */
function slope(x: number[], y: number[]): number {
  const mx = x.reduce((a, b) => a + b, 0) / x.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : 0;
}

/** Alpha ratio, Hammarberg index and the two spectral slopes of one frame's mel band energies. */
function spectralShape(energy: number[], centres: number[]): [number, number, number, number] {
  const db = energy.map((e) => 10 * Math.log10(Math.max(e, DB_FLOOR)));
  const sum = (lo: number, hi: number) =>
    energy.reduce((a, e, b) => (centres[b]! >= lo && centres[b]! < hi ? a + e : a), 0);
  const max = (lo: number, hi: number) =>
    energy.reduce((a, e, b) => (centres[b]! >= lo && centres[b]! < hi ? Math.max(a, e) : a), 0);
  const within = (lo: number, hi: number) => centres.flatMap((c, b) => (c >= lo && c <= hi ? [b] : []));
  const low = within(0, 500);
  const mid = within(500, 1500);
  return [
    10 * Math.log10(Math.max(sum(50, 1000), DB_FLOOR) / Math.max(sum(1000, 5000), DB_FLOOR)),
    10 * Math.log10(Math.max(max(0, 2000), DB_FLOOR) / Math.max(max(2000, 5000), DB_FLOOR)),
    slope(
      low.map((b) => centres[b]! / 1000),
      low.map((b) => db[b]!),
    ),
    slope(
      mid.map((b) => centres[b]! / 1000),
      mid.map((b) => db[b]!),
    ),
  ];
}

/** LPC coefficients a[1..order] (x[n] ≈ −Σ a[k] x[n−k]) by autocorrelation and Levinson–Durbin. */
function lpc(frame: Float64Array, order: number): Float64Array | undefined {
  const r = new Float64Array(order + 1);
  for (let k = 0; k <= order; k++) for (let n = k; n < frame.length; n++) r[k]! += frame[n]! * frame[n - k]!;
  if (r[0]! <= 0) return undefined;
  r[0]! *= 1 + 1e-9; // a tiny white-noise floor keeps the recursion stable on near-singular frames
  const a = new Float64Array(order + 1);
  a[0] = 1;
  let error = r[0]!;
  for (let i = 1; i <= order; i++) {
    let acc = r[i]!;
    for (let j = 1; j < i; j++) acc += a[j]! * r[i - j]!;
    const k = -acc / error;
    const previous = a.slice();
    for (let j = 1; j < i; j++) a[j] = previous[j]! + k * previous[i - j]!;
    a[i] = k;
    error *= 1 - k * k;
    if (error <= 0) return undefined;
  }
  return a;
}

/** Roots of the monic polynomial z^n + a[1] z^(n−1) + … + a[n] (Durand–Kerner). */
function polynomialRoots(a: Float64Array): Array<[number, number]> {
  const n = a.length - 1;
  const roots: Array<[number, number]> = Array.from({ length: n }, (_, k) => {
    const angle = (2 * Math.PI * k) / n + 0.4;
    return [0.9 * Math.cos(angle), 0.9 * Math.sin(angle)];
  });
  const evaluate = ([re, im]: [number, number]): [number, number] => {
    let pr = 1;
    let pi = 0;
    for (let k = 1; k <= n; k++) [pr, pi] = [pr * re - pi * im + a[k]!, pr * im + pi * re];
    return [pr, pi];
  };
  for (let iteration = 0; iteration < 200; iteration++) {
    let moved = 0;
    for (let i = 0; i < n; i++) {
      const [vr, vi] = evaluate(roots[i]!);
      let dr = 1;
      let di = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const er = roots[i]![0] - roots[j]![0];
        const ei = roots[i]![1] - roots[j]![1];
        [dr, di] = [dr * er - di * ei, dr * ei + di * er];
      }
      const norm = dr * dr + di * di || 1e-30;
      const qr = (vr * dr + vi * di) / norm;
      const qi = (vi * dr - vr * di) / norm;
      roots[i] = [roots[i]![0] - qr, roots[i]![1] - qi];
      moved = Math.max(moved, Math.abs(qr) + Math.abs(qi));
    }
    if (moved < 1e-10) break;
  }
  return roots;
}

/** F1–F3 (Hz) of one pre-emphasised, Hann-windowed frame: LPC roots above 90 Hz with bandwidth < 400 Hz. */
function formants(x: Float32Array, start: number, size: number, rate: number): number[] {
  const frame = new Float64Array(size);
  for (let n = 0; n < size; n++) {
    const current = x[start + n] ?? 0;
    const previous = start + n > 0 ? (x[start + n - 1] ?? 0) : 0;
    frame[n] = (current - 0.97 * previous) * (0.5 - 0.5 * Math.cos((2 * Math.PI * n) / (size - 1)));
  }
  const a = lpc(frame, LPC_ORDER);
  if (!a) return [];
  return polynomialRoots(a)
    .filter(([, im]) => im > 0)
    .map(([re, im]) => ({
      hz: (Math.atan2(im, re) * rate) / (2 * Math.PI),
      bandwidth: (-Math.log(Math.hypot(re, im)) * rate) / Math.PI,
    }))
    .filter((r) => r.hz > 90 && r.bandwidth < 400)
    .map((r) => r.hz)
    .sort((p, q) => p - q)
    .slice(0, 3);
}

/** Voiced runs of frames as sample spans, with each voiced frame's period (samples at `rate`). */
function voicedRuns(
  voiced: Uint8Array,
  pitch: Float32Array,
  config: FeatureConfig,
): { runs: Array<[number, number]>; periodOf: (n: number) => number } {
  const { hopSize, frameSize, sampleRate } = config;
  const periodOfFrame = (f: number) => sampleRate / (100 * 2 ** (pitch[f]! / 12));
  const runs: Array<[number, number]> = [];
  for (let f = 0; f < voiced.length; f++) {
    if (!voiced[f]) continue;
    let g = f;
    while (g + 1 < voiced.length && voiced[g + 1]) g++;
    if (g > f) runs.push([f * hopSize, g * hopSize + frameSize]);
    f = g;
  }
  const frames = voiced.length;
  const periodOf = (n: number) =>
    periodOfFrame(Math.max(0, Math.min(frames - 1, Math.round((n - frameSize / 2) / hopSize))));
  return { runs, periodOf };
}

export interface VoiceQualityExtractor {
  /** The 19 descriptors of `VOICE_QUALITY_NAMES`, in that order, of samples in [-1, 1]. */
  describe(samples: Float32Array): number[];
}

/** One extractor per thread: it holds a log-mel extractor built from `config` (MFCC config, any kind). */
export function createVoiceQualityExtractor(config: FeatureConfig): VoiceQualityExtractor {
  const mel = createFeatureExtractor({ ...config, kind: 'logmel', prosody: false, normalization: 'none' });
  const centres = melCentres(config);
  const { frameSize, hopSize, sampleRate } = config;
  return {
    describe(samples) {
      const frames = frameCount(samples.length, frameSize, hopSize);
      const track = extractProsody(samples, sampleRate, frameSize, hopSize, frames);
      const bands = mel.extract(samples);
      const { runs, periodOf } = voicedRuns(track.voiced, track.pitch, config);
      const hnr: number[] = [];
      const shape: number[][] = [[], [], [], []];
      const formant: number[][] = [[], [], []];
      for (let f = 0; f < frames; f++) {
        if (!track.voiced[f]) continue;
        const start = f * hopSize;
        hnr.push(frameHnr(samples, start, frameSize, periodOf(start + frameSize / 2)));
        const energy = Array.from(bands.data.subarray(f * bands.dims, (f + 1) * bands.dims), (v) =>
          Math.expm1(v),
        );
        for (const [i, v] of spectralShape(energy, centres).entries()) shape[i]!.push(v);
        for (const [i, hz] of formants(samples, start, frameSize, sampleRate).entries())
          formant[i]!.push(Math.log(hz));
      }
      const pulseRuns = runs.map(([s, e]) => pulses(samples, s, Math.min(e, samples.length), periodOf));
      return [
        ...meanStd(hnr),
        ...perturbation(pulseRuns),
        ...shape.flatMap(meanStd),
        ...formant.flatMap(meanStd),
      ];
    },
  };
}
