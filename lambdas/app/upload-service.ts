import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { UPLOAD_EXTENSIONS, uploadContentType, uploadFormatOfFileName } from '../core/audio/formats.ts';
import { fileSizeProblem } from '../core/audio/limits.ts';
import { type CreatedUpload, CreateUploadRequestSchema, type UploadInstructions } from './api-schemas.ts';
import { type CallbackUrlPolicy, checkCallbackUrl } from './callback-url.ts';
import { invalid, invalidRequest } from './domain-error.ts';
import { uploadKey } from './object-keys.ts';
import type { PredictionRepository } from './prediction-repository.ts';
import { speakerScope } from './speaker-context.ts';

/** Who asked: the API key's id (API Gateway's, or the local adapter's), whose webhook secret signs callbacks. */
export interface UploadCaller {
  apiKeyId?: string | undefined;
}

export interface UploadServiceDeps {
  s3: S3Client;
  repository: PredictionRepository;
  bucketName: string;
  maxUploadBytes: number;
  uploadUrlTtlSec: number;
  /** Which callback URLs are accepted: https only on AWS. */
  callbackUrls?: CallbackUrlPolicy;
  now?: () => Date;
  newId?: () => string;
}

/** Many JSON serialisers write an unset optional field as `null`: it counts as absent. */
const withoutNulls = (body: unknown): unknown =>
  body !== null && typeof body === 'object' && !Array.isArray(body)
    ? Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null))
    : body;

/**
 * POST /uploads: checks what the client declares, writes the PENDING record, then signs an upload
 * for exactly one server-chosen key. The size limit is enforced by S3 itself: with a declared size,
 * a PUT whose signature covers `Content-Length` (any other length is refused); without one, a POST
 * policy with a `content-length-range`. The processor checks the size again.
 */
export function createUploadService(deps: UploadServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;

  return async function createUpload(body: unknown, caller: UploadCaller = {}): Promise<CreatedUpload> {
    const parsed = CreateUploadRequestSchema.safeParse(withoutNulls(body));
    if (!parsed.success) {
      throw invalidRequest(parsed.error);
    }
    const { fileName, sizeBytes, speakerId } = parsed.data;
    const callbackUrl =
      parsed.data.callbackUrl === undefined
        ? undefined
        : checkCallbackUrl(parsed.data.callbackUrl, deps.callbackUrls ?? { allowHttpLoopback: false });
    const format = uploadFormatOfFileName(fileName);
    if (!format) {
      throw invalid(
        'UNSUPPORTED_FORMAT',
        `Unsupported file type: ${fileName}. Use one of: ${UPLOAD_EXTENSIONS.map((e) => `.${e}`).join(', ')}`,
      );
    }
    let contentType: string = format.contentTypes[0];
    if (parsed.data.contentType !== undefined) {
      const declared = uploadContentType(parsed.data.contentType);
      if (!declared)
        throw invalid('UNSUPPORTED_FORMAT', `Unsupported content type: ${parsed.data.contentType}`);
      contentType = declared;
    }
    const sizeProblem = fileSizeProblem(sizeBytes, deps.maxUploadBytes);
    if (sizeProblem) throw invalid(sizeProblem.code, sizeProblem.message);

    const id = newId();
    const key = uploadKey(id, fileName);
    await deps.repository.createPending({
      id,
      fileName,
      bucket: deps.bucketName,
      key,
      ...(callbackUrl ? { callback: { url: callbackUrl, apiKeyId: caller.apiKeyId } } : {}),
      ...(speakerId === undefined ? {} : { speaker: { scope: speakerScope(caller), speakerId } }),
    });

    const expiresAt = new Date(now().getTime() + deps.uploadUrlTtlSec * 1000).toISOString();
    const upload =
      sizeBytes === undefined
        ? await presignPost(deps, key, contentType)
        : await presignPut(deps, key, contentType, sizeBytes);
    return { id, upload, expiresAt, predictionUrl: `/predictions/${id}` };
  };
}

async function presignPut(
  deps: UploadServiceDeps,
  key: string,
  contentType: string,
  sizeBytes: number,
): Promise<UploadInstructions> {
  const url = await getSignedUrl(
    deps.s3,
    new PutObjectCommand({
      Bucket: deps.bucketName,
      Key: key,
      ContentType: contentType,
      ContentLength: sizeBytes,
    }),
    { expiresIn: deps.uploadUrlTtlSec, signableHeaders: new Set(['content-type', 'content-length']) },
  );
  // Content-Length is signed too, but clients (and browsers, which forbid setting it) send it themselves.
  return { method: 'PUT', url, headers: { 'Content-Type': contentType } };
}

async function presignPost(
  deps: UploadServiceDeps,
  key: string,
  contentType: string,
): Promise<UploadInstructions> {
  const { url, fields } = await createPresignedPost(deps.s3, {
    Bucket: deps.bucketName,
    Key: key,
    Conditions: [
      ['content-length-range', 1, deps.maxUploadBytes],
      ['eq', '$Content-Type', contentType],
    ],
    Fields: { 'Content-Type': contentType },
    Expires: deps.uploadUrlTtlSec,
  });
  return { method: 'POST', url, fields };
}
