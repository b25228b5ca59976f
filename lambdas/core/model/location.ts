import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../errors.ts';
import { type ModelMetadata, parseModelMetadata } from './metadata.ts';

/**
 * Where the shipped model package sits, relative to the repository root and to a deployment asset's root
 * (which carries it beside the bundle): the one place this folder name is written.
 */
export const BUNDLED_MODEL_FOLDER = 'models/ser-lstm';

/** The model shipped in the repository. */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL(`../../../${BUNDLED_MODEL_FOLDER}/`, import.meta.url));

/**
 * The bundled model package in `root` (a bundle's folder, where the deployment copies it), or undefined
 * when there is none there (run from source, the core finds its own: `BUNDLED_MODEL_DIR`).
 */
export function bundledModelIn(root: string): string | undefined {
  const dir = `${join(root, BUNDLED_MODEL_FOLDER)}/`;
  return existsSync(join(dir, METADATA_FILE)) ? dir : undefined;
}

/** A package's metadata (`parseModelMetadata`'s contract): the file that makes a folder a package. */
export const METADATA_FILE = 'metadata.json';

/**
 * A package's record of its test clips (training/pipeline.ts writes it): not read by prediction, but
 * stored with every registered package, since a training job's comparison leaves out the clips the active
 * version trained on (the rest of its corpora).
 */
export const SPLITS_FILE = 'splits.json';

/**
 * The files of the package in `dir` that prediction reads (`loadModelPackage`): its metadata and the
 * ONNX file the metadata names. A deployment ships these, not the package's report, figures or
 * development runs.
 */
export function modelRuntimeFiles(dir: string): string[] {
  return [METADATA_FILE, readModelMetadata(dir).onnxFile];
}

/**
 * The checked metadata of the package in `dir`: what `loadModelPackage` loads the model with, and what
 * the stack's synth, the local stack and the deploy-time registration read without loading it (sync:
 * they read it while building, before any I/O).
 */
export function readModelMetadata(dir: string): ModelMetadata {
  let json: string;
  try {
    json = readFileSync(join(dir, METADATA_FILE), 'utf8');
  } catch (cause) {
    throw new ModelError(`No model package at ${dir} (${METADATA_FILE} unreadable)`, { cause });
  }
  return parseModelMetadata(json, dir);
}
