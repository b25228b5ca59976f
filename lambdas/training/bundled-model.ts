import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkOnnxChecksum } from '../core/model/checksum.ts';
import { type ModelMetadata, parseModelMetadata } from '../core/model/metadata.ts';
import {
  type BundledActivation,
  type ModelRegistry,
  modelPackagePrefix,
  s3Location,
} from './model-registry.ts';

/** A model package's run-time files as bytes (what prediction reads); `source` names it in errors. */
export interface ModelPackageFiles {
  metadataJson: string;
  onnx: Uint8Array;
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
    // The ONNX first: a metadata.json under the prefix means the package is whole.
    async () => {
      await put(metadata.onnxFile, files.onnx);
      await put('metadata.json', files.metadataJson);
    },
    previousVersion,
  );
  return { version: metadata.version, sha256: metadata.sha256, location, activation };
}

/** A package's two run-time files from S3 objects (the deployment's assets). */
export async function readPackageObjects(
  s3: S3Client,
  objects: { bucket: string; metadataKey: string; onnxKey: string },
): Promise<ModelPackageFiles> {
  const read = async (key: string) => {
    const { Body } = await s3.send(new GetObjectCommand({ Bucket: objects.bucket, Key: key }));
    return Body!.transformToByteArray();
  };
  return {
    metadataJson: new TextDecoder().decode(await read(objects.metadataKey)),
    onnx: await read(objects.onnxKey),
    source: `s3://${objects.bucket}/${objects.metadataKey}`,
  };
}

/** A package folder's two run-time files (the local stack's bundled model). */
export async function readPackageFolder(dir: string): Promise<ModelPackageFiles> {
  const metadataJson = await readFile(join(dir, 'metadata.json'), 'utf8');
  const { onnxFile } = parseModelMetadata(metadataJson, dir);
  return { metadataJson, onnx: await readFile(join(dir, onnxFile)), source: dir };
}
