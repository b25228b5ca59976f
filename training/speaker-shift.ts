import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import {
  type SpeakerAdaptation,
  shiftChannels,
  speakerOffsets,
} from '../lambdas/core/features/speaker-normalization.ts';
import { channelMeans, PRIOR_COUNTS } from './adaptive-streams.ts';
import type { OffsetMatrix } from './batches.ts';
import type { ClipFeatures } from './features.ts';
import { createRng, type Rng, seedFrom } from './random.ts';

/**
 * Speaker-shift training: the model learns the inputs that speaker adaptation gives it at inference.
 *
 * At inference an adapted clip's channels are shifted by `n / (n + shrinkage) · (population − speaker
 * mean of n earlier clips)` (lambdas/core/features/speaker-normalization.ts). A model trained on unshifted
 * clips only never saw such inputs, which is why adapting the 1.3 graph gained nothing
 * (models/ser-lstm/ADAPTATION.md). Here every training matrix (original and each copy) gets the shift of
 * its own seeded draw of n ∈ {0, 1, 3, 10, 30} earlier clips of the same speaker, so one graph learns both
 * the context-free input (n = 0) and adapted ones, each as noisy as a real stream makes them.
 *
 * Speaker-offset training (round 5c) draws the same n and earlier clips but leaves the frames alone: the
 * offset rides beside the matrix (`OffsetMatrix`) into its own head input (`LstmConfig.offsetInput`).
 */

/** Frame channels shifted: the 40 MFCCs, pitch and level (not voicing: how much is voiced is emotion). */
export const SHIFT_CHANNELS: readonly number[] = [...Array.from({ length: 40 }, (_, c) => c), 40, 42];
/** Only the voice's register: pitch and level (the MFCC means also carry emotion; round 5, run C). */
export const REGISTER_CHANNELS: readonly number[] = [40, 42];

/** The population's mean of each channel's per-clip mean: the mean over speakers of each speaker's mean. */
export function populationMean(items: readonly ClipFeatures[], channels: readonly number[]): number[] {
  const bySpeaker = clipMeansBySpeaker(items);
  const sums = channels.map(() => 0);
  for (const clips of bySpeaker.values()) {
    channels.forEach((c, i) => {
      sums[i]! += clips.reduce((s, m) => s + m[c]!, 0) / clips.length;
    });
  }
  return sums.map((s) => s / Math.max(1, bySpeaker.size));
}

/** Per-clip channel means of the clean originals, grouped by speaker. */
function clipMeansBySpeaker(items: readonly ClipFeatures[]): Map<string, Float64Array[]> {
  const bySpeaker = new Map<string, Float64Array[]>();
  for (const item of items) {
    const list = bySpeaker.get(item.clip.speaker) ?? [];
    list.push(channelMeans(item.original));
    bySpeaker.set(item.clip.speaker, list);
  }
  return bySpeaker;
}

/** The shift after the earlier clips `prior` (their channel means); undefined without any. */
export function offsetsAfter(
  prior: readonly Float64Array[],
  adaptation: SpeakerAdaptation,
): number[] | undefined {
  if (prior.length === 0) return undefined;
  const mean = adaptation.channels.map((c) => prior.reduce((s, m) => s + m[c]!, 0) / prior.length);
  return speakerOffsets({ count: prior.length, mean, m2: mean.map(() => 0) }, adaptation);
}

/** `k` earlier clips drawn with repeats from `pool` (a training speaker's other clips). */
const drawWithRepeats = (pool: readonly Float64Array[], k: number, rng: Rng) =>
  pool.length === 0 ? [] : Array.from({ length: k }, () => pool[Math.floor(rng() * pool.length)]!);

/** A copy of `matrix` with `offsets` added to the adapted channels (unchanged without offsets). */
export function shifted(
  matrix: FeatureMatrix,
  adaptation: SpeakerAdaptation,
  offsets: number[] | undefined,
): FeatureMatrix {
  if (!offsets) return matrix;
  const copy = { ...matrix, data: matrix.data.slice() };
  shiftChannels(copy, copy.frames, adaptation.channels, offsets);
  return copy;
}

/** `matrix` (unshifted) carrying `offsets`, or zeros (the context-free input) without any. */
export function withOffset(
  matrix: FeatureMatrix,
  adaptation: SpeakerAdaptation,
  offsets: number[] | undefined,
): OffsetMatrix {
  const offset = offsets ? Float32Array.from(offsets) : new Float32Array(adaptation.channels.length);
  return { ...matrix, offset };
}

