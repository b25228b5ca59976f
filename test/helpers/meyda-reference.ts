import MeydaModule from 'meyda';
import { type FeatureConfig, featureDimension } from '../../lambdas/core/features/config.ts';
import type { FeatureMatrix } from '../../lambdas/core/features/extract.ts';
import { frameCount } from '../../lambdas/core/features/extract.ts';
import { scaleForExtraction } from '../../lambdas/core/features/loudness.ts';

/** The settings and entry point of meyda's global singleton that we use (its typings mis-describe the CJS default). */
interface MeydaSingleton {
  bufferSize: number;
  sampleRate: number;
  melBands: number;
  numberOfMFCCCoefficients: number;
  windowingFunction: string;
  melFilterBank?: unknown;
  extract(feature: string, signal: Float32Array): unknown;
}
const Meyda = MeydaModule as unknown as MeydaSingleton;

/**
 * The definition of our features: meyda itself, frame by frame. Slow (it allocates per frame); used only
 * to test the fast extractor against and to show the speed-up in the benchmark.
 */
export function extractWithMeyda(samples: Float32Array, config: FeatureConfig): FeatureMatrix {
  // Meyda keeps its settings in a global singleton and does not rebuild its filter bank when
  // sampleRate/bufferSize change after a first call: set everything and drop the cached bank.
  Meyda.bufferSize = config.frameSize;
  Meyda.sampleRate = config.sampleRate;
  Meyda.melBands = config.melBands;
  Meyda.numberOfMFCCCoefficients = config.mfccCoefficients;
  Meyda.windowingFunction = config.window;
  Meyda.melFilterBank = undefined;

  const signal = scaleForExtraction(samples, config);
  const padded = signal.length < config.frameSize ? new Float32Array(config.frameSize) : signal;
  if (padded !== signal) padded.set(signal);
  const dims = featureDimension(config);
  const frames = frameCount(padded.length, config.frameSize, config.hopSize);
  const data = new Float32Array(frames * dims);
  const feature = config.kind === 'mfcc' ? 'mfcc' : 'melBands';
  for (let f = 0; f < frames; f++) {
    const start = f * config.hopSize;
    const frame = padded.subarray(start, start + config.frameSize);
    const values = Meyda.extract(feature, frame) as number[];
    for (let d = 0; d < dims; d++) data[f * dims + d] = values[d]!;
  }
  return { frames, dims, data };
}
