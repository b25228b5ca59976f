import { hanning } from 'meyda/dist/node/windowing.js';
import { SpectralKernel } from '../features/spectral-kernel.ts';
import type { SpeechRegion } from './vad.ts';

const FRAME = 512;
const MAX_FRAMES = 16;
/** Its own instance of the features' spectral kernel (created on first use), one frame a call. */
let kernel: SpectralKernel | undefined;

/**
 * Spectral flatness (geometric over arithmetic mean of the power spectrum, 0…1) of the average spectrum
 * of up to 16 frames spread over the speech regions. Voice has harmonics and formants (≈ 0.01–0.2);
 * white or clipping noise is flat (≈ 0.9). WebRTC's VAD calls loud noise speech, so this is the second
 * gate before `NO_SPEECH`. Costs ≤ 16 FFTs in the features' WebAssembly kernel (spectral-kernel.ts).
 */
export function speechSpectralFlatness(
  samples: Float32Array,
  sampleRate: number,
  regions: SpeechRegion[],
): number {
  const starts: number[] = [];
  const total = regions.reduce((sum, r) => sum + (r.endSec - r.startSec), 0);
  const step = total / MAX_FRAMES;
  for (const r of regions) {
    for (let t = r.startSec; t < r.endSec; t += step) {
      const start = Math.floor(t * sampleRate);
      if (start + FRAME <= samples.length) starts.push(start);
    }
  }
  if (starts.length === 0) return 0;
  kernel ??= new SpectralKernel({ size: FRAME, hop: FRAME, window: hanning(FRAME), block: 1 });
  const power = new Float64Array(FRAME / 2);
  for (const start of starts) {
    kernel.spectra(samples, start, 1);
    for (let k = 0; k < FRAME / 2; k++) power[k]! += kernel.power[k]!;
  }
  // Skip the lowest bins (DC, hum) where even noise recordings are not flat.
  let logSum = 0;
  let sum = 0;
  const from = 4;
  for (let k = from; k < FRAME / 2; k++) {
    const p = power[k]! + 1e-20;
    logSum += Math.log(p);
    sum += p;
  }
  const n = FRAME / 2 - from;
  return Math.exp(logSum / n) / (sum / n);
}
