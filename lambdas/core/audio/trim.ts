import type { FeatureConfig } from '../features/config.ts';
import { loudnessGain } from '../features/loudness.ts';
import { type SpeechDetector, type SpeechRegion, speechRegions } from '../speech/vad.ts';
import { UTTERANCE_PAD_SEC } from '../speech/windows.ts';
import { sumOf } from './sums.ts';

export interface TrimmedSpeech {
  /** A copy of the samples from the start to the end of the speech span, DC offset removed. */
  samples: Float32Array;
  startSec: number;
  endSec: number;
  /** Seconds the VAD called speech (0: none found, and then the whole clip is returned). */
  speechSec: number;
  /** Speech regions relative to the trimmed samples. */
  regions: SpeechRegion[];
}

/** In place. A DC offset is not sound; it would fool the loudness and voice-activity measures. */
export function removeDcOffset(samples: Float32Array): void {
  const mean = sumOf(samples) / (samples.length || 1);
  if (mean !== 0) for (let i = 0; i < samples.length; i++) samples[i]! -= mean;
}

/**
 * Cuts leading and trailing silence the way inference does: remove the DC offset, run WebRTC VAD on the
 * loudness-normalised signal, keep from the first to the last speech region ± `UTTERANCE_PAD_SEC` (the
 * predictor's own pad). Training uses this so that the model sees the same span as the deployed
 * predictor (RAVDESS clips have ~1 s of silence at each end; TESS has some too). A clip with no speech at all is kept whole (training decides).
 */
export function trimToSpeech(
  input: Float32Array,
  sampleRate: number,
  detector: SpeechDetector,
  config: FeatureConfig,
): TrimmedSpeech {
  const samples = input.slice();
  removeDcOffset(samples);
  const regions = speechRegions(detector.detect(samples, sampleRate, loudnessGain(samples, config)));
  const clipSec = samples.length / sampleRate;
  if (regions.length === 0) return { samples, startSec: 0, endSec: clipSec, speechSec: 0, regions };
  const startSec = Math.max(0, regions[0]!.startSec - UTTERANCE_PAD_SEC);
  const endSec = Math.min(clipSec, regions.at(-1)!.endSec + UTTERANCE_PAD_SEC);
  const speechSec = regions.reduce((total, r) => total + r.endSec - r.startSec, 0);
  return {
    samples: samples.slice(Math.floor(startSec * sampleRate), Math.ceil(endSec * sampleRate)),
    startSec,
    endSec,
    speechSec,
    regions: regions.map((r) => ({ startSec: r.startSec - startSec, endSec: r.endSec - startSec })),
  };
}
