import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixBucketLevelPaths } from '../lambdas/training/local-s3-listing.ts';
import { startTestAws, type TestAws } from './helpers/local-aws.ts';

// More than one page of ListObjectsV2 (1000 keys), so the local S3 must hand out continuation tokens.
const OBJECTS = 1205;

describe('local S3 lists past 1000 keys (continuation tokens on OpenSSL 3)', () => {
  let aws: TestAws;
  beforeAll(async () => {
    aws = await startTestAws({ bucket: 'ser-paging' });
    fixBucketLevelPaths(aws.s3, aws.s3Endpoint);
    let next = 0;
    const put = async () => {
      while (next < OBJECTS) {
        const i = next++;
        await aws.s3.send(
          new PutObjectCommand({
            Bucket: aws.bucket,
            Key: `datasets/many/clip-${String(i).padStart(5, '0')}.txt`,
            Body: `clip ${i}`,
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 8 }, put));
  }, 120_000);
  afterAll(() => aws?.close());

  it('pages with the SDK paginator and downloads every object', async () => {
    const keys: string[] = [];
    let pages = 0;
    for await (const page of paginateListObjectsV2(
      { client: aws.s3 },
      { Bucket: aws.bucket, Prefix: 'datasets/many/' },
    )) {
      pages++;
      for (const object of page.Contents ?? []) keys.push(object.Key!);
    }
    expect(pages).toBe(2);
    expect(keys).toHaveLength(OBJECTS);
    expect(new Set(keys).size).toBe(OBJECTS);
    expect(keys).toEqual([...keys].sort());

    const bodies: string[] = [];
    let next = 0;
    const download = async () => {
      while (next < keys.length) {
        const i = next++;
        const { Body } = await aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key: keys[i] }));
        bodies[i] = await Body!.transformToString();
      }
    };
    await Promise.all(Array.from({ length: 8 }, download));
    expect(bodies[1204]).toBe('clip 1204');
    expect(bodies.every((body, i) => body === `clip ${i}`)).toBe(true);
  }, 120_000);

  it('refuses a continuation token it did not issue', async () => {
    await expect(
      aws.s3.send(
        new ListObjectsV2Command({
          Bucket: aws.bucket,
          Prefix: 'datasets/many/',
          ContinuationToken: 'bm90LWEtdG9rZW4=',
        }),
      ),
    ).rejects.toThrow();
  });
});
