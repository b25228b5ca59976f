import * as z from 'zod';
import { parseEnv } from '../app/config.ts';

/**
 * The active-model provider's one variable, apart from active-model.ts (which loads onnxruntime) so that
 * the CDK stack's deploy settings can check `-c modelRefreshSec` against the same schema.
 */

/** How often, at most, the inference function reads the registry's active pointer (seconds). */
export const DEFAULT_MODEL_REFRESH_SEC = 60;

/** How stale the active pointer may be: one GetItem per this many seconds at most (0: every event). */
export const ModelRefreshSecSchema = z.coerce.number().int().min(0);

const ActiveModelEnvSchema = z.object({
  MODEL_REFRESH_SEC: ModelRefreshSecSchema.default(DEFAULT_MODEL_REFRESH_SEC),
});

export function loadActiveModelConfig(env: NodeJS.ProcessEnv = process.env) {
  return Object.freeze({ refreshSec: parseEnv(ActiveModelEnvSchema, env).MODEL_REFRESH_SEC });
}
