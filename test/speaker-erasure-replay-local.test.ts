import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePredictionsTable, LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../bin/local/local-aws.ts';
import { dataPaths } from '../bin/local/stack.ts';
import { tessClip } from './helpers/fixtures.ts';
import { replayIntoStack, startTestStack, type TestStack } from './helpers/local-stack.ts';

/**
 * `npm start`'s stack with a speaker prefix (`calls`): a drop-folder clip whose event failed every retry
 * before its first claim, so no record names it, is erased with its speaker through the admin route;
 * `ser replay` of its dead-lettered event must then not bring it back.
 */
describe("ser replay of an erased drop-folder speaker's dead-lettered clip on the local stack", () => {
  let local: TestStack;

  const exists = (key: string) =>
    local.s3.send(new HeadObjectCommand({ Bucket: local.stack.bucket, Key: key })).then(
      () => true,
      (error: Error) => (error.name === 'NotFound' ? false : Promise.reject(error)),
    );
  const drop = async (key: string) => {
    await local.s3.send(
      new PutObjectCommand({ Bucket: local.stack.bucket, Key: key, Body: tessClip('angry').bytes }),
    );
    await local.stack.idle();
  };
  const fileNames = async () => {
    const response = await fetch(`${local.stack.apiUrl}/predictions?limit=100`, {
      headers: { 'x-api-key': local.stack.apiKey },
    });
    return ((await response.json()) as { items: { fileName: string }[] }).items.map((p) => p.fileName);
  };

  beforeAll(async () => {
    process.env.DROP_FOLDER_SPEAKER_PREFIXES = 'calls';
    local = await startTestStack({ bucket: 'ser-erasure-replay', apiKey: 'erasure-replay-key' });
  });

  afterAll(async () => {
    delete process.env.DROP_FOLDER_SPEAKER_PREFIXES;
    await local?.close();
  });

  it('the replay deletes the clip and writes no record or result file; a clip dropped after the erasure is processed', async () => {
    // Prepare: the table is gone while the clip's event is tried, so it is dead-lettered unclaimed.
    const { stack } = local;
    const dynamo = new DynamoDBClient({
      region: LOCAL_REGION,
      endpoint: stack.dynamoDbEndpoint,
      credentials: LOCAL_S3_CREDENTIALS,
    });
    await dynamo.send(new DeleteTableCommand({ TableName: 'predictions' }));
    await drop('incoming/calls/gone/before.flac');
    const [deadLetter] = await readdir(stack.deadLetterDir);
    await ensurePredictionsTable(
      stack.dynamoDbEndpoint,
      'predictions',
      dataPaths(stack.dataDir).tableDumpFile,
    );
    dynamo.destroy();
    const erased = await fetch(`${stack.apiUrl}/drop-folder/speakers/gone`, {
      method: 'DELETE',
      headers: { 'x-api-key': `${stack.apiKey}-admin` },
    });
    expect(await erased.json()).toMatchObject({ recordsDeleted: 0, more: false });
    expect(await exists('incoming/calls/gone/before.flac')).toBe(true);

    // Act
    const exitCode = await replayIntoStack(stack, [join(stack.deadLetterDir, deadLetter!)]);
    await drop('incoming/calls/gone/after.flac');

    // Assess
    expect(exitCode).toBe(0);
    expect(await exists('incoming/calls/gone/before.flac')).toBe(false);
    expect(await exists('results/calls/gone/before.flac.json')).toBe(false);
    expect(await fileNames()).toEqual(['after.flac']);
    expect(await exists('results/calls/gone/after.flac.json')).toBe(true);
  });
});
