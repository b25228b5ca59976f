import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ModelError } from '../core/errors.ts';
import { METADATA_FILE } from '../core/model/location.ts';
import { parseModelMetadata } from '../core/model/metadata.ts';
import { loadParsedModel } from '../core/model/runtime.ts';
import { createPredictor, type Predictor } from '../core/predict.ts';
import { isOversizeOnnx, onnxTooLarge, unreadable } from './model-packages.ts';
import {
  type ModelRegistry,
  type ModelVersionRecord,
  packageMismatches,
  parseS3Location,
  s3Location,
} from './model-registry.ts';

/**
 * A registered version this function cannot serve, for a reason that lasts until someone acts (a version
 * is immutable, but its objects can be deleted and put back): no package in the bucket, a package that
 * is not the registered one. Said once, and retried only after `UNAVAILABLE_RETRY_MS`, not at every
 * refresh; a failure to reach S3 is not one of these.
 */
export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
}

/**
 * How long a version that could not be loaded is left alone: restoring its objects brings it back within
 * this, without a cold start, at one failed load (and log line) per interval meanwhile.
 */
export const UNAVAILABLE_RETRY_MS = 5 * 60_000;

export interface ActiveModelProvider {
  /** The predictor of the registry's active version (the bundled one until another is active). */
  readonly predictor: Predictor;
  /** Re-reads the pointer if the last read is older than the refresh interval; loads a new version. */
  refresh(): Promise<void>;
}

interface ProviderDeps {
  registry: ModelRegistry;
  s3: S3Client;
  bundled: Predictor;
  refreshSec: number;
  onError?: (message: string, error: unknown) => void;
  now?: () => number;
}

/** A registered package from its S3 location: metadata and ONNX, both checked against the registry. */
async function loadFromS3(deps: ProviderDeps, record: ModelVersionRecord): Promise<Predictor> {
  const { version } = record;
  const location = parseS3Location(record.location ?? '');
  if (!location)
    throw new ModelUnavailableError(`Model ${version}: not an s3:// location: ${record.location}`);
  const read = async (key: string, { onnx = false } = {}) => {
    try {
      const object = await deps.s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: key }));
      // Activation refuses such a package; one registered before that rule is not read into memory here.
      if (onnx && isOversizeOnnx(object)) {
        (object.Body as Readable).destroy();
        throw new ModelUnavailableError(
          `Model ${version}: ${onnxTooLarge(s3Location(location.bucket, key))}`,
        );
      }
      return await object.Body!.transformToByteArray();
    } catch (error) {
      if (error instanceof ModelUnavailableError) throw error;
      // On AWS a missing object is a 403 here (no listing grant), and lasts like a 404 (model-packages.ts).
      const why = unreadable(error, 'this function');
      if (!why) throw error;
      throw new ModelUnavailableError(`Model ${version}: ${s3Location(location.bucket, key)} ${why}`);
    }
  };
  const metadataKey = `${location.prefix}${METADATA_FILE}`;
  const metadataJson = new TextDecoder().decode(await read(metadataKey));
  const metadataUrl = s3Location(location.bucket, metadataKey);
  // A package that is not one (unparseable metadata, or not what the core runs) lasts like a missing one.
  try {
    const stored = parseModelMetadata(metadataJson, metadataUrl);
    const mismatches = packageMismatches(record, stored, metadataUrl);
    if (mismatches.length > 0) throw new ModelUnavailableError(`Model ${version}: ${mismatches.join('; ')}`);
    const onnx = await read(`${location.prefix}${stored.onnxFile}`, { onnx: true });
    return createPredictor({ model: await loadParsedModel(stored, onnx, record.location!) });
  } catch (error) {
    if (error instanceof ModelError) throw new ModelUnavailableError(error.message, { cause: error });
    throw error;
  }
}

/**
 * A registered version's predictor: the bundled one when the registry names that very package (same
 * version and sha256), else the package at its location. A version without a location (registered before
 * bundled packages were stored) that is not this bundled model cannot serve here.
 */
async function loadVersion(deps: ProviderDeps, version: string): Promise<Predictor> {
  const record = await deps.registry.get(version);
  if (!record) throw new ModelUnavailableError(`Model ${version} is not in the registry`);
  const { bundled } = deps;
  if (record.version === bundled.modelVersion && record.sha256 === bundled.metadata.sha256) return bundled;
  if (!record.location) {
    throw new ModelUnavailableError(
      `Model ${version} cannot serve: it has no package in the bucket (registered by a deployment from ` +
        `before bundled packages were stored there) and this deployment bundles ${bundled.modelVersion}. ` +
        `Deploy ${version} once more to store it, or activate another version.`,
    );
  }
  return loadFromS3(deps, record);
}

/**
 * Follows the registry's active pointer without a redeploy. A version is loaded once (the bundled one
 * from memory, any other from S3, sha256-checked against the registry) and kept, so a rollback is
 * instant. If a version cannot be loaded, the current model stays in service: a bad package must not
 * take predictions down; why is said once per version and `UNAVAILABLE_RETRY_MS` (`ModelUnavailableError`),
 * or at every refresh for a failure that may pass (S3 unreachable).
 */
export function createActiveModelProvider(deps: ProviderDeps): ActiveModelProvider {
  const now = deps.now ?? Date.now;
  const loaded = new Map<string, Predictor>();
  /** Versions that could not be loaded → when they may be tried again. */
  const unavailable = new Map<string, number>();
  let current = deps.bundled;
  /** The active version `current` serves; none until the registry has been read. */
  let serving: string | undefined;
  let checkedAt = Number.NEGATIVE_INFINITY;

  async function follow(version: string): Promise<void> {
    if (version === serving || now() < (unavailable.get(version) ?? Number.NEGATIVE_INFINITY)) return;
    try {
      const next = loaded.get(version) ?? (await loadVersion(deps, version));
      loaded.set(version, next);
      current = next;
      serving = version;
    } catch (error) {
      if (error instanceof ModelUnavailableError) unavailable.set(version, now() + UNAVAILABLE_RETRY_MS);
      deps.onError?.(`Active model ${version} not loaded; keeping ${current.modelVersion}`, error);
    }
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
        if (active) await follow(active.version);
      } catch (error) {
        deps.onError?.('Active model pointer not read; keeping the current model', error);
      }
    },
  };
}
