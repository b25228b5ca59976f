import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PredictionEventEnvelope } from '../bin/local/local-event-bus.ts';
import {
  EVENT_ID_HEADER,
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhook,
} from '../lambdas/app/webhook-signature.ts';
import { badFixture, tessClip } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';
import { waitForPrediction } from './helpers/local-stack-process.ts';

const run = promisify(execFile);

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A webhook receiver on this machine: records every request, answers with the next queued status (then 200). */
async function startReceiver() {
  const received: Received[] = [];
  const statuses: number[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(statuses.shift() ?? 200).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/ser`,
    received,
    statuses,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('completion events and signed callbacks on the local stack', () => {
  let test: TestStack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  const api = (path: string, body?: unknown) =>
    fetch(`${test.stack.apiUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'events-key' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  /** POST /uploads, PUT the bytes, wait until processed and called back. */
  async function upload(
    fileName: string,
    bytes: Buffer,
    callbackUrl?: string,
    extra: { speakerId?: string } = {},
  ): Promise<string> {
    const created = await api('/uploads', { fileName, sizeBytes: bytes.length, callbackUrl, ...extra });
    expect(created.status).toBe(201);
    const { id, upload } = (await created.json()) as {
      id: string;
      upload: { url: string; headers: Record<string, string> };
    };
    const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytes });
    expect(put.status).toBe(200);
    // S3 notifies after answering the PUT: wait for the record, then for its callback's delivery.
    await waitForPrediction(test.stack, id);
    await test.stack.idle();
    return id;
  }

  const events = async (): Promise<PredictionEventEnvelope[]> =>
    (await readFile(test.stack.eventsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));

  beforeAll(async () => {
    test = await startTestStack({ bucket: 'ser-events', apiKey: 'events-key' });
    receiver = await startReceiver();
  });

  beforeEach(() => {
    receiver.received.length = 0;
    receiver.statuses.length = 0;
  });

  afterAll(async () => {
    await receiver?.close();
    await test?.close();
  });

  it('publishes an EventBridge-shaped event and POSTs a signed callback for a succeeded prediction', async () => {
    // Act
    const id = await upload('angry.flac', tessClip('angry').bytes, receiver.url, { speakerId: 'agent 7' });

    // Assess
    const prediction = (await (await api(`/predictions/${id}`)).json()) as Record<string, unknown>;
    const event = (await events()).find((e) => e.detail.id === id);
    expect(event).toMatchObject({
      source: 'ser',
      'detail-type': 'Prediction Succeeded',
      detail: {
        id,
        status: 'SUCCEEDED',
        source: 'api',
        fileName: 'angry.flac',
        key: `uploads/${id}/angry.flac`,
        emotion: prediction.emotion,
        confidence: prediction.confidence,
        modelVersion: test.stack.modelVersion,
        // A receiver that routes by speaker needs no poll.
        speakerId: 'agent 7',
        callback: { url: receiver.url },
      },
    });
    expect(receiver.received).toHaveLength(1);
    const [call] = receiver.received;
    expect(
      verifyWebhook(test.stack.webhookSecret, call!.body, call!.headers[SIGNATURE_HEADER] as string),
    ).toBe(true);
    expect(
      verifyWebhook('another-secret-entirely', call!.body, call!.headers[SIGNATURE_HEADER] as string),
    ).toBe(false);
    const body = JSON.parse(call!.body);
    expect(call!.headers[EVENT_ID_HEADER]).toBe(event!.detail.eventId);
    expect(body).toEqual({
      eventId: event!.detail.eventId,
      detailType: 'Prediction Succeeded',
      detail: expect.objectContaining({
        id,
        status: 'SUCCEEDED',
        emotion: prediction.emotion,
        speakerId: 'agent 7',
      }),
    });
    expect(body.detail.callback).toBeUndefined();
  });

  it('announces a FAILED prediction with its error code, by event and callback', async () => {
    const bad = badFixture('header-only.wav');
    const id = await upload(bad.fileName, bad.bytes, receiver.url);

    const event = (await events()).find((e) => e.detail.id === id);
    expect(event?.['detail-type']).toBe('Prediction Failed');
    expect(event?.detail).toMatchObject({ status: 'FAILED', error: { code: bad.expectError } });
    expect(JSON.parse(receiver.received[0]!.body).detail.error.code).toBe(bad.expectError);
  });

  it('retries a receiver that fails, with the same event id and a fresh valid signature', async () => {
    receiver.statuses.push(503);

    await upload('sad.flac', tessClip('sad').bytes, receiver.url);

    expect(receiver.received).toHaveLength(2);
    const [first, second] = receiver.received;
    expect(first!.headers[EVENT_ID_HEADER]).toBe(second!.headers[EVENT_ID_HEADER]);
    expect(first!.body).toBe(second!.body);
    for (const call of receiver.received) {
      expect(
        verifyWebhook(test.stack.webhookSecret, call.body, call.headers[SIGNATURE_HEADER] as string),
      ).toBe(true);
    }
  });

  it('dead-letters a callback whose receiver never accepts it, after every retry', async () => {
    receiver.statuses.push(...Array(20).fill(500));

    const id = await upload('happy.flac', tessClip('happy').bytes, receiver.url);

    // 3 tries per invocation, 3 invocations (Lambda's two retries).
    expect(receiver.received).toHaveLength(9);
    const dir = join(test.stack.deadLetterDir, 'callbacks');
    const records = await Promise.all(
      (await readdir(dir)).map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8'))),
    );
    const record = records.find((r) => r.requestPayload.detail.id === id);
    expect(record).toMatchObject({
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      responsePayload: { errorType: 'CallbackDeliveryError' },
    });

    // The receiver is fixed: `ser replay` (its own process) delivers the dead-lettered callback once more.
    receiver.statuses.length = 0;
    receiver.received.length = 0;
    const file = (await readdir(dir)).find((f) => f.startsWith(record.requestPayload.detail.eventId))!;
    const replay = await run(
      process.execPath,
      [
        ...['bin/ser.js', 'replay', join(dir, file), '--s3-endpoint', test.stack.s3Endpoint],
        ...['--dynamodb-endpoint', test.stack.dynamoDbEndpoint, '--bucket', test.stack.bucket],
      ],
      {
        env: {
          ...process.env,
          SER_DATA_DIR: test.stack.dataDir,
          SER_WEBHOOK_SECRET: test.stack.webhookSecret,
        },
      },
    );
    expect(replay.stdout).toContain('1/1 replayed');
    expect(receiver.received).toHaveLength(1);
    const delivered = receiver.received[0]!;
    expect(
      verifyWebhook(test.stack.webhookSecret, delivered.body, delivered.headers[SIGNATURE_HEADER] as string),
    ).toBe(true);
    expect(JSON.parse(delivered.body).detail).toMatchObject({ id, status: 'SUCCEEDED' });
    expect(await readdir(dir)).not.toContain(file);
  });

  it("dead-letters a callback to a receiver that is down with the connection's own reason", async () => {
    // A port that was just freed: nothing listens there, so every try is refused.
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const id = await upload('neutral.flac', tessClip('neutral').bytes, `http://127.0.0.1:${port}/hook`);

    const dir = join(test.stack.deadLetterDir, 'callbacks');
    const records = await Promise.all(
      (await readdir(dir)).map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8'))),
    );
    const record = records.find((r) => r.requestPayload.detail.id === id);
    // Not just "fetch failed": the operator of the receiver can act on ECONNREFUSED.
    expect(record.responsePayload.errorMessage).toContain('ECONNREFUSED');
  });

  it('refuses callback URLs that are not https (or loopback http locally) before issuing an upload', async () => {
    const plain = await api('/uploads', { fileName: 'a.wav', callbackUrl: 'http://example.com/hook' });
    const withCredentials = await api('/uploads', {
      fileName: 'a.wav',
      callbackUrl: 'https://user:pw@example.com/hook',
    });
    const notUrl = await api('/uploads', { fileName: 'a.wav', callbackUrl: 'hook' });
    const https = await api('/uploads', { fileName: 'a.wav', callbackUrl: 'https://example.com/hook' });

    expect(((await plain.json()) as { error: { code: string } }).error.code).toBe('INVALID_CALLBACK_URL');
    expect(((await withCredentials.json()) as { error: { code: string } }).error.code).toBe(
      'INVALID_CALLBACK_URL',
    );
    expect(notUrl.status).toBe(400);
    expect(https.status).toBe(201);
  });

  it('publishes drop-folder predictions too, once per object even when S3 repeats the event', async () => {
    await test.s3.send(
      new PutObjectCommand({
        Bucket: test.stack.bucket,
        Key: 'incoming/events/fear.flac',
        Body: tessClip('fear').bytes,
      }),
    );
    const isDropped = (e: PredictionEventEnvelope) => e.detail.key === 'incoming/events/fear.flac';
    for (let i = 0; i < 300 && !(await events()).some(isDropped); i++)
      await new Promise((r) => setTimeout(r, 100));
    await test.stack.idle();

    const dropped = (await events()).filter(isDropped);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({
      'detail-type': 'Prediction Succeeded',
      detail: { source: 'drop-folder', fileName: 'fear.flac', bucket: test.stack.bucket },
    });
    expect(dropped[0]!.detail.callback).toBeUndefined();
    expect(receiver.received).toHaveLength(0);
  });
});

