import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkOnnxChecksum } from '../core/model/checksum.ts';
import { METADATA_FILE, SPLITS_FILE } from '../core/model/location.ts';
import { type ModelMetadata, parseModelMetadata } from '../core/model/metadata.ts';
import {
  type BundledActivation,
  type BundledPackage,
  type ModelRegistry,
  ModelVersionConflictError,
  modelPackagePrefix,
  s3Location,
} from './model-registry.ts';

/**
 * A model package's files as stored in the bucket: the run-time ones (what prediction reads) and, when
 * the package has one, splits.json (its recorded test clips: what a training job's "if-better" comparison
 * leaves out when this version is the active one, since it trained on the rest). `source` names it in
 * errors.
 */
export interface ModelPackageFiles {
  metadataJson: string;
  onnx: Uint8Array;
  splitsJson?: string;
  source: string;
}

export interface BundledModelPublished {
  version: string;
  sha256: string;
  location: string;
  /** What happened to the active pointer, why, and the version active now. */
  activation: BundledActivation;
}

/** The metadata of a package whose ONNX bytes are the ones it records: a bad package is refused before it is stored. */
function checkedMetadata(files: ModelPackageFiles): ModelMetadata {
  const metadata = parseModelMetadata(files.metadataJson, files.source);
  checkOnnxChecksum(metadata, files.onnx, files.source);
  return metadata;
}

/**
 * The package's objects under `models/<version>/` of `bucket`: whether they are all there (one listing:
 * the registration function may list that prefix only, and without a listing grant S3 answers a missing
 * object with 403, not 404), a stored metadata.json that is not this one refused, and the writes.
 */
function bundledPackage(
  deps: { s3: S3Client; bucket: string },
  files: ModelPackageFiles,
  metadata: ModelMetadata,
): BundledPackage {
  const prefix = modelPackagePrefix(metadata.version);
  const names = [METADATA_FILE, metadata.onnxFile, ...(files.splitsJson === undefined ? [] : [SPLITS_FILE])];
  const put = (name: string, body: string | Uint8Array) =>
    deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: `${prefix}${name}`, Body: body }));
  return {
    async isStored() {
      const listed = await deps.s3.send(new ListObjectsV2Command({ Bucket: deps.bucket, Prefix: prefix }));
      const keys = new Set((listed.Contents ?? []).map((o) => o.Key));
      const metadataKey = `${prefix}${METADATA_FILE}`;
      if (keys.has(metadataKey)) {
        const { Body } = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: metadataKey }));
        // Compared as JSON, not as bytes: the same file checked out with CRLF line ends is the same package.
        if (!isDeepStrictEqual(JSON.parse(await Body!.transformToString()), JSON.parse(files.metadataJson)))
          throw ModelVersionConflictError.ofMetadata(metadata.version, `s3://${deps.bucket}/${metadataKey}`);
      }
      return names.every((name) => keys.has(`${prefix}${name}`));
    },
    // metadata.json last: a metadata.json under the prefix means the package is whole.
    async store() {
      await put(metadata.onnxFile, files.onnx);
      if (files.splitsJson !== undefined) await put(SPLITS_FILE, files.splitsJson);
      await put(METADATA_FILE, files.metadataJson);
    },
  };
}

/**
 * The bundled model at deploy time (the stack's custom resource; `npm start` locally): its package is
 * stored under `models/<version>/`, as a trained one is, and registered with that location, so that every
 * registered version can be loaded again, a rollback to an earlier bundled version included; a registered
 * package whose objects went missing is stored again. Whether it becomes active depends on
 * `previousVersion`, the bundled version the deployment before shipped (`decideBundledActivation`).
 * `ModelVersionConflictError` when the version is registered with another sha256, or stored with another
 * metadata.json.
 */
export async function publishBundledModel(
  deps: { registry: ModelRegistry; s3: S3Client; bucket: string },
  files: ModelPackageFiles,
  previousVersion: string | undefined,
): Promise<BundledModelPublished> {
  const metadata = checkedMetadata(files);
  const location = s3Location(deps.bucket, modelPackagePrefix(metadata.version));
  const activation = await deps.registry.ensureBundled(
    {
      version: metadata.version,
      sha256: metadata.sha256,
      metrics: metadata.metrics,
      createdAt: metadata.createdAt,
      location,
    },
    bundledPackage(deps, files, metadata),
    previousVersion,
  );
  return { version: metadata.version, sha256: metadata.sha256, location, activation };
}

/** A package's files from S3 objects (the deployment's assets; splits.json when the package has one). */
export async function readPackageObjects(
  s3: S3Client,
  objects: { bucket: string; metadataKey: string; onnxKey: string; splitsKey?: string },
): Promise<ModelPackageFiles> {
  const read = async (key: string) => {
    const { Body } = await s3.send(new GetObjectCommand({ Bucket: objects.bucket, Key: key }));
    return Body!.transformToByteArray();
  };
  const text = async (key: string) => new TextDecoder().decode(await read(key));
  return {
    metadataJson: await text(objects.metadataKey),
    onnx: await read(objects.onnxKey),
    ...(objects.splitsKey ? { splitsJson: await text(objects.splitsKey) } : {}),
    source: `s3://${objects.bucket}/${objects.metadataKey}`,
  };
}

/** A package folder's files (the local stack's bundled model): splits.json when it has one. */
export async function readPackageFolder(dir: string): Promise<ModelPackageFiles> {
  const metadataJson = await readFile(join(dir, METADATA_FILE), 'utf8');
  const { onnxFile } = parseModelMetadata(metadataJson, dir);
  const splitsJson = await readFile(join(dir, SPLITS_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return {
    metadataJson,
    onnx: await readFile(join(dir, onnxFile)),
    ...(splitsJson === undefined ? {} : { splitsJson }),
    source: dir,
  };
}