/** What a drawn adaptation does to a matrix: shift its channels, or attach the offset beside it. */
type Apply = (
  matrix: FeatureMatrix,
  offsets: number[] | undefined,
  draw: { original: FeatureMatrix; clips: number },
) => FeatureMatrix;

/**
 * Every matrix of `items` given its own seeded stream draw: n uniform over PRIOR_COUNTS, the n earlier
 * clips drawn from the same speaker's *other* clips in `items`; `apply` turns the draw's offsets into
 * the matrix the model trains on. Shift and offset training share this draw (same seed, same n, same
 * earlier clips), so run D/E's shifted inputs are reproduced exactly.
 */
function speakerDrawItems(
  items: readonly ClipFeatures[],
  seed: number,
  adaptation: SpeakerAdaptation,
  apply: Apply,
) {
  const bySpeaker = clipMeansBySpeaker(items);
  const ownIndex = new Map<ClipFeatures, number>();
  const seen = new Map<string, number>();
  for (const item of items) {
    const n = seen.get(item.clip.speaker) ?? 0;
    ownIndex.set(item, n);
    seen.set(item.clip.speaker, n + 1);
  }
  return items.map((item): ClipFeatures => {
    const clips = bySpeaker.get(item.clip.speaker)!;
    const pool = clips.filter((_, i) => i !== ownIndex.get(item));
    const draw = (matrix: FeatureMatrix, copy: number) => {
      const rng = createRng(seedFrom(seed, item.fileHash, copy));
      const k = PRIOR_COUNTS[Math.floor(rng() * PRIOR_COUNTS.length)]!;
      const prior = drawWithRepeats(pool, k, rng);
      return apply(matrix, offsetsAfter(prior, adaptation), { original: item.original, clips: prior.length });
    };
    return {
      ...item,
      original: draw(item.original, 0),
      augmented: item.augmented.map((m, j) => draw(m, 1 + j)),
      channel: item.channel.map((m, j) => draw(m, 100 + j)),
    };
  });
}

/** Training items with every matrix shifted by its own seeded stream draw (runs D and E). */
export const speakerShiftItems = (
  items: readonly ClipFeatures[],
  adaptation: SpeakerAdaptation,
  seed: number,
): ClipFeatures[] => speakerDrawItems(items, seed, adaptation, (m, o) => shifted(m, adaptation, o));

/**
 * A copy's offset as if its speaker were a virtual one, every clip changed as this copy was: that
 * speaker's mean is the speaker's plus (copy − original) on each channel, so the offset loses
 * `n/(n+k)` of that difference. A speaker-like copy (pitch and formants scaled by up to ±4 semitones) or a
 * channel copy then carries an offset that agrees with its own register, as a real voice's does.
 */
export function virtualSpeakerOffsets(
  offsets: readonly number[],
  copy: FeatureMatrix,
  draw: { original: FeatureMatrix; clips: number },
  adaptation: SpeakerAdaptation,
): number[] {
  const weight = draw.clips / (draw.clips + adaptation.shrinkageClips);
  const [mine, original] = [channelMeans(copy), channelMeans(draw.original)];
  return offsets.map((o, i) => {
    const c = adaptation.channels[i]!;
    return o - weight * (mine[c]! - original[c]!);
  });
}

/**
 * Training items whose every matrix stays as recorded and carries the offset of its own seeded stream
 * draw (the same draw as `speakerShiftItems`): the head keeps the raw utterance statistics, which carry
 * emotion, and learns what the speaker's offset adds to them. n = 0 gives offset 0, the context-free input.
 * `virtualSpeakers`: each copy's offset is its virtual speaker's (`virtualSpeakerOffsets`), not the
 * recorded speaker's.
 */
export const speakerOffsetItems = (
  items: readonly ClipFeatures[],
  adaptation: SpeakerAdaptation,
  seed: number,
  virtualSpeakers = false,
): ClipFeatures[] =>
  speakerDrawItems(items, seed, adaptation, (m, o, draw) =>
    withOffset(
      m,
      adaptation,
      virtualSpeakers && o && m !== draw.original ? virtualSpeakerOffsets(o, m, draw, adaptation) : o,
    ),
  );