describe('webhook signatures', () => {
  const body = '{"eventId":"e1"}';
  const nowSec = 1_800_000_000;
  const header = signWebhook('s3cret-s3cret-s3cret', body, nowSec);

  it('verify what was signed, within the tolerance, with the right secret only', () => {
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhook('s3cret-s3cret-s3cret', body, header, { nowSec: nowSec + 299 })).toBe(true);
    expect(verifyWebhook('s3cret-s3cret-s3cret', body, header, { nowSec: nowSec + 301 })).toBe(false);
    expect(verifyWebhook('s3cret-s3cret-s3cret', `${body} `, header, { nowSec })).toBe(false);
    expect(verifyWebhook('other-secret-value', body, header, { nowSec })).toBe(false);
    expect(
      verifyWebhook('s3cret-s3cret-s3cret', body, header.replace('t=1800000000', 't=1800000001'), { nowSec }),
    ).toBe(false);
    expect(verifyWebhook('s3cret-s3cret-s3cret', body, undefined, { nowSec })).toBe(false);
  });

  it('accept any of several v1 values (a secret being rotated)', () => {
    const rotated = `${header},v1=${'0'.repeat(64)}`;
    expect(verifyWebhook('s3cret-s3cret-s3cret', body, rotated, { nowSec })).toBe(true);
  });
});
