import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAws, type TestAws } from './helpers/local-aws.ts';

/**
 * What the local S3 (s3rver 4.0.4) does with versions, which an erased speaker's object's deletion relies
 * on (docs/dependencies.md): none are kept (its PUT ?versioning answers NotImplemented), and a
 * DeleteObject's VersionId is not honoured.
 */
describe('local S3 (s3rver) and object versions', () => {
  let aws: TestAws;

  beforeAll(async () => {
    aws = await startTestAws();
  });
  afterAll(async () => {
    await aws?.close();
  });

  it('has no versioning: objects carry no VersionId, and a DeleteObject with one deletes the key', async () => {
    // Prepare
    const Key = 'incoming/versions/clip.wav';
    const put = await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key, Body: 'v1' }));

    // Act
    const read = await aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key }));
    await read.Body?.transformToString();
    await aws.s3.send(new DeleteObjectCommand({ Bucket: aws.bucket, Key, VersionId: 'not-this-one' }));

    // Assess
    expect(put.VersionId).toBeUndefined();
    expect(read.VersionId).toBeUndefined();
    await expect(aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key }))).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
  });
});
