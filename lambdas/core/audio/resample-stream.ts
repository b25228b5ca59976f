import { filterBank, resampledLength } from './resample.ts';

/**
 * `resample` fed chunk by chunk: decoders push mono chunks at the source rate and keep only the output
 * (16 kHz for the model), so memory follows the output, not the declared input rate (a 384 kHz file
 * would otherwise hold 24× more samples than the model needs). The output is sample for sample the one
 * `resample` gives for the whole signal (same bank, same position arithmetic, same summation order —
 * tested), so streaming changes no prediction.
 */
export interface StreamingResampler {
  /** Takes the next input samples; returns the output samples that no later input can change. */
  push(chunk: Float32Array): Float32Array;
  /** Ends the stream: returns the last output samples (edges replicate the last input sample). */
  finish(): Float32Array;
}

const passThrough = (): StreamingResampler => ({
  push: (chunk) => chunk,
  finish: () => new Float32Array(0),
});

export const createStreamingResampler = (fromRate: number, toRate: number): StreamingResampler => {
  if (!(fromRate > 0 && toRate > 0 && Number.isFinite(fromRate) && Number.isFinite(toRate))) {
    throw new RangeError(`Invalid sample rates ${fromRate} → ${toRate}`);
  }
  const from = Math.round(fromRate);
  const to = Math.round(toRate);
  if (from === to) return passThrough();
  const { phases, taps, firstOffset, coefficients } = filterBank(from, to);
  const baseStep = Math.floor(from / to);
  const remainderStep = from - baseStep * to;
  const phaseScale = phases / to;

  // Input kept from absolute index `keptFrom` on: only what the next output still needs.
  // Held as float64 (exact copies of the float32 input): the inner loop reads each sample ~taps·to/from
  // times, and a float32 read costs a conversion every time (same values, ~2× faster; resample.ts).
  let kept = new Float64Array(0);
  let keptFrom = 0;
  let received = 0;
  // Position of output `produced` as in `resample`: integer `base` + remainder / to.
  let produced = 0;
  let base = 0;
  let remainder = 0;

  /** First input index and filter row of the next output sample. */
  const nextTap = (): { start: number; row: number } => {
    let phase = Math.round(remainder * phaseScale);
    let start = base + firstOffset;
    if (phase === phases) {
      phase = 0;
      start++;
    }
    return { start, row: phase * taps };
  };
  const advance = () => {
    produced++;
    base += baseStep;
    remainder += remainderStep;
    if (remainder >= to) {
      remainder -= to;
      base++;
    }
  };
  const interior = (start: number, row: number): number => {
    // Same four-accumulator order as `resample`, so the sums are bit-identical.
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let k = 0; k < taps; k += 4) {
      const c = row + k;
      const s = start - keptFrom + k;
      a0 += coefficients[c]! * kept[s]!;
      a1 += coefficients[c + 1]! * kept[s + 1]!;
      a2 += coefficients[c + 2]! * kept[s + 2]!;
      a3 += coefficients[c + 3]! * kept[s + 3]!;
    }
    return a0 + a1 + a2 + a3;
  };
  const edge = (start: number, row: number, last: number): number => {
    let acc = 0;
    for (let k = 0; k < taps; k++) {
      const i = Math.min(last, Math.max(0, start + k));
      acc += coefficients[row + k]! * kept[i - keptFrom]!;
    }
    return acc;
  };
  /** Computes outputs while `ready(start)` holds, at most `limit` of them. */
  const drain = (ready: (start: number) => boolean, limit: number, total: number): Float32Array => {
    // Output j needs input up to j·from/to + taps: no more than this many can be ready.
    const capacity = Math.max(0, Math.min(limit, Math.ceil((total * to) / from) + 1) - produced);
    const out = new Float32Array(capacity);
    let count = 0;
    for (let next = nextTap(); count < capacity && ready(next.start); next = nextTap()) {
      const { start, row } = next;
      out[count++] = start >= 0 && start + taps <= total ? interior(start, row) : edge(start, row, total - 1);
      advance();
    }
    return out.subarray(0, count);
  };
  const dropConsumed = () => {
    // Index 0 stays while an output may still replicate it (start < 0).
    const needFrom = Math.max(0, Math.min(nextTap().start, received));
    if (needFrom > keptFrom) {
      kept = kept.slice(needFrom - keptFrom);
      keptFrom = needFrom;
    }
  };

  return {
    push(chunk) {
      if (chunk.length === 0) return new Float32Array(0);
      const joined = new Float64Array(kept.length + chunk.length);
      joined.set(kept);
      joined.set(chunk, kept.length);
      kept = joined;
      received += chunk.length;
      const out = drain((start) => start + taps <= received, Number.POSITIVE_INFINITY, received);
      dropConsumed();
      return out;
    },
    finish() {
      if (received === 0) return new Float32Array(0);
      return drain(() => true, resampledLength(received, from, to), received);
    },
  };
};
