import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ModelError } from '../core/errors.ts';
import { MAX_ONNX_BYTES, streamedSha256Hex } from '../core/model/checksum.ts';
import { METADATA_FILE } from '../core/model/location.ts';
import { type ModelMetadata, parseModelMetadata } from '../core/model/metadata.ts';
import { type ModelVersionRecord, packageMismatches, parseS3Location, s3Location } from './model-registry.ts';

/** Registered packages in the bucket, as far as the API needs them before it activates one. */
export interface ModelPackages {
  /**
   * What keeps the package at a registered version's `location` from loading, one phrase each naming its
   * object (`s3://…/model.onnx is missing`, or `… is missing or not readable by the API (403)`, a
   * metadata.json that is not a package, or not the registered version's: `packageMismatches`, an ONNX
   * whose checksum does not match or over `MAX_ONNX_BYTES`); empty when the objects prediction reads are
   * there and are that version's.
   */
  problems(model: ModelVersionRecord): Promise<string[]>;
}

/**
 * Why an object could not be read, after its URL; `undefined` for a failure that may pass (S3 throttling or
 * unreachable), which is thrown on. 404: it is not there. 403: the API may read `models/*` but not list
 * it, and without a listing grant S3 answers a missing object with 403, not 404; but 403 is also an object
 * outside the API's grant or a changed policy, so it is not called missing alone. The inference function
 * has the same read grant, and no listing grant either: it reads its packages' failures the same way
 * (active-model.ts).
 */
export function unreadable(error: unknown, reader = 'the API'): string | undefined {
  if (!(error instanceof S3ServiceException)) return undefined;
  const status = error.$metadata.httpStatusCode;
  if (status === 404) return 'is missing';
  if (status === 403) return `is missing or not readable by ${reader} (403)`;
  return undefined;
}

/** The object, or what keeps it from being read (`s3://… is missing`). */
async function readOrProblem<T>(
  request: Promise<T>,
  url: string,
): Promise<{ object: T } | { problem: string }> {
  try {
    return { object: await request };
  } catch (error) {
    const why = unreadable(error);
    if (why) return { problem: `${url} ${why}` };
    throw error;
  }
}

/** The package's metadata.json read and parsed, or why it cannot be (missing, unreadable, not a package). */
async function readMetadata(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ metadata: ModelMetadata } | { problem: string }> {
  const url = s3Location(bucket, key);
  const read = await readOrProblem(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })), url);
  if ('problem' in read) return read;
  try {
    return { metadata: parseModelMetadata(await read.object.Body!.transformToString(), url) };
  } catch (error) {
    if (error instanceof ModelError) return { problem: error.message };
    throw error;
  }
}

/** An ONNX object whose Content-Length is over `MAX_ONNX_BYTES`: refused before its body is read. */
export const isOversizeOnnx = (object: { ContentLength?: number }): boolean =>
  (object.ContentLength ?? 0) > MAX_ONNX_BYTES;

/** Why an oversized ONNX is refused, by activation and by the inference function alike. */
export const onnxTooLarge = (url: string): string =>
  `${url} is over ${MAX_ONNX_BYTES} bytes, the largest ONNX a package may have`;

/**
 * What keeps the ONNX read from S3 from being the registered one: over `MAX_ONNX_BYTES` (refused from its
 * Content-Length, unread), or bytes whose sha256 is not `sha256` (hashed as they stream, as the inference
 * function checks them at load).
 */
async function onnxProblems(object: GetObjectCommandOutput, url: string, sha256: string): Promise<string[]> {
  // The Node SDK's body is a Readable: iterated chunk by chunk, and ended unread when it is too large.
  const body = object.Body as Readable;
  if (isOversizeOnnx(object)) {
    body.destroy();
    return [onnxTooLarge(url)];
  }
  const actual = await streamedSha256Hex(body);
  if (actual === undefined) return [onnxTooLarge(url)];
  return actual === sha256 ? [] : [`${url}: checksum does not match: sha256 ${actual}, registered ${sha256}`];
}

/**
 * Reads the package's metadata.json (it names the ONNX file, its version and sha256, compared with the
 * registry's) and streams that ONNX through sha256: the objects `active-model.ts` loads and checks. With
 * metadata.json gone or not the registered version's, only it is named.
 */
export function createS3ModelPackages(s3: S3Client): ModelPackages {
  return {
    async problems(model) {
      const at = parseS3Location(model.location ?? '');
      if (!at) return [`${model.location} is not an s3:// location`];
      const metadataKey = `${at.prefix}${METADATA_FILE}`;
      const read = await readMetadata(s3, at.bucket, metadataKey);
      if ('problem' in read) return [read.problem];
      const mismatches = packageMismatches(model, read.metadata, s3Location(at.bucket, metadataKey));
      if (mismatches.length > 0) return mismatches;
      const onnxKey = `${at.prefix}${read.metadata.onnxFile}`;
      const onnxUrl = s3Location(at.bucket, onnxKey);
      const onnx = await readOrProblem(
        s3.send(new GetObjectCommand({ Bucket: at.bucket, Key: onnxKey })),
        onnxUrl,
      );
      return 'problem' in onnx ? [onnx.problem] : onnxProblems(onnx.object, onnxUrl, model.sha256);
    },
  };
}
