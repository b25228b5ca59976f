import type { SpeakerStatistics } from './features/speaker-normalization.ts';

/** Shapes shared by the core, the handlers, the CLI and the web page. */

export type Probabilities = Record<string, number>;

export interface Segment {
  startSec: number;
  endSec: number;
  emotion: string;
  confidence: number;
  /** As the clip's `lowConfidence`, for this window (present when the package has a calibration). */
  lowConfidence?: boolean;
  probabilities: Probabilities;
}

export interface PredictionResult {
  emotion: string;
  /** Calibrated probability of `emotion` when the model package carries a calibration. */
  confidence: number;
  /**
   * The calibrated confidence is below the package's `calibration.lowConfidenceBelow`: the model is
   * more likely wrong than right here. Absent when the package has no calibration.
   */
  lowConfidence?: boolean;
  probabilities: Probabilities;
  durationSec: number;
  sampleRate: number;
  modelVersion: string;
  segments: Segment[];
  /** With a speaker context: the clip's contribution to the speaker's statistics (adapted channels' means). */
  speakerClip?: number[];
  /** Present when the prediction was adapted to the speaker: how many earlier clips it knew. */
  adaptation?: { clips: number };
}

export interface PredictOptions {
  /** Reject audio longer than this many seconds with `TOO_LONG` (default 600). */
  maxDurationSec?: number;
  /**
   * A speaker context: the statistics of the speaker's earlier clips (none yet: `{}`). The result then
   * carries `speakerClip`, and `adaptation` when the model adapts and enough clips are known.
   */
  speaker?: { statistics?: SpeakerStatistics | undefined };
}
