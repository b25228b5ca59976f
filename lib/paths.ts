import { fileURLToPath } from 'node:url';
import { BUNDLED_MODEL_DIR, readModelMetadata } from '../lambdas/core/model/location.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const HANDLERS_DIR = `${PROJECT_ROOT}lambdas/handlers/`;
export const WEB_DIR = `${PROJECT_ROOT}lambdas/web/`;
/**
 * The model package used when none is named: `SER_MODEL_DIR`, else the bundled one. The one rule for the
 * CLI, the bench, `npm run evaluate`, the local stack and the CDK stack (which ships this folder); the
 * core reads no configuration, and the inference handler takes `SER_MODEL_DIR` from its own config.
 */
export const defaultModelDir = (env: NodeJS.ProcessEnv = process.env): string =>
  env.SER_MODEL_DIR ?? BUNDLED_MODEL_DIR;

/** The model package to ship: `defaultModelDir()` when this module is loaded. */
export const DEFAULT_MODEL_DIR = defaultModelDir();

/** The shipped model's version, reported by GET /health without loading the model. */
export const readModelVersion = (modelDir: string): string => readModelMetadata(modelDir).version;
