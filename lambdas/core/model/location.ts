import { fileURLToPath } from 'node:url';

/** The model shipped in the repository (and copied into the Lambda asset beside the bundle). */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL('../../../models/ser-lstm/', import.meta.url));

/**
 * The model package used when none is named: `SER_MODEL_DIR`, else the bundled one. The one rule for the
 * core, the CLI, the bench, the local stack and the CDK stack (which ships this folder).
 */
export const defaultModelDir = (env: NodeJS.ProcessEnv = process.env): string =>
  env.SER_MODEL_DIR ?? BUNDLED_MODEL_DIR;
