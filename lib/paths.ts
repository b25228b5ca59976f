import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultModelDir } from '../lambdas/core/model/location.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const HANDLERS_DIR = `${PROJECT_ROOT}lambdas/handlers/`;
export const WEB_DIR = `${PROJECT_ROOT}lambdas/web/`;
/** The model package to ship: `SER_MODEL_DIR` (as for the core), else the repository's. */
export const DEFAULT_MODEL_DIR = defaultModelDir();

/** The shipped model's version, reported by GET /health without loading the model. */
export function readModelVersion(modelDir: string): string {
  const metadataPath = `${modelDir.replace(/\/?$/, '/')}metadata.json`;
  if (!existsSync(metadataPath)) {
    throw new Error(
      `No model package at ${modelDir} (metadata.json missing): train or fetch the model first`,
    );
  }
  const { version } = JSON.parse(readFileSync(metadataPath, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string' || version.length === 0) throw new Error(`${metadataPath} has no version`);
  return version;
}
