import fvad, { type FvadModule } from '@echogarden/fvad-wasm';

/** WebRTC VAD decides per 10, 20 or 30 ms frame; 20 ms matches the feature hop. */
export const VAD_FRAME_SEC = 0.02;
const VAD_RATES = [8000, 16000, 32000, 48000];
/** 0 (least) … 3 (most aggressive at calling non-speech); 3 rejects steady noise best. */
const VAD_MODE = 3;

export interface SpeechRegion {
  startSec: number;
  endSec: number;
}

/** A gain per stretch of frames (a long recording's, see `chunkGains` in features/loudness.ts). */
export interface FrameGains {
  framesPerGain: number;
  values: readonly number[];
}

export interface SpeechDetector {
  /**
   * One flag per 20 ms frame (1 = speech) for mono samples in [-1, 1] at 8, 16, 32 or 48 kHz.
   * `gain` scales the samples first (loudness normalisation), as WebRTC's VAD has absolute energy gates:
   * one for the clip, or one per stretch of a long recording.
   */
  detect(samples: Float32Array, sampleRate: number, gain?: number | FrameGains): Uint8Array;
}

const gainOfFrame = (gain: number | FrameGains, frame: number): number =>
  typeof gain === 'number'
    ? gain
    : (gain.values[Math.min(gain.values.length - 1, Math.floor(frame / gain.framesPerGain))] ?? 1);

let modulePromise: Promise<FvadModule> | undefined;

/**
 * WebRTC's voice-activity detector (libfvad compiled to WASM, ~2 µs per frame). One instance and one
 * frame buffer are reused; `detect` resets the detector's state so clips do not influence each other.
 */
export async function createSpeechDetector(): Promise<SpeechDetector> {
  modulePromise ??= fvad();
  const wasm = await modulePromise;
  const instance = wasm._fvad_new();
  if (instance === 0) throw new Error('libfvad could not allocate a detector');
  let bufferPointer = 0;
  let bufferLength = 0;

  return {
    detect(samples, sampleRate, gain = 1) {
      if (!VAD_RATES.includes(sampleRate))
        throw new RangeError(`VAD needs 8/16/32/48 kHz, got ${sampleRate}`);
      // Reset per clip (libfvad's reset also forgets mode and rate) so clips do not influence each other.
      wasm._fvad_reset(instance);
      wasm._fvad_set_mode(instance, VAD_MODE);
      wasm._fvad_set_sample_rate(instance, sampleRate);
      const frameLength = Math.round(sampleRate * VAD_FRAME_SEC);
      if (frameLength > bufferLength) {
        if (bufferPointer) wasm._free(bufferPointer);
        bufferPointer = wasm._malloc(frameLength * 2);
        bufferLength = frameLength;
      }
      const frames = Math.floor(samples.length / frameLength);
      const flags = new Uint8Array(frames);
      for (let f = 0; f < frames; f++) {
        // HEAP16 can be replaced when WASM memory grows: read it per frame.
        const heap = wasm.HEAP16;
        const base = bufferPointer >> 1;
        const offset = f * frameLength;
        const scale = 32767 * gainOfFrame(gain, f);
        for (let i = 0; i < frameLength; i++) {
          const v = samples[offset + i]! * scale;
          heap[base + i] = Math.min(32767, Math.max(-32768, v));
        }
        flags[f] = wasm._fvad_process(instance, bufferPointer, frameLength) === 1 ? 1 : 0;
      }
      return flags;
    },
  };
}

export interface RegionOptions {
  /** Pauses shorter than this join their neighbours (a breath inside a sentence is still speech). */
  maxGapSec?: number;
  /** Speech bursts shorter than this are clicks or noise, not speech. */
  minSpeechSec?: number;
}

/** Turns per-frame VAD flags into speech regions, bridging short pauses and dropping short bursts. */
export function speechRegions(flags: Uint8Array, options: RegionOptions = {}): SpeechRegion[] {
  const maxGapFrames = Math.round((options.maxGapSec ?? 0.3) / VAD_FRAME_SEC);
  const minSpeechFrames = Math.round((options.minSpeechSec ?? 0.1) / VAD_FRAME_SEC);
  const runs: Array<[number, number]> = [];
  let start = -1;
  for (let f = 0; f <= flags.length; f++) {
    const speech = f < flags.length && flags[f] === 1;
    if (speech && start < 0) start = f;
    if (!speech && start >= 0) {
      const last = runs.at(-1);
      if (last && start - last[1] <= maxGapFrames) last[1] = f;
      else runs.push([start, f]);
      start = -1;
    }
  }
  return runs
    .filter(([s, e]) => e - s >= minSpeechFrames)
    .map(([s, e]) => ({ startSec: s * VAD_FRAME_SEC, endSec: e * VAD_FRAME_SEC }));
}

/** Seconds of speech inside [startSec, endSec). */
export function speechWithin(regions: SpeechRegion[], startSec: number, endSec: number): number {
  let total = 0;
  for (const r of regions) total += Math.max(0, Math.min(endSec, r.endSec) - Math.max(startSec, r.startSec));
  return total;
}
