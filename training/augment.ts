import { resample } from '../lambdas/core/audio/resample.ts';
import { gaussian, type Rng, uniform } from './random.ts';

/**
 * Audio-domain augmentation of training clips (never of validation or test clips), as the seed did —
 * noise injection, time shift, pitch shift, speed change — plus speaker-like changes: scaling the
 * whole spectrum (pitch and formants together, i.e. a vocal-tract-length perturbation) at constant
 * duration. All randomness comes from the caller's seeded `Rng`.
 */
export interface AugmentationSpec {
  /** Spectral scale factor range (1.12 ≈ +2 semitones, shorter/longer vocal tract). */
  spectralScale: [number, number];
  spectralProbability: number;
  /** Playback-speed factor range (tempo, pitch and formants change together, like a tape). */
  speed: [number, number];
  speedProbability: number;
  /** White noise at this SNR range (dB) relative to the clip's RMS. */
  snrDb: [number, number];
  noiseProbability: number;
  /** Seconds of silence added (>0) or cut (<0) at the start: the trimmed span's edges move. */
  shiftSec: [number, number];
}

export const DEFAULT_AUGMENTATION: AugmentationSpec = {
  spectralScale: [0.8, 1.25],
  spectralProbability: 0.8,
  speed: [0.9, 1.1],
  speedProbability: 0.5,
  snrDb: [12, 35],
  noiseProbability: 0.6,
  shiftSec: [-0.08, 0.15],
};

export interface AugmentationRecord {
  spectralScale: number;
  speed: number;
  snrDb: number | null;
  shiftSec: number;
}

/**
 * WSOLA time stretch (waveform-similarity overlap-add): output ≈ `factor` × input length with the local
 * waveform (pitch, formants) kept. Each output frame takes the input segment near its nominal position
 * that best continues the previous one (cross-correlation), so periods line up and nothing phases.
 */
export function timeStretch(input: Float32Array, factor: number, frame = 512): Float32Array {
  const synthesisHop = frame / 2;
  const analysisHop = synthesisHop / factor;
  const tolerance = frame / 4;
  const outLength = Math.round(input.length * factor);
  const out = new Float32Array(outLength + frame);
  const norm = new Float32Array(outLength + frame);
  const window = Float32Array.from(
    { length: frame },
    (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frame),
  );
  // The input with zeros around it, so that the search reads it without bounds checks (reading outside
  // the clip yields 0, exactly as before; this only makes the inner loop ~5× faster).
  const margin = Math.ceil(analysisHop) + synthesisHop + tolerance + frame + 2;
  const padded = new Float32Array(input.length + 2 * margin + Math.ceil(outLength / factor));
  padded.set(input, margin);
  const at = (i: number) => (i >= 0 && i < input.length ? input[i]! : 0);
  let previous = 0; // input position of the last chosen segment
  for (let k = 0; k * synthesisHop < outLength; k++) {
    const nominal = Math.round(k * analysisHop);
    let best = nominal;
    if (k > 0) {
      const natural = previous + synthesisHop + margin; // what would follow the last segment seamlessly
      let bestScore = -Infinity;
      for (let delta = -tolerance; delta <= tolerance; delta += 2) {
        const candidate = nominal + delta + margin;
        let score = 0;
        for (let i = 0; i < frame; i += 2) score += padded[candidate + i]! * padded[natural + i]!;
        if (score > bestScore) {
          bestScore = score;
          best = candidate - margin;
        }
      }
    }
    const base = k * synthesisHop;
    for (let i = 0; i < frame; i++) {
      out[base + i]! += at(best + i) * window[i]!;
      norm[base + i]! += window[i]!;
    }
    previous = best;
  }
  const result = new Float32Array(outLength);
  for (let i = 0; i < outLength; i++) result[i] = norm[i]! > 1e-3 ? out[i]! / norm[i]! : out[i]!;
  return result;
}

/** Plays the clip `factor` times faster (resampling): shorter, and every frequency × factor. */
export function changeSpeed(samples: Float32Array, sampleRate: number, factor: number): Float32Array {
  return resample(samples, Math.round(sampleRate * factor), sampleRate);
}

/** Every frequency × `factor` (pitch and formants, a vocal-tract-length change), duration kept. */
export function scaleSpectrum(samples: Float32Array, sampleRate: number, factor: number): Float32Array {
  return changeSpeed(timeStretch(samples, factor), sampleRate, factor);
}

function rms(samples: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / (samples.length || 1));
}

/** One random augmentation of a trimmed clip; returns the new samples and what was done. */
export function augment(
  samples: Float32Array,
  sampleRate: number,
  spec: AugmentationSpec,
  rng: Rng,
): { samples: Float32Array; record: AugmentationRecord } {
  const record: AugmentationRecord = { spectralScale: 1, speed: 1, snrDb: null, shiftSec: 0 };
  let out = samples;
  if (rng() < spec.spectralProbability) {
    // Log-uniform so that up and down shifts are equally likely.
    record.spectralScale = Math.exp(
      uniform(rng, Math.log(spec.spectralScale[0]), Math.log(spec.spectralScale[1])),
    );
    out = scaleSpectrum(out, sampleRate, record.spectralScale);
  }
  if (rng() < spec.speedProbability) {
    record.speed = uniform(rng, spec.speed[0], spec.speed[1]);
    out = changeSpeed(out, sampleRate, record.speed);
  }
  record.shiftSec = uniform(rng, spec.shiftSec[0], spec.shiftSec[1]);
  const shift = Math.round(Math.abs(record.shiftSec) * sampleRate);
  if (record.shiftSec > 0) {
    const padded = new Float32Array(out.length + shift);
    padded.set(out, shift);
    out = padded;
  } else if (shift > 0 && shift < out.length / 2) {
    out = out.slice(shift);
  }
  if (rng() < spec.noiseProbability) {
    record.snrDb = uniform(rng, spec.snrDb[0], spec.snrDb[1]);
    const sigma = rms(samples) / 10 ** (record.snrDb / 20);
    if (out === samples) out = samples.slice();
    for (let i = 0; i < out.length; i++) out[i]! += sigma * gaussian(rng);
  }
  return { samples: out === samples ? samples.slice() : out, record };
}
