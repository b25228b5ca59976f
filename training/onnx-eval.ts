import * as ort from 'onnxruntime-node';
import type { FeatureMatrix } from '../lambdas/core/features/extract.ts';
import { speakerOffsetWidth } from '../lambdas/core/model/runtime.ts';
import { evaluationWindows, offsetOf } from './batches.ts';
import type { ClipFeatures } from './features.ts';

/**
 * Runs an exported model in onnxruntime-node the way the API does (fixed `frames` rows, zero-padded,
 * `lengths` = real frames) on each clip's evaluation windows; a clip's probabilities are the mean over
 * its windows. Returns [clips × labels].
 */
export async function predictWithOnnx(
  onnxBytes: Uint8Array,
  items: ClipFeatures[],
  frames: number,
  labelCount: number,
  batchSize = 64,
  cmvn = true,
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(onnxBytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    const matrices = items.map((item) => item.original);
    const options = { cmvn, batchSize };
    return Float32Array.from(await windowProbabilities(session, matrices, frames, labelCount, options));
  } finally {
    await session.release();
  }
}

/**
 * Each matrix's probabilities, the mean over its evaluation windows, through an open session in batches
 * of `batchSize` windows (fixed `frames` rows, zero-padded; `lengths` = real frames). [matrices × labels].
 * A graph with a `speaker_offset` input gets each matrix's offset (batches.ts `OffsetMatrix`), zeros
 * for a matrix without one.
 */
export async function windowProbabilities(
  session: ort.InferenceSession,
  matrices: FeatureMatrix[],
  frames: number,
  labelCount: number,
  { cmvn, batchSize }: { cmvn: boolean; batchSize: number },
): Promise<Float64Array> {
  const rows = matrices.flatMap((m, clip) => evaluationWindows(m, frames, cmvn).map((w) => ({ clip, w })));
  const sums = new Float64Array(matrices.length * labelCount);
  const counts = new Float64Array(matrices.length);
  const offsetWidth = speakerOffsetWidth(session);
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    const dims = batch[0]!.w.dims;
    const features = new Float32Array(batch.length * frames * dims);
    const lengths = new Int32Array(batch.length);
    batch.forEach(({ w }, i) => {
      features.set(w.data.subarray(0, w.frames * dims), i * frames * dims);
      lengths[i] = w.frames;
    });
    const offsets = new Float32Array(batch.length * offsetWidth);
    batch.forEach(({ w }, i) => {
      const offset = offsetOf(w);
      if (offsetWidth > 0 && offset) offsets.set(offset, i * offsetWidth);
    });
    const output = await session.run({
      features: new ort.Tensor('float32', features, [batch.length, frames, dims]),
      lengths: new ort.Tensor('int32', lengths, [batch.length]),
      ...(offsetWidth > 0
        ? { speaker_offset: new ort.Tensor('float32', offsets, [batch.length, offsetWidth]) }
        : {}),
    });
    const p = output.probabilities!.data as Float32Array;
    batch.forEach(({ clip }, i) => {
      for (let l = 0; l < labelCount; l++) sums[clip * labelCount + l]! += p[i * labelCount + l]!;
      counts[clip]! += 1;
    });
  }
  return sums.map((v, i) => v / counts[Math.floor(i / labelCount)]!);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`Length mismatch ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
