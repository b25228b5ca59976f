import * as z from 'zod';
import { ModelError } from '../errors.ts';
import { FeatureConfigSchema } from '../features/config.ts';
import { SpeakerAdaptationSchema } from '../features/speaker-normalization.ts';
import { CalibrationSchema } from './calibration.ts';

/**
 * A model version: it names one package for good and is a key segment (`models/<version>/` in the bucket,
 * the registry's item key, the activation route's path), so 1-64 of letters, digits and `_ . + -`. Checked
 * where a version is written (`npm run train --model-version`), read (every package's metadata) and asked
 * for (POST /models/{version}/activate).
 */
export const ModelVersionSchema = z
  .string()
  .regex(/^[\w.+-]{1,64}$/, 'a model version is 1-64 letters, digits, "_", ".", "+" or "-"');

/**
 * `metadata.json` of a model package. A package is a folder holding `metadata.json`, the ONNX file it
 * names (`onnxFile`, sha256-checked on load) and, for shipped models, `REPORT.md` with its figures.
 *
 * ONNX contract:
 * - input `features`: float32 [batch, frames, dims], frames = `input.frames` (one analysis window of
 *   `input.windowSec` seconds; shorter inputs are zero-padded at the end), dims = feature dimension;
 * - input `lengths`: int32 [batch], the number of real (unpadded) frames of each row (1..frames);
 * - output `probabilities`: float32 [batch, labels.length], softmax over `labels` in that order;
 * - optional input `speaker_offset`: float32 [batch, C] with `speakerAdaptation.apply` 'input' (C = its
 *   channels): the speaker offset of each row, zeros for the context-free path.
 */
export const ModelMetadataSchema = z.object({
  name: z.string().min(1),
  version: ModelVersionSchema,
  createdAt: z.string(),
  labels: z.array(z.string().min(1)).min(2),
  featureConfig: FeatureConfigSchema,
  input: z.object({
    windowSec: z.number().positive(),
    frames: z.number().int().positive(),
    dims: z.number().int().positive(),
  }),
  onnxFile: z.string().regex(/^[\w.-]+\.onnx$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Free-form, but written down: corpora, split, seed, epochs, augmentation, architecture. */
  training: z.record(z.string(), z.unknown()),
  /** Metrics per evaluation split, e.g. `{ "tess-random": { accuracy, macroF1, … } }`. */
  metrics: z.record(z.string(), z.unknown()),
  /** Temperature and low-confidence threshold (see calibration.ts); absent in packages before 1.4.0. */
  calibration: CalibrationSchema.optional(),
  /**
   * How predictions adapt to a speaker's earlier clips (see features/speaker-normalization.ts); absent:
   * the package does not adapt, and a `speakerId` only labels the prediction.
   */
  speakerAdaptation: SpeakerAdaptationSchema.optional(),
});

export type ModelMetadata = z.infer<typeof ModelMetadataSchema>;

/** A package's `metadata.json` text, checked against the contract above; `source` names it in errors. */
export function parseModelMetadata(json: string, source: string): ModelMetadata {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new ModelError(`${source}: metadata is not valid JSON`, { cause });
  }
  try {
    return ModelMetadataSchema.parse(value);
  } catch (cause) {
    const detail =
      cause instanceof z.ZodError ? cause.issues.map((i) => `${i.path.join('.')}: ${i.message}`) : [];
    throw new ModelError(
      `${source}: metadata is not a model package this core supports (${detail.join('; ')})`,
      {
        cause,
      },
    );
  }
}
