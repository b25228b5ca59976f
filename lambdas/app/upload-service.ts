import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';
import {
  AUDIO_FORMATS,
  formatOfFileName,
  normalizeContentType,
  SUPPORTED_EXTENSIONS,
} from './audio-formats.ts';
import { badRequest } from './http-error.ts';
import { uploadKey } from './object-keys.ts';
import type { PredictionRepository } from './prediction-repository.ts';
import { SpeakerIdSchema } from './speaker-context.ts';

/** Strict: an unknown field is a 400, so a misspelt `sizeBytes` cannot silently drop the size check. */
export const CreateUploadRequestSchema = z
  .object({
    fileName: z.string().trim().min(1).max(255),
    contentType: z.string().min(1).max(100).optional(),
    sizeBytes: z.number().int().nonnegative().optional(),
    /** A speaker (or room, channel) context: predictions adapt to its earlier clips. Scoped to the API key. */
    speakerId: SpeakerIdSchema.optional(),
  })
  .strict();

export type CreateUploadRequest = z.infer<typeof CreateUploadRequestSchema>;

export interface UploadInstructions {
  method: 'PUT' | 'POST';
  url: string;
  headers?: Record<string, string>;
  fields?: Record<string, string>;
}

export interface CreatedUpload {
  id: string;
  upload: UploadInstructions;
  expiresAt: string;
  predictionUrl: string;
}

export interface UploadServiceDeps {
  s3: S3Client;
  repository: PredictionRepository;
  bucketName: string;
  maxUploadBytes: number;
  uploadUrlTtlSec: number;
  now?: () => Date;
  newId?: () => string;
}

/**
 * POST /uploads: checks what the client declares, writes the PENDING record, then signs an upload
 * for exactly one server-chosen key. The size limit is enforced by S3 itself: with a declared size,
 * a PUT whose signature covers `Content-Length` (any other length is refused); without one, a POST
 * policy with a `content-length-range`. The processor checks the size again.
 */
export function createUploadService(deps: UploadServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;

  /** `scope`: who owns the `speakerId` (the caller's API key). */
  return async function createUpload(body: unknown, scope = 'key:default'): Promise<CreatedUpload> {
    const parsed = CreateUploadRequestSchema.safeParse(body);
    if (!parsed.success) {
      throw badRequest('INVALID_REQUEST', z.prettifyError(parsed.error).replaceAll('\n', ' '));
    }
    const { fileName, sizeBytes, speakerId } = parsed.data;
    const format = formatOfFileName(fileName);
    if (!format) {
      throw badRequest(
        'UNSUPPORTED_FORMAT',
        `Unsupported file type: ${fileName}. Use one of: ${SUPPORTED_EXTENSIONS.map((e) => `.${e}`).join(', ')}`,
      );
    }
    let contentType: string = AUDIO_FORMATS[format].contentType;
    if (parsed.data.contentType !== undefined) {
      const declared = normalizeContentType(parsed.data.contentType);
      if (!declared)
        throw badRequest('UNSUPPORTED_FORMAT', `Unsupported content type: ${parsed.data.contentType}`);
      contentType = declared;
    }
    if (sizeBytes === 0) throw badRequest('EMPTY_AUDIO', 'The file is empty');
    if (sizeBytes !== undefined && sizeBytes > deps.maxUploadBytes) {
      throw badRequest(
        'TOO_LARGE',
        `The file is ${sizeBytes} bytes; the limit is ${deps.maxUploadBytes} bytes`,
      );
    }

    const id = newId();
    const key = uploadKey(id, fileName);
    const speaker = speakerId === undefined ? undefined : { scope, speakerId };
    await deps.repository.createPending({ id, fileName, bucket: deps.bucketName, key, speaker });

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
