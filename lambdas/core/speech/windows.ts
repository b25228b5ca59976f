import { type SpeechRegion, speechWithin } from './vad.ts';

/** A window with less speech than this (a pause) is not scored unless no window has more. */
const MIN_WINDOW_SPEECH_SEC = 0.5;

export interface AnalysisWindow {
  startSec: number;
  endSec: number;
  speechSec: number;
}

/**
 * Cuts the speech span into model windows. A span that fits one window is one window (zero-padded by the
 * model input); a longer span gets windows of `windowSec` every `windowSec / 2` with the last one aligned
 * to the end, so every moment is seen by one or two windows. Windows that are mostly pause are dropped.
 */
export function planWindows(
  span: SpeechRegion,
  regions: SpeechRegion[],
  windowSec: number,
): AnalysisWindow[] {
  const length = span.endSec - span.startSec;
  const starts: number[] = [];
  if (length <= windowSec) starts.push(span.startSec);
  else {
    const hop = windowSec / 2;
    for (let s = span.startSec; s + windowSec < span.endSec; s += hop) starts.push(s);
    starts.push(span.endSec - windowSec);
  }
  const windows = starts.map((startSec) => {
    const endSec = Math.min(span.endSec, startSec + windowSec);
    return { startSec, endSec, speechSec: speechWithin(regions, startSec, endSec) };
  });
  const voiced = windows.filter((w) => w.speechSec >= MIN_WINDOW_SPEECH_SEC);
  if (voiced.length > 0) return voiced;
  return [windows.reduce((best, w) => (w.speechSec > best.speechSec ? w : best))];
}
