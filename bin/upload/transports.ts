import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isTerminal, type Prediction, type SerClient } from '../../client/ser-client.ts';
import { dropFolderKeyProblem, INCOMING_PREFIX, resultKey } from '../../lambdas/app/object-keys.ts';
import { RetryableError } from './retry.ts';

/** One file to send: where it is, and its path under the drop prefix (relative to the folder named). */
export interface UploadFile {
  path: string;
  relativePath: string;
}

/** A failure that is the request's fault (a 4xx): reported for that file, not retried. */
export class RequestRefused extends Error {
  override readonly name = 'RequestRefused';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** How files reach the service and how their result is read back. */
export interface Transport {
  /** Sends the file; returns what `poll` needs. Throws RetryableError or RequestRefused. */
  send(file: UploadFile): Promise<string>;
  /** The prediction once terminal, else `undefined` (not there yet). */
  poll(ref: string): Promise<Prediction | undefined>;
}

const isRetryableStatus = (status: number) => status === 429 || status >= 500;

function failure(status: number, what: string, error?: { error?: { code: string; message: string } }): Error {
  const message = `${what}: HTTP ${status}${error?.error ? ` ${error.error.code}: ${error.error.message}` : ''}`;
  return isRetryableStatus(status)
    ? new RetryableError(message)
    : new RequestRefused(error?.error?.code ?? `HTTP_${status}`, message);
}

/**
 * Through the API: POST /uploads (with `speakerId` when given), PUT to the presigned URL,
 * GET /predictions/{id} (the typed client).
 */
export function apiTransport(client: SerClient, speakerId?: string): Transport {
  return {
    async send(file) {
      const bytes = await readFile(file.path);
      const created = await client.POST('/uploads', {
        body: {
          fileName: basename(file.path),
          sizeBytes: bytes.length,
          ...(speakerId === undefined ? {} : { speakerId }),
        },
      });
      if (!created.data) throw failure(created.response.status, 'POST /uploads', created.error);
      const { upload, id } = created.data;
      const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytes });
      await put.body?.cancel();
      if (!put.ok) throw failure(put.status, 'PUT to the presigned URL');
      return id;
    },
    async poll(id) {
      const got = await client.GET('/predictions/{id}', { params: { path: { id } } });
      if (!got.data) throw failure(got.response.status, `GET /predictions/${id}`, got.error);
      return isTerminal(got.data) ? got.data : undefined;
    },
  };
}

/** Through the drop folder: PutObject under `incoming/…`, then read `results/<same path>.json`. */
export function dropTransport(s3: S3Client, target: { bucket: string; prefix: string }): Transport {
  // What S3 answered each PUT: the result to wait for is the one about these bytes, not an earlier one.
  const sent = new Map<string, { eTag: string; versionId?: string | undefined }>();
  return {
    async send(file) {
      const key = dropKey(target.prefix, file.relativePath);
      // Refused here, not after a wait: the processor gives such keys no result file to read.
      const problem = dropFolderKeyProblem(key.slice(INCOMING_PREFIX.length));
      if (problem) throw new RequestRefused(problem.code, problem.message);
      const put = await s3.send(
        new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: await readFile(file.path) }),
      );
      sent.set(key, { eTag: (put.ETag ?? '').replaceAll('"', ''), versionId: put.VersionId });
      return key;
    },
    async poll(key) {
      const result = await readResult(s3, target.bucket, resultKey(key.slice(INCOMING_PREFIX.length)));
      const mine = sent.get(key);
      const about = result?.object;
      const isMine = mine?.versionId ? about?.versionId === mine.versionId : about?.eTag === mine?.eTag;
      return result && isMine ? result : undefined;
    },
  };
}

/** The drop-folder key of a file: the target prefix and the file's path relative to what was named. */
export const dropKey = (prefix: string, relativePath: string): string =>
  `${prefix}${relativePath.split(/[\\/]/).join('/')}`;

type ResultFile = Prediction & { object?: { key: string; eTag: string; versionId?: string } };

/** The result file, or undefined while there is none (or, on the local S3, while it is half-written). */
async function readResult(s3: S3Client, bucket: string, key: string): Promise<ResultFile | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await object.Body!.transformToString();
    // S3 never shows a half-written object; the local S3 can (docs/dependencies.md): not ready yet.
    try {
      return JSON.parse(text) as ResultFile;
    } catch {
      return undefined;
    }
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** `s3://bucket/incoming/some/prefix/` → bucket and key prefix (under `INCOMING_PREFIX`, ending in `/`). */
export function parseDropTarget(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(url);
  // `s3://bucket/incoming` (no slash) is the folder itself, as `aws s3 cp` reads it.
  const key = match?.[2] === INCOMING_PREFIX.slice(0, -1) ? INCOMING_PREFIX : match?.[2];
  if (!match || !key?.startsWith(INCOMING_PREFIX))
    throw new Error(`--drop must be s3://<bucket>/${INCOMING_PREFIX}…, not ${url}`);
  return { bucket: match[1]!, prefix: key.endsWith('/') ? key : `${key}/` };
}
