import { blockMeanSquares } from '../audio/sums.ts';
import { VAD_FRAME_SEC } from './vad.ts';

/**
 * A stretch whose level stays within this of the recording's noise floor is a pause, whatever the VAD
 * says: in steady background noise WebRTC's VAD (tuned for phone calls, with absolute energy gates) calls
 * the pauses between utterances speech, and windows then run from one utterance into the next.
 */
const PAUSE_ABOVE_FLOOR_DB = 3;
/** The noise floor: this quantile of the recording's (smoothed) frame levels. */
const FLOOR_QUANTILE = 0.1;
/** Frame powers are averaged over this many VAD frames (100 ms) so noise's own flicker does not break a pause. */
const SMOOTH_FRAMES = 5;
/**
 * Frames below this are digital silence (16-bit quantisation noise is about −101 dBFS), not the room: a
 * muted stretch or padding would otherwise set a floor no noisy pause comes near.
 */
const DIGITAL_SILENCE_DB = -90;

/** Mean power of each VAD frame, averaged over its `SMOOTH_FRAMES` neighbourhood, in dB. */
function smoothedLevels(samples: Float32Array, frameLength: number, frames: number): Float64Array {
  const power = blockMeanSquares(samples, frameLength, frames);
  const half = Math.floor(SMOOTH_FRAMES / 2);
  const levels = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    const from = Math.max(0, f - half);
    const to = Math.min(frames, f + half + 1);
    let sum = 0;
    for (let g = from; g < to; g++) sum += power[g]!;
    levels[f] = 10 * Math.log10(sum / (to - from) + 1e-12);
  }
  return levels;
}

/**
 * Clears the VAD flags (one per `VAD_FRAME_SEC` frame, in place) of every run of at least `minPauseSec`
 * whose smoothed level stays within `PAUSE_ABOVE_FLOOR_DB` of the recording's noise floor. In a quiet
 * recording those runs are silence the VAD already calls silence, so only noisy recordings change.
 */
export function clearFloorPauses(
  samples: Float32Array,
  sampleRate: number,
  flags: Uint8Array,
  minPauseSec: number,
): void {
  const frameLength = Math.round(sampleRate * VAD_FRAME_SEC);
  const frames = Math.min(flags.length, Math.floor(samples.length / frameLength));
  if (frames === 0) return;
  const levels = smoothedLevels(samples, frameLength, frames);
  const floor = noiseFloor(levels);
  if (floor === undefined) return;
  const pauseBelow = floor + PAUSE_ABOVE_FLOOR_DB;
  // Longer than the minimum, so that the gap left is one `utterances` splits at (its test is in seconds).
  const minPauseFrames = Math.round(minPauseSec / VAD_FRAME_SEC) + 1;
  let start = -1;
  for (let f = 0; f <= frames; f++) {
    const quiet = f < frames && levels[f]! < pauseBelow;
    if (quiet && start < 0) start = f;
    if (!quiet && start >= 0) {
      if (f - start >= minPauseFrames) flags.fill(0, start, f);
      start = -1;
    }
  }
}

/** The `FLOOR_QUANTILE` of the levels above digital silence (undefined when every frame is silence). */
function noiseFloor(levels: Float64Array): number | undefined {
  const heard = levels.filter((level) => level > DIGITAL_SILENCE_DB).sort();
  return heard.length === 0 ? undefined : heard[Math.floor(FLOOR_QUANTILE * (heard.length - 1))];
}
