import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DeleteTableCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePredictionsTable, LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../bin/local/local-aws.ts';
import { dataPaths, type LocalStack } from '../bin/local/stack.ts';
import { SIGNATURE_HEADER, verifyWebhook } from '../lambdas/app/webhook-signature.ts';
import { tessClip } from './helpers/fixtures.ts';
import { replayIntoStack, startTestStack, type TestStack } from './helpers/local-stack.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const run = promisify(execFile);

describe('faults on the local stack: an event that fails every retry is kept, and ser replay finishes it', () => {
  let stack: LocalStack;
  let s3: S3Client;
  let local: TestStack;
  const lines: string[] = [];

  beforeAll(async () => {
    local = await startTestStack({
      bucket: 'ser-faults',
      apiKey: 'faults-test-key',
      log: (line) => lines.push(line),
    });
    ({ stack, s3 } = local);
  });

  afterAll(async () => {
    await local?.close();
  });

  it('DynamoDB table gone: three attempts, a dead-letter file in Lambda format, then replay → SUCCEEDED', async () => {
    // Prepare: the predictions table disappears (an infrastructure fault no retry can fix).
    const dynamo = new DynamoDBClient({
      region: LOCAL_REGION,
      endpoint: stack.dynamoDbEndpoint,
      credentials: LOCAL_S3_CREDENTIALS,
    });
    await dynamo.send(new DeleteTableCommand({ TableName: 'predictions' }));
    const key = 'incoming/dlq/clip one.flac';

    // Act 1
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: tessClip('happy').bytes }));
    await stack.idle();
    const deadLetters = await readdir(stack.deadLetterDir);
    const record = JSON.parse(await readFile(join(stack.deadLetterDir, deadLetters[0]!), 'utf8'));

    // Act 2: the cause is fixed, then the message is replayed as `ser replay <file>` does.
    await ensurePredictionsTable(
      stack.dynamoDbEndpoint,
      'predictions',
      dataPaths(stack.dataDir).tableDumpFile,
    );
    dynamo.destroy();
    const exitCode = await replayIntoStack(stack, [join(stack.deadLetterDir, deadLetters[0]!)]);

    // Assess
    expect(lines.filter((l) => l.startsWith('processing failed'))).toHaveLength(3);
    expect(
      lines.some((l) => l.startsWith('dead-lettered after 3 attempts') && l.includes('npx ser replay')),
    ).toBe(true);
    expect(deadLetters).toHaveLength(1);
    expect(record).toMatchObject({
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { Records: [{ s3: { object: { key: 'incoming/dlq/clip+one.flac' } } }] },
      responsePayload: { errorType: 'ResourceNotFoundException' },
    });
    expect(exitCode).toBe(0);
    expect(await readdir(stack.deadLetterDir)).toEqual([]);
    const result = await s3.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: 'results/dlq/clip one.flac.json' }),
    );
    expect(JSON.parse(await result.Body!.transformToString())).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('a replay that fails again ends the record FAILED (PROCESSING_FAILED, replayable), never PENDING', async () => {
    // Prepare: a result key s3rver cannot store (its file name is too long), so every attempt fails
    // after the claim — the record is dead-lettered FAILED, and so is its replay.
    const name = `${'q'.repeat(225)}.flac`;
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: `incoming/dlq2/${name}`,
        Body: tessClip('sad').bytes,
      }),
    );
    await stack.idle();
    const recordOf = async () => {
      const page = await fetch(`${stack.apiUrl}/predictions?limit=100`, {
        headers: { 'x-api-key': local.stack.apiKey },
      });
      const { items } = (await page.json()) as {
        items: { fileName: string; status: string; error?: { code: string } }[];
      };
      return items.find((p) => p.fileName === name);
    };
    const deadLettered = await recordOf();
    const [file] = (await readdir(stack.deadLetterDir)).map((f) => join(stack.deadLetterDir, f));

    // Act
    const exitCode = await replayIntoStack(stack, [file!]);

    // Assess
    expect(deadLettered).toMatchObject({ status: 'FAILED', error: { code: 'PROCESSING_FAILED' } });
    expect(exitCode).toBe(1);
    expect(await readdir(stack.deadLetterDir)).toHaveLength(1);
    expect(await recordOf()).toMatchObject({ status: 'FAILED', error: { code: 'PROCESSING_FAILED' } });
    // Dead-lettered records are announced like every terminal one (a callback must not wait forever).
    const announced = (await readFile(stack.eventsFile, 'utf8'))
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { detail: { fileName: string; status: string; error?: { code: string } } },
      )
      .filter((event) => event.detail.fileName === name);
    expect(announced.length).toBeGreaterThanOrEqual(1);
    for (const event of announced)
      expect(event.detail).toMatchObject({ status: 'FAILED', error: { code: 'PROCESSING_FAILED' } });
  });

  it('a replay in its own process (npx ser replay) announces like the stack: an event in its events file, the signed callback', async () => {
    // Prepare: an API upload that asks for a callback; the table goes away while it is processed, and comes
    // back from a backup (its items put again) once the event is dead-lettered.
    const received: { body: string; signature: string }[] = [];
    const receiver = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      received.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers[SIGNATURE_HEADER]),
      });
      res.writeHead(200).end();
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const clip = tessClip('angry').bytes;
    const created = await fetch(`${stack.apiUrl}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': stack.apiKey },
      body: JSON.stringify({ fileName: 'replayed.flac', sizeBytes: clip.length, callbackUrl }),
    });
    const { id, upload } = (await created.json()) as {
      id: string;
      upload: { url: string; headers: Record<string, string> };
    };
    const dynamo = new DynamoDBClient({
      region: LOCAL_REGION,
      endpoint: stack.dynamoDbEndpoint,
      credentials: LOCAL_S3_CREDENTIALS,
    });
    const { Items: backup = [] } = await dynamo.send(new ScanCommand({ TableName: 'predictions' }));
    await dynamo.send(new DeleteTableCommand({ TableName: 'predictions' }));
    await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: clip });
    await stack.idle();
    const deadLetters = (await readdir(stack.deadLetterDir)).filter((f) => f.endsWith('.json'));
    const file = (
      await Promise.all(
        deadLetters.map(async (f) => ({ f, text: await readFile(join(stack.deadLetterDir, f), 'utf8') })),
      )
    ).find(({ text }) => text.includes(`uploads/${id}/`))?.f;
    await ensurePredictionsTable(
      stack.dynamoDbEndpoint,
      'predictions',
      dataPaths(stack.dataDir).tableDumpFile,
    );
    for (const Item of backup) await dynamo.send(new PutItemCommand({ TableName: 'predictions', Item }));
    dynamo.destroy();

    // Act
    const replay = await run(
      process.execPath,
      [
        ...['bin/ser.js', 'replay', join(stack.deadLetterDir, file!), '--s3-endpoint', stack.s3Endpoint],
        ...[
          '--dynamodb-endpoint',
          stack.dynamoDbEndpoint,
          '--bucket',
          stack.bucket,
          '--table',
          'predictions',
        ],
      ],
      {
        cwd: ROOT,
        env: { ...process.env, SER_DATA_DIR: stack.dataDir, SER_WEBHOOK_SECRET: stack.webhookSecret },
      },
    );
    receiver.close();

    // Assess
    expect(replay.stdout).toContain('1/1 replayed');
    const events = (await readFile(stack.eventsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { 'detail-type': string; detail: { id: string } })
      .filter((event) => event.detail.id === id);
    expect(events).toMatchObject([
      { 'detail-type': 'Prediction Succeeded', detail: { id, status: 'SUCCEEDED' } },
    ]);
    expect(received).toHaveLength(1);
    expect(verifyWebhook(stack.webhookSecret, received[0]!.body, received[0]!.signature)).toBe(true);
    expect(JSON.parse(received[0]!.body)).toMatchObject({ detail: { id, status: 'SUCCEEDED' } });
  });
});
