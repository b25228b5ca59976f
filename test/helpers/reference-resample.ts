import { filterBank, resampledLength } from '../../lambdas/core/audio/resample.ts';

/**
 * The whole-signal resampling loop as it stood before the streaming and whole-signal resamplers became
 * one implementation (the features of model 1.3.1 and the retraining that followed were computed with
 * it, summing in float64): the parity test holds the SIMD resampler to it within 1e-6. Integer rates only.
 */
export const referenceResample = (input: Float32Array, fromRate: number, toRate: number): Float32Array => {
  if (!(fromRate > 0 && toRate > 0 && Number.isFinite(fromRate) && Number.isFinite(toRate))) {
    throw new RangeError(`Invalid sample rates ${fromRate} → ${toRate}`);
  }
  if (fromRate === toRate) return input;
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate)) {
    // The exact position arithmetic below is integer; a fractional rate is rounded (error < 0.5 Hz).
    return referenceResample(input, Math.round(fromRate), Math.round(toRate));
  }
  const { phases, taps, firstOffset, coefficients } = filterBank(fromRate, toRate);
  // Each input sample is read ~taps·to/from times: convert it to float64 once, not at every read.
  const samples = Float64Array.from(input);
  const n = samples.length;
  const outLength = resampledLength(n, fromRate, toRate);
  const out = new Float32Array(outLength);
  if (n === 0) return out;
  const last = n - 1;
  // Position j·from/to tracked as integer `base` + remainder/toRate, so it never drifts on long inputs.
  const baseStep = Math.floor(fromRate / toRate);
  const remainderStep = fromRate - baseStep * toRate;
  const phaseScale = phases / toRate;
  let base = 0;
  let remainder = 0;
  for (let j = 0; j < outLength; j++) {
    if (j > 0) {
      base += baseStep;
      remainder += remainderStep;
      if (remainder >= toRate) {
        remainder -= toRate;
        base++;
      }
    }
    let phase = Math.round(remainder * phaseScale);
    let start = base + firstOffset;
    if (phase === phases) {
      phase = 0;
      start++;
    }
    const row = phase * taps;
    let acc = 0;
    if (start >= 0 && start + taps <= n) {
      // Four independent sums: one running sum is bound by FP-add latency (~4× slower in V8).
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let k = 0; k < taps; k += 4) {
        const c = row + k;
        const s = start + k;
        a0 += coefficients[c]! * samples[s]!;
        a1 += coefficients[c + 1]! * samples[s + 1]!;
        a2 += coefficients[c + 2]! * samples[s + 2]!;
        a3 += coefficients[c + 3]! * samples[s + 3]!;
      }
      acc = a0 + a1 + a2 + a3;
    } else {
      // Edges: replicate the end samples so DC and slow signals are not pulled towards zero.
      for (let k = 0; k < taps; k++) {
        const i = start + k;
        acc += coefficients[row + k]! * samples[Math.min(last, Math.max(0, i))]!;
      }
    }
    out[j] = acc;
  }
  return out;
};
