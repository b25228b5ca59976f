import * as z from 'zod';
import { PROSODY_CHANNELS } from './prosody.ts';

/**
 * The one description of how audio becomes model input. A model package carries this object in its
 * metadata, and both training and inference build their extractor from it, so the two can never disagree.
 *
 * Definition (meyda 5.6's MFCC, which is *not* librosa's):
 * - samples are mono at `sampleRate`, loudness-normalised (see `loudness`) and then multiplied by
 *   `sampleScale`: meyda takes `log(melEnergy + 1)`, so the result depends on the amplitude scale; at int16
 *   scale the `+1` only matters for near-silence, which then maps to ~0 instead of a large negative number;
 * - frames of `frameSize` samples (a power of two, meyda's FFT requirement) every `hopSize` samples, only
 *   whole frames (meyda's `frame()`), each multiplied by meyda's `window`;
 * - power spectrum of bins 0..frameSize/2-1 (the Nyquist bin is dropped);
 * - `melBands` triangular filters with peak 1 (not area-normalised) on the HTK mel scale
 *   (`1125·ln(1 + f/700)`) from 0 Hz to Nyquist, edges rounded down to FFT bins;
 * - log-mel = `ln(energy + 1)`; MFCC = unnormalised DCT-II (`2·Σ x[n]·cos(π/N·(n+½)·k)`) of the log-mel
 *   vector, first `mfccCoefficients` kept;
 * - `normalization: 'utterance'` then subtracts each coefficient's mean and divides by its standard
 *   deviation over the frames of one model input (per-utterance CMVN), which removes much of the
 *   speaker and channel from the features.
 */
export const WINDOW_FUNCTIONS = ['hanning', 'hamming', 'blackman', 'sine', 'rect'] as const;
export const FEATURE_KINDS = ['mfcc', 'logmel'] as const;

const isPowerOfTwo = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

export const FeatureConfigSchema = z
  .object({
    /** Which definition this is; bump when the meaning of any field changes. */
    definition: z.literal('meyda-5.6-mfcc/v1'),
    sampleRate: z.number().int().min(4000).max(48000),
    frameSize: z.number().int().refine(isPowerOfTwo, 'frameSize must be a power of two (meyda FFT)'),
    hopSize: z.number().int().positive(),
    window: z.enum(WINDOW_FUNCTIONS),
    melBands: z.number().int().min(1).max(128),
    mfccCoefficients: z.number().int().min(1).max(40),
    /** Which vector each frame yields: MFCC (`mfccCoefficients` values) or log-mel (`melBands` values). */
    kind: z.enum(FEATURE_KINDS),
    /** Multiplier applied to [-1, 1] samples before meyda (see above). */
    sampleScale: z.number().positive(),
    /** Loudness normalisation before extraction: active-speech RMS brought to `targetDbfs`, gain capped. */
    loudness: z.object({
      targetDbfs: z.number().max(0),
      maxGainDb: z.number().min(0),
    }),
    normalization: z.enum(['none', 'utterance']),
    /**
     * Append 3 prosody channels to every frame: pitch (semitones re 100 Hz), voicing and level (dBFS);
     * see prosody.ts. Absent means no (packages made before it existed).
     */
    prosody: z.boolean().optional(),
  })
  .strict()
  .refine((c) => c.hopSize <= c.frameSize, 'hopSize must not exceed frameSize')
  .refine(
    (c) => c.melBands >= c.mfccCoefficients,
    'melBands must be >= mfccCoefficients (meyda rebuilds otherwise)',
  );

export type FeatureConfig = z.infer<typeof FeatureConfigSchema>;

/** 16 kHz, 32 ms Hann frames every 20 ms, 40 mel bands, 40 MFCCs at int16 scale, per-utterance CMVN. */
export const DEFAULT_FEATURE_CONFIG: FeatureConfig = Object.freeze({
  definition: 'meyda-5.6-mfcc/v1',
  sampleRate: 16_000,
  frameSize: 512,
  hopSize: 320,
  window: 'hanning',
  melBands: 40,
  mfccCoefficients: 40,
  kind: 'mfcc',
  sampleScale: 32_768,
  loudness: Object.freeze({ targetDbfs: -20, maxGainDb: 40 }),
  normalization: 'utterance',
}) as FeatureConfig;

/** Values per frame from the spectrum: MFCCs or log-mel bands. */
export const spectralDimension = (config: FeatureConfig): number =>
  config.kind === 'mfcc' ? config.mfccCoefficients : config.melBands;

/** Values per frame: the spectral ones, then the prosody channels if enabled. */
export const featureDimension = (config: FeatureConfig): number =>
  spectralDimension(config) + (config.prosody ? PROSODY_CHANNELS : 0);

/** Parses an untrusted config (e.g. from a model's metadata); throws a ZodError that names the bad field. */
export const parseFeatureConfig = (value: unknown): FeatureConfig => FeatureConfigSchema.parse(value);
