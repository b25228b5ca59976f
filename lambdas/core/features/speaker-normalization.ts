import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { FeatureMatrix } from './extract.ts';

/**
 * Speaker-adaptive normalisation: judge a clip against the same speaker's (or room's) earlier clips.
 *
 * The model standardises each utterance's frames (CMVN) before its LSTM and reads, next to it, the
 * utterance's statistics (mean, spread, rate of change, range and direction of the prosody channels),
 * standardised with population values. Adding a constant to a channel leaves everything but the channel's
 * utterance *mean* unchanged. So adapting to a speaker needs no graph change: before the graph, shift the
 * channels that carry voice identity (pitch register, level, the cepstral means of voice and microphone)
 * by what the speaker's running mean differs from the population's. The shift is shrunk toward zero while
 * few clips are known (`n / (n + shrinkageClips)`), so one clip, or a stream that is mostly one emotion,
 * cannot move a voice far. `models/ser-lstm/ADAPTATION.md` has the measurements behind the defaults.
 */
export const SpeakerAdaptationSchema = z
  .object({
    /** Feature channels (frame vector indices) that are shifted, e.g. pitch and level. */
    channels: z.array(z.number().int().nonnegative()).min(1),
    /** The population's mean of each channel's per-clip mean (same order as `channels`). */
    populationMean: z.array(z.number()),
    /** Pseudo-clips of the population mixed into a speaker's mean: the shift is n / (n + this). */
    shrinkageClips: z.number().nonnegative(),
    /** Earlier clips of a speaker needed before a prediction is adapted (below: the context-free path). */
    minClips: z.number().int().min(1),
    /**
     * How the offsets reach the model: 'shift' (absent: every package before this option) adds them to
     * the frames' channels before the graph; 'input' leaves the frames as recorded and feeds the offsets
     * to the graph's `speaker_offset` input (zeros without context), for a model trained with that input
     * (training/lstm.ts `offsetInput`): it keeps the raw utterance means, which carry emotion too.
     */
    apply: z.enum(['shift', 'input']).optional(),
  })
  .strict()
  .refine((a) => a.populationMean.length === a.channels.length, {
    message: 'populationMean must have one value per channel',
  });

export type SpeakerAdaptation = z.infer<typeof SpeakerAdaptationSchema>;

/** Running aggregates of a speaker's per-clip channel means (Welford): no audio, no per-clip values. */
export interface SpeakerStatistics {
  count: number;
  mean: number[];
  /** Sum of squared deviations from the mean (variance = m2 / count). */
  m2: number[];
}

/** The mean of each adapted channel over every frame of a clip's windows (raw features, before CMVN). */
export function clipChannelMeans(
  windows: ReadonlyArray<{ matrix: FeatureMatrix; frames: number }>,
  channels: readonly number[],
): number[] {
  const sums = new Float64Array(channels.length);
  let frames = 0;
  for (const { matrix, frames: n } of windows) {
    for (let f = 0; f < n; f++) {
      channels.forEach((c, i) => {
        sums[i]! += matrix.data[f * matrix.dims + c]!;
      });
    }
    frames += n;
  }
  return Array.from(sums, (s) => (frames > 0 ? s / frames : 0));
}

/** Welford's update: the statistics with one more clip. */
export function addClip(stats: SpeakerStatistics | undefined, clip: readonly number[]): SpeakerStatistics {
  const count = (stats?.count ?? 0) + 1;
  const mean = [...(stats?.mean ?? clip.map(() => 0))];
  const m2 = [...(stats?.m2 ?? clip.map(() => 0))];
  clip.forEach((x, i) => {
    const delta = x - mean[i]!;
    mean[i]! += delta / count;
    m2[i]! += delta * (x - mean[i]!);
  });
  return { count, mean, m2 };
}

/** Whether stored statistics fit this adaptation (same number of channels, sane numbers). */
export const statisticsFit = (stats: SpeakerStatistics, adaptation: SpeakerAdaptation): boolean =>
  stats.count >= 0 &&
  stats.mean.length === adaptation.channels.length &&
  stats.m2.length === adaptation.channels.length &&
  [...stats.mean, ...stats.m2].every(Number.isFinite);

/**
 * What to add to each adapted channel of a clip of this speaker, or `undefined` below `minClips` (the
 * context-free path): the shrunk difference between the population's and the speaker's mean.
 */
export function speakerOffsets(
  stats: SpeakerStatistics | undefined,
  adaptation: SpeakerAdaptation,
): number[] | undefined {
  if (!stats || stats.count < adaptation.minClips || !statisticsFit(stats, adaptation)) return undefined;
  const weight = stats.count / (stats.count + adaptation.shrinkageClips);
  return adaptation.populationMean.map((population, i) => weight * (population - stats.mean[i]!));
}

/** Adds `offsets` to the adapted channels of the first `frames` frames of a raw feature matrix, in place. */
export function shiftChannels(
  matrix: FeatureMatrix,
  frames: number,
  channels: readonly number[],
  offsets: readonly number[],
): void {
  for (let f = 0; f < frames; f++) {
    const row = f * matrix.dims;
    channels.forEach((c, i) => {
      matrix.data[row + c]! += offsets[i]!;
    });
  }
}

/**
 * Names what a speaker's statistics were gathered for (adapted channels and population): statistics
 * stored under another key (a model adapting other channels) are not reused but start afresh.
 */
export const adaptationKey = (adaptation: SpeakerAdaptation): string =>
  createHash('sha256')
    .update(JSON.stringify([adaptation.channels, adaptation.populationMean]))
    .digest('hex')
    .slice(0, 16);
