import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../errors.ts';
import { ModelMetadataSchema } from './metadata.ts';

/** The model shipped in the repository (and copied into the Lambda asset beside the bundle). */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL('../../../models/ser-lstm/', import.meta.url));

/**
 * The model package used when none is named: `SER_MODEL_DIR`, else the bundled one. The one rule for the
 * core, the CLI, the bench, the local stack and the CDK stack (which ships this folder).
 */
export const defaultModelDir = (env: NodeJS.ProcessEnv = process.env): string =>
  env.SER_MODEL_DIR ?? BUNDLED_MODEL_DIR;

/**
 * The files of the package in `dir` that prediction reads (`loadModelPackage`): its metadata and the
 * ONNX file the metadata names. A deployment ships these, not the package's report, figures or
 * development runs.
 */
export function modelRuntimeFiles(dir: string): string[] {
  try {
    const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
    return ['metadata.json', ModelMetadataSchema.pick({ onnxFile: true }).parse(metadata).onnxFile];
  } catch (cause) {
    throw new ModelError(`${dir}: no model package here (metadata.json unreadable or without onnxFile)`, {
      cause,
    });
  }
}
