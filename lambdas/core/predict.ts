import { decodeAudio, warmUpDecoders } from './audio/decode.ts';
import { DEFAULT_MAX_DURATION_SEC } from './audio/limits.ts';
import { removeDcOffset } from './audio/trim.ts';
import { AudioError } from './errors.ts';
import type { FeatureConfig } from './features/config.ts';
import {
  createFeatureExtractor,
  type FeatureExtractor,
  type FeatureMatrix,
  normalizeUtterance,
} from './features/extract.ts';
import { chunkGains, loudnessGain } from './features/loudness.ts';
import {
  clipChannelMeans,
  type SpeakerAdaptation,
  shiftChannels,
  speakerOffsets,
} from './features/speaker-normalization.ts';
import { applyTemperature } from './model/calibration.ts';
import type { ModelMetadata } from './model/metadata.ts';
import { type LoadedModel, loadModelPackage } from './model/runtime.ts';
import { speechSpectralFlatness } from './speech/flatness.ts';
import { clearFloorPauses } from './speech/pauses.ts';
import {
  createSpeechDetector,
  type FrameGains,
  type SpeechDetector,
  type SpeechRegion,
  speechRegions,
  VAD_FRAME_SEC,
} from './speech/vad.ts';
import { type AnalysisWindow, planWindows, UTTERANCE_GAP_SEC } from './speech/windows.ts';
import type { PredictionResult, PredictOptions, Probabilities, Segment } from './types.ts';

export { BUNDLED_MODEL_DIR } from './model/location.ts';

/** Less speech than this in a whole clip is not enough to judge an emotion: `NO_SPEECH`. */
const MIN_SPEECH_SEC = 0.2;
/**
 * Less speech than this and a prediction is flagged `lowConfidence` whatever its probability: the model
 * never learned from so little (the shortest VAD-trimmed utterance the shipped recipe trains on, TESS and
 * RAVDESS, holds 0.98 s of speech; 1 % hold under 1.3 s), and on 0.25–0.4 s slices of clips it knows it
 * said the wrong emotion at 80–94 % confidence.
 */
export const MIN_CONFIDENT_SPEECH_SEC = 1;

/** The `lowConfidence` rule, for a clip and for each of its windows: a guess, or too little speech to judge. */
const isLowConfidence = (confidence: number, speechSec: number, lowConfidenceBelow: number) =>
  confidence < lowConfidenceBelow || speechSec < MIN_CONFIDENT_SPEECH_SEC;
/** Above this spectral flatness the "speech" the VAD found is broadband noise (hiss, clipping, static). */
const MAX_SPEECH_FLATNESS = 0.6;

export type Stage = 'decode' | 'resample' | 'vad' | 'features' | 'inference';
export type StageTimings = Partial<Record<Stage, number>>;

export interface Predictor {
  readonly modelVersion: string;
  readonly labels: readonly string[];
  readonly metadata: ModelMetadata;
  predict(
    audio: Uint8Array,
    options?: PredictOptions & { timings?: StageTimings },
  ): Promise<PredictionResult>;
  release(): Promise<void>;
}

/**
 * The model to predict with, always named by the caller (the core reads no configuration): a model
 * package folder, or an already loaded model (e.g. fetched from the registry).
 */
export type PredictorOptions = (
  | { modelDir: string; model?: undefined }
  | { model: LoadedModel; modelDir?: undefined }
) & {
  /**
   * Instantiate the WASM decoders and run one prediction on a synthetic voice before returning, so the
   * first real request does not pay for WASM compilation and JIT. It moves that work ahead and adds the
   * decoders no file may need: worth it only where init runs before any request arrives (a Lambda with
   * provisioned concurrency), not before the request that caused a cold start.
   */
  warmUp?: boolean;
};

const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;

