/** Shapes shared by the core, the handlers, the CLI and the web page. */

export type Probabilities = Record<string, number>;

export interface Segment {
  startSec: number;
  endSec: number;
  emotion: string;
  confidence: number;
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
}

export interface PredictOptions {
  /** Reject audio longer than this many seconds with `TOO_LONG` (default 600). */
  maxDurationSec?: number;
}
