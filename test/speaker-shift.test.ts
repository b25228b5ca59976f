import { describe, expect, it } from 'vitest';
import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import type { SpeakerAdaptation } from '../lambdas/core/features/speaker-normalization.ts';
import { createStreamTally, streamCells } from '../training/adaptive-folds.ts';
import { PRIOR_COUNTS } from '../training/adaptive-streams.ts';
import { offsetOf } from '../training/batches.ts';
import type { ClipFeatures } from '../training/features.ts';
import {
  offsetsAfter,
  populationMean,
  SHIFT_CHANNELS,
  speakerOffsetItems,
  speakerShiftItems,
} from '../training/speaker-shift.ts';

const DIMS = 43;
const LABELS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'surprise', 'sad'] as const;

/** A clip whose every frame holds `level` on each channel plus the channel index (so channels differ). */
function matrix(level: number, frames = 4): FeatureMatrix {
  const data = new Float32Array(frames * DIMS);
  for (let f = 0; f < frames; f++) for (let d = 0; d < DIMS; d++) data[f * DIMS + d] = level + d;
  return { data, frames, dims: DIMS } as FeatureMatrix;
}

const item = (speaker: string, i: number, level: number, copies = 2): ClipFeatures =>
  ({
    clip: { path: `/d/${speaker}/${i}.wav`, corpus: 'ravdess', speaker, text: 't', emotion: LABELS[i % 7] },
    fileHash: `${speaker}-${i}`,
    original: matrix(level),
    augmented: Array.from({ length: copies }, () => matrix(level + 0.5)),
    channel: [],
  }) as unknown as ClipFeatures;

// Speaker a sits 10 above speaker b on every channel; a has twice as many clips.
const items = [
  ...Array.from({ length: 14 }, (_, i) => item('a', i, 10)),
  ...Array.from({ length: 7 }, (_, i) => item('b', i, 0)),
];
const adaptation = (population: number[]): SpeakerAdaptation => ({
  channels: [...SHIFT_CHANNELS],
  populationMean: population,
  shrinkageClips: 3,
  minClips: 1,
});

