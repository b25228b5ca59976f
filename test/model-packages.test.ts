import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type GetObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { MAX_ONNX_BYTES } from '../lambdas/core/model/checksum.ts';
import { BUNDLED_MODEL_DIR, METADATA_FILE } from '../lambdas/core/model/location.ts';
import { createS3ModelPackages } from '../lambdas/training/model-packages.ts';
import type { ModelVersionRecord } from '../lambdas/training/model-registry.ts';

const LOCATION = 's3://ser-audio/models/1.0.0/';
const METADATA_URL = `${LOCATION}${METADATA_FILE}`;
const BUNDLED_METADATA = JSON.stringify({
  ...JSON.parse(readFileSync(join(BUNDLED_MODEL_DIR, METADATA_FILE), 'utf8')),
  version: '1.0.0',
});
const ONNX_FILE: string = JSON.parse(BUNDLED_METADATA).onnxFile;
const ONNX_URL = `${LOCATION}${ONNX_FILE}`;
const BUNDLED_ONNX = readFileSync(join(BUNDLED_MODEL_DIR, ONNX_FILE));

/** An error as the SDK throws it for an HTTP status (S3's own codes: NoSuchKey, AccessDenied, SlowDown). */
const s3Error = (status: number, name: string) =>
  new S3ServiceException({
    name,
    message: name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });

/** The ONNX object as GetObject answers it: its bytes, or only a Content-Length and a body never to be read. */
type OnnxObject = Error | Buffer | { contentLength?: number | undefined; body: Readable };

/**
 * S3 as far as the package check asks it: metadata.json's body (or its error) and the ONNX (the bundled
 * one unless given: its bytes, its error, or a Content-Length with a body) for GetObject.
 */
function fakeS3(objects: { metadata: string | Error; onnx?: OnnxObject }): S3Client {
  return {
    send: async (command: GetObjectCommand) => {
      if (command.input.Key?.endsWith(METADATA_FILE)) {
        if (objects.metadata instanceof Error) throw objects.metadata;
        const body = objects.metadata;
        return { Body: { transformToString: async () => body } };
      }
      const onnx = objects.onnx ?? BUNDLED_ONNX;
      if (onnx instanceof Error) throw onnx;
      if (Buffer.isBuffer(onnx)) return { ContentLength: onnx.length, Body: Readable.from([onnx]) };
      return { ContentLength: onnx.contentLength, Body: onnx.body };
    },
  } as unknown as S3Client;
}

/** The registry's record of the version at LOCATION: the bundled package's metadata, registered as 1.0.0. */
const RECORD: ModelVersionRecord = {
  version: '1.0.0',
  source: 'trained',
  sha256: JSON.parse(BUNDLED_METADATA).sha256,
  location: LOCATION,
  metrics: {},
  createdAt: '2026-01-01T00:00:00.000Z',
};

const problems = (objects: { metadata: string | Error; onnx?: OnnxObject }) =>
  createS3ModelPackages(fakeS3(objects)).problems(RECORD);

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

  it("a package that is not the registered version's (another version's metadata.json, another sha256) is a problem", async () => {
    const metadata = JSON.parse(BUNDLED_METADATA);
    const otherVersion = await problems({ metadata: JSON.stringify({ ...metadata, version: '1.1.0' }) });
    const otherSha256 = await problems({ metadata: JSON.stringify({ ...metadata, sha256: 'f'.repeat(64) }) });

    expect(otherVersion).toEqual([`${METADATA_URL} is the package of version 1.1.0, not 1.0.0`]);
    expect(otherSha256).toEqual([
      `${METADATA_URL}: sha256 ${'f'.repeat(64)} is not the registered ${RECORD.sha256}`,
    ]);
  });

  it('an ONNX that is not the registered bytes is a problem naming it: "checksum does not match"', async () => {
    const corrupted = Buffer.from(BUNDLED_ONNX);
    corrupted.writeUInt8(corrupted.readUInt8(0) ^ 0xff, 0);

    const found = await problems({ metadata: BUNDLED_METADATA, onnx: corrupted });

    expect(found).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${ONNX_URL}: checksum does not match: sha256 [0-9a-f]{64}, registered ${RECORD.sha256}$`,
        ),
      ),
    ]);
  });

  it('an ONNX over MAX_ONNX_BYTES is refused from its Content-Length, its body ended unread', async () => {
    let read = false;
    const body = new Readable({
      read() {
        read = true;
        this.push(null);
      },
    });

    const found = await problems({
      metadata: BUNDLED_METADATA,
      onnx: { contentLength: MAX_ONNX_BYTES + 1, body },
    });

    expect(found).toEqual([
      `${ONNX_URL} is over ${MAX_ONNX_BYTES} bytes, the largest ONNX a package may have`,
    ]);
    expect({ read, destroyed: body.destroyed }).toEqual({ read: false, destroyed: true });
  });

  it.each([
    ['no Content-Length', undefined],
    ['a Content-Length that understates it', 1000],
  ])(
    'an ONNX over MAX_ONNX_BYTES with %s is refused once the streamed bytes pass the limit, the rest unread',
    async (_, contentLength) => {
      // 1 MiB chunks, 80 of them available: the limit is 64.
      const chunk = Buffer.alloc(1024 * 1024);
      let pulled = 0;
      const body = new Readable({
        highWaterMark: chunk.length,
        read() {
          pulled += 1;
          this.push(pulled <= 80 ? chunk : null);
        },
      });

      const found = await problems({
        metadata: BUNDLED_METADATA,
        onnx: { contentLength, body },
      });

      expect(found).toEqual([
        `${ONNX_URL} is over ${MAX_ONNX_BYTES} bytes, the largest ONNX a package may have`,
      ]);
      expect(pulled).toBeLessThan(80);
      expect(body.destroyed).toBe(true);
    },
  );
});
