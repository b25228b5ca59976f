import { fileURLToPath } from 'node:url';
import { defaultModelDir, readModelMetadata } from '../lambdas/core/model/location.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const HANDLERS_DIR = `${PROJECT_ROOT}lambdas/handlers/`;
export const WEB_DIR = `${PROJECT_ROOT}lambdas/web/`;
/** The model package to ship: `SER_MODEL_DIR` (as for the core), else the repository's. */
export const DEFAULT_MODEL_DIR = defaultModelDir();

/** The shipped model's version, reported by GET /health without loading the model. */
export const readModelVersion = (modelDir: string): string => readModelMetadata(modelDir).version;
