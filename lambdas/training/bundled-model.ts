import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkOnnxChecksum } from '../core/model/checksum.ts';
import { SPLITS_FILE } from '../core/model/location.ts';
import { type ModelMetadata, parseModelMetadata } from '../core/model/metadata.ts';
import {
  type BundledActivation,
  type ModelRegistry,
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
 * The bundled model at deploy time (the stack's custom resource; `npm start` locally): its package is
 * stored under `models/<version>/`, as a trained one is, and registered with that location, so that every
 * registered version can be loaded again, a rollback to an earlier bundled version included. Whether it
 * becomes active depends on `previousVersion`, the bundled version the deployment before shipped
 * (`decideBundledActivation`). `ModelVersionConflictError` when the version is registered with another
 * sha256.
 */
export async function publishBundledModel(
  deps: { registry: ModelRegistry; s3: S3Client; bucket: string },
  files: ModelPackageFiles,
  previousVersion: string | undefined,
): Promise<BundledModelPublished> {
  const metadata = checkedMetadata(files);
  const prefix = modelPackagePrefix(metadata.version);
  const location = s3Location(deps.bucket, prefix);
  const put = (name: string, body: string | Uint8Array) =>
    deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: `${prefix}${name}`, Body: body }));
  const activation = await deps.registry.ensureBundled(
    {
      version: metadata.version,
      sha256: metadata.sha256,
      metrics: metadata.metrics,
      createdAt: metadata.createdAt,
      location,
    },
    // metadata.json last: a metadata.json under the prefix means the package is whole.
    async () => {
      await put(metadata.onnxFile, files.onnx);
      if (files.splitsJson !== undefined) await put(SPLITS_FILE, files.splitsJson);
      await put('metadata.json', files.metadataJson);
    },
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
  const metadataJson = await readFile(join(dir, 'metadata.json'), 'utf8');
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
