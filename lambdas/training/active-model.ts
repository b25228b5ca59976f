import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { parseEnv } from '../app/config.ts';
import { loadModel } from '../core/model/runtime.ts';
import { createPredictor, type Predictor } from '../core/predict.ts';
import { type ModelRegistry, parseS3Location } from './model-registry.ts';

/** How often, at most, the inference function reads the registry's active pointer (seconds). */
const DEFAULT_MODEL_REFRESH_SEC = 60;

const ActiveModelEnvSchema = z.object({
  /** How stale the active pointer may be: one GetItem per this many seconds at most (0: every event). */
  MODEL_REFRESH_SEC: z.coerce.number().int().min(0).default(DEFAULT_MODEL_REFRESH_SEC),
});

export function loadActiveModelConfig(env: NodeJS.ProcessEnv = process.env) {
  return Object.freeze({ refreshSec: parseEnv(ActiveModelEnvSchema, env).MODEL_REFRESH_SEC });
}

export interface ActiveModelProvider {
  /** The predictor of the registry's active version (the bundled one until another is active). */
  readonly predictor: Predictor;
  /** Re-reads the pointer if the last read is older than the refresh interval; loads a new version. */
  refresh(): Promise<void>;
}

/**
 * Follows the registry's active pointer without a redeploy. A version is loaded from S3 once (metadata
 * and ONNX; `loadModel` checks the ONNX against the metadata's sha256, and that sha256 must be the one
 * registered) and kept, so a rollback is instant. If a version cannot be loaded, the current model stays
 * in service: a bad package must not take predictions down.
 */
export function createActiveModelProvider(deps: {
  registry: ModelRegistry;
  s3: S3Client;
  bundled: Predictor;
  refreshSec: number;
  onError?: (message: string, error: unknown) => void;
  now?: () => number;
}): ActiveModelProvider {
  const now = deps.now ?? Date.now;
  const loaded = new Map<string, Predictor>([[deps.bundled.modelVersion, deps.bundled]]);
  let current = deps.bundled;
  let checkedAt = Number.NEGATIVE_INFINITY;

  async function load(version: string): Promise<Predictor> {
    const record = await deps.registry.get(version);
    if (!record?.location) throw new Error(`Model ${version} has no S3 location in the registry`);
    const location = parseS3Location(record.location);
    if (!location) throw new Error(`Not an s3:// location: ${record.location}`);
    const { bucket, prefix } = location;
    const read = async (key: string) => {
      const { Body } = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Body!.transformToByteArray();
    };
    const metadataJson = new TextDecoder().decode(await read(`${prefix}metadata.json`));
    const { onnxFile, sha256 } = JSON.parse(metadataJson) as { onnxFile: string; sha256: string };
    if (sha256 !== record.sha256) {
      throw new Error(`Model ${version}: metadata sha256 ${sha256} is not the registered ${record.sha256}`);
    }
    const model = await loadModel(metadataJson, await read(`${prefix}${onnxFile}`), record.location);
    return createPredictor({ model });
  }

  return {
    get predictor() {
      return current;
    },
    async refresh() {
      if (now() - checkedAt < deps.refreshSec * 1000) return;
      checkedAt = now();
      try {
        const active = await deps.registry.getActive();
        if (!active || active.version === current.modelVersion) return;
        let next = loaded.get(active.version);
        if (!next) {
          next = await load(active.version);
          loaded.set(active.version, next);
        }
        current = next;
      } catch (error) {
        deps.onError?.('Active model not loaded; keeping the current one', error);
      }
    },
  };
}