describe('speaker-shift training', () => {
  it('the population is the mean over speakers, not over clips', () => {
    const population = populationMean(items, SHIFT_CHANNELS);
    expect(population[0]).toBeCloseTo(5, 5); // (10 + 0) / 2, although a has 14 clips and b 7
    expect(population[SHIFT_CHANNELS.indexOf(42)]).toBeCloseTo(5 + 42, 5);
  });

  it('n earlier clips move a voice n/(n+shrinkage) of the way to the population', () => {
    const a = adaptation(populationMean(items, SHIFT_CHANNELS));
    const prior = [items[0]!, items[1]!, items[2]!].map((i) =>
      Float64Array.from(i.original.data.slice(0, DIMS)),
    );
    expect(offsetsAfter(prior, a)![0]).toBeCloseTo((3 / 6) * (5 - 10), 5);
    expect(offsetsAfter([], a)).toBeUndefined();
  });

  it('shifts each training matrix by one constant per channel, seeded, never the voicing channel', () => {
    const a = adaptation(populationMean(items, SHIFT_CHANNELS));
    const once = speakerShiftItems(items, a, 7);
    const again = speakerShiftItems(items, a, 7);
    expect(once.map((i) => Array.from(i.original.data))).toEqual(
      again.map((i) => Array.from(i.original.data)),
    );
    let shiftedCount = 0;
    for (const [n, shiftedItem] of once.entries()) {
      for (const [m, before] of [items[n]!.original, ...items[n]!.augmented].entries()) {
        const after = m === 0 ? shiftedItem.original : shiftedItem.augmented[m - 1]!;
        const delta = (f: number, d: number) => after.data[f * DIMS + d]! - before.data[f * DIMS + d]!;
        expect(delta(0, 41)).toBe(0);
        for (const d of SHIFT_CHANNELS) expect(delta(3, d)).toBeCloseTo(delta(0, d), 4);
        if (delta(0, 0) !== 0) shiftedCount++;
        // Speaker a is above the population: any shift lowers it, by at most the full distance.
        if (items[n]!.clip.speaker === 'a') expect(delta(0, 0)).toBeLessThanOrEqual(0);
        expect(Math.abs(delta(0, 0))).toBeLessThanOrEqual(5 + 1e-4);
      }
    }
    // n = 0 (unshifted) is one of five stream positions: most matrices are shifted, some are not.
    const total = items.length * 3;
    expect(shiftedCount).toBeGreaterThan(total / 2);
    expect(shiftedCount).toBeLessThan(total);
  });

  it('adaptive streams: one cell per k and stream kind, and a tally that reads back the accuracy', () => {
    const held = items.filter((i) => i.clip.speaker === 'b');
    const a = adaptation(populationMean(items, SHIFT_CHANNELS));
    const cells = streamCells(held, LABELS, a, 1);
    expect(cells).toHaveLength(1 + (PRIOR_COUNTS.length - 1) * (1 + LABELS.length));
    const tally = createStreamTally(LABELS);
    for (const cell of cells) tally.add(cell, cell.truth, held); // a perfect model
    const curves = tally.curves();
    expect(curves.map((c) => c.balanced)).toEqual(PRIOR_COUNTS.map(() => 1));
    expect(curves.every((c) => c.skewed === 1 && c.skewedWorstDelta === 0)).toBe(true);
  });

  it('speaker-offset items keep the frames and carry, per matrix, exactly the shift of the same draw', () => {
    const a = adaptation(populationMean(items, SHIFT_CHANNELS));
    const shiftedItems = speakerShiftItems(items, a, 7);
    const offsetItems = speakerOffsetItems(items, a, 7);
    let zero = 0;
    for (const [n, withOffset] of offsetItems.entries()) {
      const before = [items[n]!.original, ...items[n]!.augmented];
      const after = [withOffset.original, ...withOffset.augmented];
      const moved = [shiftedItems[n]!.original, ...shiftedItems[n]!.augmented];
      for (const [m, matrix] of after.entries()) {
        expect(matrix.data).toEqual(before[m]!.data);
        const offset = offsetOf(matrix)!;
        expect(offset).toHaveLength(SHIFT_CHANNELS.length);
        SHIFT_CHANNELS.forEach((d, i) => {
          expect(offset[i]!).toBeCloseTo(moved[m]!.data[d]! - before[m]!.data[d]!, 4);
        });
        if (offset.every((v) => v === 0)) zero++;
      }
    }
    // n = 0 (no context) gives offset 0, not a missing one.
    expect(zero).toBeGreaterThan(0);
    expect(zero).toBeLessThan(items.length * 3);
  });

  it('virtual speakers: a copy 0.5 above its original gets n/(n+k)·0.5 less offset; originals unchanged', () => {
    const a = adaptation(populationMean(items, SHIFT_CHANNELS));
    const plain = speakerOffsetItems(items, a, 7);
    const virtual = speakerOffsetItems(items, a, 7, true);
    const weights = PRIOR_COUNTS.map((n) => n / (n + 3));
    for (const [n, item] of virtual.entries()) {
      expect(offsetOf(item.original)).toEqual(offsetOf(plain[n]!.original));
      item.augmented.forEach((copy, j) => {
        const before = offsetOf(plain[n]!.augmented[j]!)!;
        const after = offsetOf(copy)!;
        const weight = (before[0]! - after[0]!) / 0.5;
        expect(weights.some((w) => Math.abs(w - weight) < 1e-4)).toBe(true);
        if (before.every((v) => v === 0)) expect(Array.from(after).every((v) => v === 0)).toBe(true);
        after.forEach((v, i) => {
          expect(v).toBeCloseTo(before[i]! - weight * 0.5, 4);
        });
      });
    }
  });

  it('offset streams: the same cells as shift streams, frames as recorded, offset 0 at k = 0', () => {
    const held = items.filter((i) => i.clip.speaker === 'b');
    const a = adaptation(populationMean(items, SHIFT_CHANNELS));
    const shiftCells = streamCells(held, LABELS, a, 1);
    const inputCells = streamCells(held, LABELS, a, 1, 'input');
    expect(inputCells.map((c) => [c.k, c.dominant, c.truth, c.weights])).toEqual(
      shiftCells.map((c) => [c.k, c.dominant, c.truth, c.weights]),
    );
    inputCells.forEach((cell, c) => {
      cell.items.forEach((it, r) => {
        const original = held.find((h) => h.fileHash === it.fileHash)!.original;
        expect(it.original.data).toEqual(original.data);
        const offset = offsetOf(it.original)!;
        if (cell.k === 0) expect(Array.from(offset).every((v) => v === 0)).toBe(true);
        const delta = shiftCells[c]!.items[r]!.original.data[0]! - original.data[0]!;
        expect(offset[0]!).toBeCloseTo(delta, 4);
      });
    });
  });
});