function toProbabilities(labels: readonly string[], values: ArrayLike<number>): Probabilities {
  return Object.fromEntries(labels.map((label, i) => [label, round(values[i]!)]));
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Adds each stage's time since the previous mark to `timings` (when given). */
function stageTimer(timings: StageTimings | undefined) {
  let mark = performance.now();
  return (stage: Stage) => {
    const now = performance.now();
    if (timings) timings[stage] = (timings[stage] ?? 0) + now - mark;
    mark = now;
  };
}

/**
 * Recordings at least this long get a gain per VAD_GAIN_CHUNK_SEC for voice-activity detection
 * (`chunkGains`): a clip of one utterance (what the model was trained on) keeps one gain.
 */
const LONG_RECORDING_SEC = 15;
const VAD_GAIN_CHUNK_SEC = 10;
/** A stretch's VAD gain stays within this of the recording's (measured in the commit that added it). */
const VAD_GAIN_MAX_ABOVE_DB = 3;

function vadGain(samples: Float32Array, durationSec: number, config: FeatureConfig): number | FrameGains {
  if (durationSec < LONG_RECORDING_SEC) return loudnessGain(samples, config);
  const chunkSamples = Math.round(VAD_GAIN_CHUNK_SEC * config.sampleRate);
  return {
    framesPerGain: Math.round(VAD_GAIN_CHUNK_SEC / VAD_FRAME_SEC),
    values: chunkGains(samples, config, chunkSamples, VAD_GAIN_MAX_ABOVE_DB),
  };
}

/**
 * The speech in a decoded clip (DC offset removed in place), or `NO_SPEECH` when the clip is too short,
 * holds too little voice activity, or its "speech" is broadband noise.
 */
function findSpeech(
  samples: Float32Array,
  durationSec: number,
  config: FeatureConfig,
  detector: SpeechDetector,
): { regions: SpeechRegion[]; speechSec: number } {
  const rate = config.sampleRate;
  if (durationSec < MIN_SPEECH_SEC) {
    const ms = Math.round(durationSec * 1000 * 10) / 10;
    throw new AudioError('NO_SPEECH', `The audio lasts ${ms} ms: too short to hold speech`);
  }
  removeDcOffset(samples);
  const flags = detector.detect(samples, rate, vadGain(samples, durationSec, config));
  if (durationSec >= LONG_RECORDING_SEC) clearFloorPauses(samples, rate, flags, UTTERANCE_GAP_SEC);
  const regions = speechRegions(flags);
  const speechSec = regions.reduce((sum, r) => sum + r.endSec - r.startSec, 0);
  if (speechSec < MIN_SPEECH_SEC) {
    throw new AudioError(
      'NO_SPEECH',
      `No speech found: ${round(speechSec, 2)} s of voice activity in ${round(durationSec, 2)} s of audio`,
    );
  }
  const flatness = speechSpectralFlatness(samples, rate, regions);
  if (flatness > MAX_SPEECH_FLATNESS) {
    throw new AudioError(
      'NO_SPEECH',
      `No speech found: the sound is broadband noise (spectral flatness ${round(flatness, 2)}), not a voice`,
    );
  }
  return { regions, speechSec };
}

interface WindowFeatures {
  /** `windows × frames × dims`, zero-padded past each window's length. */
  features: Float32Array;
  lengths: Int32Array;
  adapted: Pick<PredictionResult, 'speakerClip' | 'adaptation'>;
  /** windows × C speaker offsets for a model that reads them as an input (absent: no context). */
  speakerOffset?: Float32Array;
}

/** Each window's features (speaker-adapted when asked, then normalised), as one batch for the model. */
function windowFeatures(
  samples: Float32Array,
  windows: AnalysisWindow[],
  metadata: ModelMetadata,
  extractor: FeatureExtractor,
  speaker: PredictOptions['speaker'],
): WindowFeatures {
  const config = metadata.featureConfig;
  const rate = config.sampleRate;
  const { frames: maxFrames, dims } = metadata.input;
  const matrices = windows.map((w) => {
    const slice = samples.subarray(Math.floor(w.startSec * rate), Math.ceil(w.endSec * rate));
    const matrix = extractor.extract(slice);
    return { matrix, frames: Math.min(matrix.frames, maxFrames) };
  });
  const adapted = speaker ? adaptToSpeaker(matrices, metadata.speakerAdaptation, speaker) : { result: {} };
  const features = new Float32Array(windows.length * maxFrames * dims);
  const lengths = new Int32Array(windows.length);
  matrices.forEach(({ matrix, frames }, row) => {
    if (config.normalization === 'utterance') normalizeUtterance(matrix, frames);
    features.set(matrix.data.subarray(0, frames * dims), row * maxFrames * dims);
    lengths[row] = frames;
  });
  return { features, lengths, adapted: adapted.result, speakerOffset: adapted.speakerOffset };
}

/**
 * The clip's probabilities: the mean of the windows' (rows of `output`) weighted by each window's seconds
 * of speech, so pauses and short windows count less; and each window as a segment.
 */
function combineWindows(
  output: Float32Array,
  windows: AnalysisWindow[],
  labels: readonly string[],
  lowConfidenceBelow: number | undefined,
) {
  const total = new Float64Array(labels.length);
  const weightSum = windows.reduce((sum, w) => sum + w.speechSec, 0);
  const segments: Segment[] = windows.map((w, row) => {
    const p = output.subarray(row * labels.length, (row + 1) * labels.length);
    for (let i = 0; i < labels.length; i++) total[i]! += (p[i]! * w.speechSec) / weightSum;
    const best = argmax(p);
    return {
      startSec: round(w.startSec, 3),
      endSec: round(w.endSec, 3),
      emotion: labels[best]!,
      confidence: round(p[best]!),
      ...(lowConfidenceBelow === undefined
        ? {}
        : { lowConfidence: isLowConfidence(p[best]!, w.speechSec, lowConfidenceBelow) }),
      probabilities: toProbabilities(labels, p),
    };
  });
  return { total, segments };
}

/**
 * Loads the model once and returns the function that turns audio bytes into an emotion:
 * decode → resample to the model's rate → voice-activity detection (WebRTC VAD) → utterances (speech
 * between pauses of 0.6 s or more), each cut into model windows if longer than one (see `planWindows`) →
 * meyda MFCC + CMVN per window → one batched ONNX run →
 * the clip's probabilities are the mean of the windows' probabilities weighted by each window's seconds of
 * speech, so pauses and short windows count less. All-silent (or speech-free) audio is `NO_SPEECH`.
 */
export async function createPredictor(options: PredictorOptions): Promise<Predictor> {
  const model = options.model === undefined ? await loadModelPackage(options.modelDir) : options.model;
  const { metadata } = model;
  const config = metadata.featureConfig;
  const extractor = createFeatureExtractor(config);
  const detector = await createSpeechDetector();
  const { labels, calibration } = metadata;

  const predictor: Predictor = {
    modelVersion: metadata.version,
    labels,
    metadata,
    release: () => model.release(),
    async predict(audio, { maxDurationSec = DEFAULT_MAX_DURATION_SEC, timings, speaker } = {}) {
      const lap = stageTimer(timings);
      // Resampled while decoding: memory follows the model's rate, not the file's (docs/api.md, limits).
      const decoded = await decodeAudio(audio, { maxDurationSec, outputRate: config.sampleRate });
      const { samples } = decoded;
      lap('decode');
      lap('resample');
      const { regions, speechSec } = findSpeech(samples, decoded.durationSec, config, detector);
      const windows = planWindows(regions, samples.length / config.sampleRate, metadata.input.windowSec);
      lap('vad');
      const input = windowFeatures(samples, windows, metadata, extractor, speaker);
      const { features, lengths, adapted, speakerOffset } = input;
      lap('features');
      const output = await model.run({ features, lengths, batch: windows.length, speakerOffset });
      // Calibrated per window (as the temperature was fitted), then averaged: see model/calibration.ts.
      if (calibration) applyTemperature(output, labels.length, calibration.temperature);
      lap('inference');

      const { total, segments } = combineWindows(output, windows, labels, calibration?.lowConfidenceBelow);
      const best = argmax(total);
      return {
        emotion: labels[best]!,
        confidence: round(total[best]!),
        ...(calibration
          ? { lowConfidence: isLowConfidence(total[best]!, speechSec, calibration.lowConfidenceBelow) }
          : {}),
        probabilities: toProbabilities(labels, total),
        durationSec: round(decoded.durationSec, 3),
        sampleRate: decoded.sourceSampleRate,
        modelVersion: metadata.version,
        segments,
        ...adapted,
      };
    },
  };
  if (options.warmUp) {
    await warmUpDecoders(config.sampleRate);
    await predictor.predict(syntheticVoiceWav(config.sampleRate)).catch(() => undefined);
  }
  return predictor;
}

/**
 * With a speaker context: the clip's means of the adapted channels (what the speaker's statistics learn
 * from), and, once the speaker has `minClips` earlier clips, the speaker's offsets toward the population:
 * added to the windows' channels (in place, before CMVN and the graph) with `apply` 'shift', or given to
 * the graph as its `speaker_offset` input (one row per window, frames untouched) with 'input'. Models
 * without `speakerAdaptation` only label the prediction.
 */
function adaptToSpeaker(
  matrices: Array<{ matrix: FeatureMatrix; frames: number }>,
  adaptation: SpeakerAdaptation | undefined,
  speaker: NonNullable<PredictOptions['speaker']>,
): { result: Pick<PredictionResult, 'speakerClip' | 'adaptation'>; speakerOffset?: Float32Array } {
  if (!adaptation) return { result: {} };
  const speakerClip = clipChannelMeans(matrices, adaptation.channels);
  const offsets = speakerOffsets(speaker.statistics, adaptation);
  if (!offsets || !speaker.statistics) return { result: { speakerClip } };
  const result = { speakerClip, adaptation: { clips: speaker.statistics.count } };
  if (adaptation.apply === 'input')
    return { result, speakerOffset: Float32Array.from(matrices.flatMap(() => offsets)) };
  for (const { matrix, frames } of matrices) shiftChannels(matrix, frames, adaptation.channels, offsets);
  return { result };
}

/** One second of a vowel-like harmonic sound as a 16-bit WAV: exercises every stage of `predict`. */
function syntheticVoiceWav(sampleRate: number): Uint8Array {
  const frames = sampleRate;
  const bytes = new Uint8Array(44 + frames * 2);
  const view = new DataView(bytes.buffer);
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + frames * 2, true);
  ascii(8, 'WAVEfmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, frames * 2, true);
  let phase = 0;
  for (let i = 0; i < frames; i++) {
    phase += (2 * Math.PI * (140 + 20 * Math.sin((i / sampleRate) * 6))) / sampleRate;
    const sample = 0.3 * Math.sin(phase) + 0.2 * Math.sin(2 * phase) + 0.1 * Math.sin(3 * phase);
    view.setInt16(44 + i * 2, Math.round(sample * 32767), true);
  }
  return bytes;
}
