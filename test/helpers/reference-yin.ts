import type { PitchInput, YinSearch } from '../../lambdas/core/features/prosody.ts';

const YIN_THRESHOLD = 0.15;

/**
 * YIN's search as it stood when model 1.3.1's features (and the retraining that followed) were
 * computed: d′ for every lag up to `maxLag`, then the search. The parity test holds the lag-by-lag
 * version in prosody.ts to it, frame by frame.
 */
export function referenceYinPeriod(
  input: PitchInput,
  start: number,
  search: YinSearch,
): { period: number; cmnd: number } {
  const { x, energy } = input;
  const { window, minLag, maxLag } = search;
  const cmnd = new Float64Array(maxLag + 1);
  const e0 = energy[start + window]! - energy[start]!;
  let running = 0;
  cmnd[0] = 1;
  for (let tau = 1; tau <= maxLag; tau++) {
    // The same four running sums as prosody.ts's crossCorrelation, so equal values mean equal code paths.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < window; i += 4) {
      s0 += x[start + i]! * x[start + tau + i]!;
      s1 += x[start + i + 1]! * x[start + tau + i + 1]!;
      s2 += x[start + i + 2]! * x[start + tau + i + 2]!;
      s3 += x[start + i + 3]! * x[start + tau + i + 3]!;
    }
    for (; i < window; i++) s0 += x[start + i]! * x[start + tau + i]!;
    const cross = s0 + s1 + s2 + s3;
    const d = Math.max(0, e0 + energy[start + tau + window]! - energy[start + tau]! - 2 * cross);
    running += d;
    cmnd[tau] = running > 0 ? (d * tau) / running : 1;
  }
  let best = -1;
  let lowest = 1;
  for (let tau = minLag; tau <= maxLag; tau++) {
    if (cmnd[tau]! < lowest) lowest = cmnd[tau]!;
    if (best < 0 && cmnd[tau]! < YIN_THRESHOLD) {
      while (tau + 1 <= maxLag && cmnd[tau + 1]! < cmnd[tau]!) tau++;
      best = tau;
      lowest = cmnd[tau]!;
      break;
    }
  }
  if (best < 0) return { period: -1, cmnd: lowest };
  let period = best;
  if (best > minLag && best < maxLag) {
    const a = cmnd[best - 1]!;
    const b = cmnd[best]!;
    const c = cmnd[best + 1]!;
    const curvature = a - 2 * b + c;
    if (curvature > 0) period = best + (0.5 * (a - c)) / curvature;
  }
  return { period, cmnd: cmnd[best]! };
}
