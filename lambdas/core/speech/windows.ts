import { type SpeechRegion, speechWithin } from './vad.ts';

/** Speech separated by a pause at least this long is a new utterance, scored on its own. */
export const UTTERANCE_GAP_SEC = 0.6;
/**
 * Silence kept around an utterance, as the training clips have a little of it too. Training's trim
 * (`audio/trim.ts`) keeps the same pad around the speech span, so both see the same span.
 */
export const UTTERANCE_PAD_SEC = 0.1;
/** A window with less speech than this is not scored unless no window has more. */
const MIN_WINDOW_SPEECH_SEC = 0.5;

export interface AnalysisWindow {
  startSec: number;
  endSec: number;
  /** Seconds of detected speech inside the window: the window's weight in the clip's result. */
  speechSec: number;
}

/** Joins speech regions into utterances: pauses shorter than `UTTERANCE_GAP_SEC` stay inside one. */
export function utterances(regions: SpeechRegion[]): SpeechRegion[] {
  const out: SpeechRegion[] = [];
  for (const region of regions) {
    const last = out.at(-1);
    if (last && region.startSec - last.endSec < UTTERANCE_GAP_SEC) last.endSec = region.endSec;
    else out.push({ ...region });
  }
  return out;
}

/**
 * Plans the model windows of a clip. Each utterance (padded by 0.1 s, as training clips are) that fits the
 * model window is one window, zero-padded by the model input, so a clip like the training clips is seen
 * exactly as in training. A longer utterance gets windows of `windowSec` every `windowSec / 2`, the last
 * one aligned to its end, so every moment is seen by one or two windows. Leading/trailing silence and
 * pauses between utterances are never scored; windows with under 0.5 s of speech are dropped unless
 * no window has more.
 */
export function planWindows(regions: SpeechRegion[], clipSec: number, windowSec: number): AnalysisWindow[] {
  const windows: AnalysisWindow[] = [];
  for (const utterance of utterances(regions)) {
    const startSec = Math.max(0, utterance.startSec - UTTERANCE_PAD_SEC);
    const endSec = Math.min(clipSec, utterance.endSec + UTTERANCE_PAD_SEC);
    const starts: number[] = [];
    if (endSec - startSec <= windowSec) starts.push(startSec);
    else {
      for (let s = startSec; s + windowSec < endSec; s += windowSec / 2) starts.push(s);
      starts.push(endSec - windowSec);
    }
    for (const s of starts) {
      const e = Math.min(endSec, s + windowSec);
      windows.push({ startSec: s, endSec: e, speechSec: speechWithin(regions, s, e) });
    }
  }
  const voiced = windows.filter((w) => w.speechSec >= MIN_WINDOW_SPEECH_SEC);
  if (voiced.length > 0 || windows.length === 0) return voiced;
  return [windows.reduce((best, w) => (w.speechSec > best.speechSec ? w : best))];
}
