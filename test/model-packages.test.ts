import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GetObjectCommand,
  type HeadObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODEL_DIR, METADATA_FILE } from '../lambdas/core/model/location.ts';
import { createS3ModelPackages } from '../lambdas/training/model-packages.ts';

const LOCATION = 's3://ser-audio/models/1.0.0/';
const METADATA_URL = `${LOCATION}${METADATA_FILE}`;
const BUNDLED_METADATA = readFileSync(join(BUNDLED_MODEL_DIR, METADATA_FILE), 'utf8');
const ONNX_URL = `${LOCATION}${JSON.parse(BUNDLED_METADATA).onnxFile}`;

/** An error as the SDK throws it for an HTTP status (S3's own codes: NoSuchKey, AccessDenied, SlowDown). */
const s3Error = (status: number, name: string) =>
  new S3ServiceException({
    name,
    message: name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });

/**
 * S3 as far as the package check asks it: metadata.json's body (or its error) for GetObject, the ONNX's
 * error (or nothing: it is there) for HeadObject.
 */
function fakeS3(objects: { metadata: string | Error; onnx?: Error }): S3Client {
  return {
    send: async (command: GetObjectCommand | HeadObjectCommand) => {
      if (command instanceof GetObjectCommand) {
        if (objects.metadata instanceof Error) throw objects.metadata;
        const body = objects.metadata;
        return { Body: { transformToString: async () => body } };
      }
      if (objects.onnx) throw objects.onnx;
      return {};
    },
  } as unknown as S3Client;
}

const problems = (objects: { metadata: string | Error; onnx?: Error }) =>
  createS3ModelPackages(fakeS3(objects)).problems(LOCATION);

describe('model packages: what keeps a registered package from loading (S3 stubbed)', () => {
  it('a whole package has no problem', async () => {
    expect(await problems({ metadata: BUNDLED_METADATA })).toEqual([]);
  });

  it('404 is "missing"; 403 (also what S3 answers a missing object without a listing grant) is "missing or not readable"', async () => {
    const results = {
      metadata404: await problems({ metadata: s3Error(404, 'NoSuchKey') }),
      metadata403: await problems({ metadata: s3Error(403, 'AccessDenied') }),
      onnx404: await problems({ metadata: BUNDLED_METADATA, onnx: s3Error(404, 'NotFound') }),
      onnx403: await problems({ metadata: BUNDLED_METADATA, onnx: s3Error(403, 'Forbidden') }),
    };

    expect(results).toEqual({
      metadata404: [`${METADATA_URL} is missing`],
      metadata403: [`${METADATA_URL} is missing or not readable by the API (403)`],
      onnx404: [`${ONNX_URL} is missing`],
      onnx403: [`${ONNX_URL} is missing or not readable by the API (403)`],
    });
  });

  it('a failure that may pass (503 SlowDown, a network error) is thrown on, not counted as a missing object', async () => {
    const slowDown = s3Error(503, 'SlowDown');
    const network = new Error('socket hang up');

    await expect(problems({ metadata: slowDown })).rejects.toBe(slowDown);
    await expect(problems({ metadata: BUNDLED_METADATA, onnx: slowDown })).rejects.toBe(slowDown);
    await expect(problems({ metadata: network })).rejects.toBe(network);
  });

  it("an unreadable metadata.json is a problem in the metadata parser's words", async () => {
    const notJson = await problems({ metadata: '{ not json' });
    const notAPackage = await problems({ metadata: JSON.stringify({ version: '1.0.0' }) });

    expect(notJson).toEqual([`${METADATA_URL}: metadata is not valid JSON`]);
    expect(notAPackage).toEqual([
      expect.stringMatching(
        new RegExp(`^${METADATA_URL}: metadata is not a model package this core supports \\(.*onnxFile`),
      ),
    ]);
  });
});
