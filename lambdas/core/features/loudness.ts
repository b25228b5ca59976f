import { blockMeanSquares } from '../audio/sums.ts';
import type { FeatureConfig } from './config.ts';

/** Blocks of this length measure loudness; 20 ms is short enough to separate words from pauses. */
const LOUDNESS_BLOCK_SEC = 0.02;
/** Blocks more than this far below the loudest one are pauses and do not count towards speech loudness. */
const ACTIVE_RANGE_DB = 30;

/**
 * RMS of the "active" part of a signal: the blocks within 30 dB of the loudest block. Pauses and
 * leading/trailing silence would otherwise make a quiet speaker look even quieter. 0 for digital silence.
 */
export function activeRms(samples: Float32Array, sampleRate: number): number {
  const block = Math.max(1, Math.round(sampleRate * LOUDNESS_BLOCK_SEC));
  const blocks = Math.ceil(samples.length / block);
  const energies = blockMeanSquares(samples, block, blocks);
  let maxEnergy = 0;
  for (const energy of energies) if (energy > maxEnergy) maxEnergy = energy;
  if (maxEnergy === 0) return 0;
  const threshold = maxEnergy * 10 ** (-ACTIVE_RANGE_DB / 10);
  let sum = 0;
  let count = 0;
  for (let b = 0; b < blocks; b++) {
    if (energies[b]! >= threshold) {
      sum += energies[b]!;
      count++;
    }
  }
  return Math.sqrt(sum / count);
}

/**
 * The gain that brings a clip's active RMS to `targetDbfs`, capped at `maxGainDb` so that a clip of near
 * silence is not blown up into loud noise. Meyda's `log(x + 1)` makes features depend on absolute level,
 * so every clip is brought to the same level before extraction.
 */
export function loudnessGain(samples: Float32Array, config: FeatureConfig): number {
  const rms = activeRms(samples, config.sampleRate);
  if (rms === 0) return 1;
  const target = 10 ** (config.loudness.targetDbfs / 20);
  return Math.min(target / rms, 10 ** (config.loudness.maxGainDb / 20));
}

/**
 * A long recording's gains for voice-activity detection, one per `chunkSamples`: each stretch's own, so
 * a quiet voice is not judged at the level the loudest stretch set (one gain for the whole recording
 * lost calm and sad utterances in light noise), between the whole recording's gain and `maxAboveDb` over
 * it, so a stretch of pause and noise is not raised to speech level.
 */
export function chunkGains(
  samples: Float32Array,
  config: FeatureConfig,
  chunkSamples: number,
  maxAboveDb: number,
): number[] {
  const whole = loudnessGain(samples, config);
  const cap = whole * 10 ** (maxAboveDb / 20);
  const gains: number[] = [];
  for (let from = 0; from < samples.length; from += chunkSamples) {
    const chunk = samples.subarray(from, Math.min(samples.length, from + chunkSamples));
    // Never below the whole recording's gain: the stretch with the loudest passage would otherwise hear
    // a quiet voice beside it quieter than one gain did.
    gains.push(Math.min(Math.max(loudnessGain(chunk, config), whole), cap));
  }
  return gains;
}

/**
 * Loudness-normalised samples at meyda's amplitude scale (`sampleScale`), as float32 like meyda's input:
 * written into `out` (at least as long as `samples`; a new array if absent) and returned as its first
 * `samples.length` values.
 */
export function scaleForExtraction(
  samples: Float32Array,
  config: FeatureConfig,
  out: Float32Array = new Float32Array(samples.length),
): Float32Array {
  const gain = loudnessGain(samples, config) * config.sampleScale;
  // The view is taken before the loop: V8 compiles this loop mid-call (OSR), and code after it that had
  // not run yet deoptimised on every later clip (seen with --trace-deopt; its cost was not measurable).
  const scaled = out.subarray(0, samples.length);
  for (let i = 0; i < samples.length; i++) scaled[i] = samples[i]! * gain;
  return scaled;
}
