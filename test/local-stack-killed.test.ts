import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../bin/local/local-aws.ts';
import { type LocalStack, startLocalStack } from '../bin/local/stack.ts';
import { createDocumentClient, createS3Client } from '../lambdas/app/aws-clients.ts';
import { uploadKey } from '../lambdas/app/object-keys.ts';
import { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { tessClip } from './helpers/fixtures.ts';
import {
  type LocalStackProcess,
  readResult,
  spawnLocalStack,
  waitForPrediction,
} from './helpers/local-stack-process.ts';

/** Starts the stack on `dataDir`, again while the killed one's lock is not yet stale (data-dir-lock.ts). */
async function restart(dataDir: string): Promise<LocalStackProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnLocalStack(dataDir);
    } catch (error) {
      if (attempt >= 20 || !/is in use by another local stack/.test(String(error))) throw error;
    }
  }
}

/**
 * The local stack's S3 event queue lives in memory: a stack killed hard (SIGKILL, out of memory) lost
 * every queued event, and its claim held the file being processed PROCESSING for good. The next start on
 * the data folder feeds the queue what was left undone (bin/local/unfinished-uploads.ts).
 */
describe('npm start finishes the uploads a killed stack on its data folder left unprocessed', () => {
  let dataDir: string;
  let stack: LocalStackProcess | undefined;
  let s3: S3Client | undefined;
  afterAll(async () => {
    s3?.destroy();
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack!.apiUrl}${path}`, {
      ...init,
      headers: { 'x-api-key': stack!.apiKey, 'content-type': 'application/json' },
    });
  async function upload(fileName: string, bytes: Buffer): Promise<string> {
    const created = await api('/uploads', {
      method: 'POST',
      body: JSON.stringify({ fileName, sizeBytes: bytes.length }),
    });
    const { id, upload: to } = (await created.json()) as {
      id: string;
      upload: { method: string; url: string; headers: Record<string, string> };
    };
    expect((await fetch(to.url, { method: to.method, headers: to.headers, body: bytes })).status).toBe(200);
    return id;
  }
  const s3On = (running: LocalStackProcess) =>
    createS3Client({
      region: 'us-east-1',
      s3Endpoint: running.s3Endpoint,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });

  it('every API upload and drop-folder file ends SUCCEEDED or FAILED after a SIGKILL and a restart', async () => {
    // Arrange: the events file a FIFO nobody reads, so the first upload's processor blocks announcing
    // its result (before its commit: the record stays PROCESSING, its lease live) and holds the
    // one-at-a-time queue; behind it API uploads and drop-folder files; then a SIGKILL
    dataDir = await mkdtemp(join(tmpdir(), 'ser-killed-'));
    execFileSync('mkfifo', [join(dataDir, 'events.jsonl')]);
    stack = await spawnLocalStack(dataDir);
    s3 = s3On(stack);
    const { bucket } = stack;
    const clip = tessClip('angry');
    const holding = await upload('holding.flac', clip.bytes);
    const queued = [await upload('queued-1.flac', clip.bytes), await upload('queued-2.flac', clip.bytes)];
    const dropped = ['incoming/killed/a.flac', 'incoming/killed/b.flac'];
    for (const key of dropped)
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: clip.bytes }));
    await stack.kill();
    s3.destroy();
    await rm(join(dataDir, 'events.jsonl'));

    // Act
    stack = await restart(dataDir);
    s3 = s3On(stack);
    const uploads = await Promise.all([holding, ...queued].map((id) => waitForPrediction(stack!, id, 3000)));
    const results = await Promise.all(
      dropped.map((key) => readResult(s3!, bucket, `results/${key.slice('incoming/'.length)}.json`, 600)),
    );

    // Assess
    expect(uploads.map((p) => [p.status, p.emotion])).toEqual([
      ['SUCCEEDED', 'angry'],
      ['SUCCEEDED', 'angry'],
      ['SUCCEEDED', 'angry'],
    ]);
    expect(results).toMatchObject([
      { status: 'SUCCEEDED', source: 'drop-folder', emotion: 'angry' },
      { status: 'SUCCEEDED', source: 'drop-folder', emotion: 'angry' },
    ]);
    expect(
      stack.output.some((line) => /re-queued 5 file\(s\) the last stack left unprocessed/.test(line)),
    ).toBe(true);
  }, 600_000);
});

describe('npm start ends a record the killed stack left PROCESSING whose file is gone', () => {
  let dataDir: string;
  let stack: LocalStack | undefined;
  afterAll(async () => {
    await stack?.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const portOf = (url: string | undefined) => (url ? Number(new URL(url).port) : 0);
  // The same ports again: the handlers, imported once per process, keep the endpoints they read first.
  const start = (last?: LocalStack) =>
    startLocalStack({
      host: '127.0.0.1',
      port: portOf(last?.apiUrl),
      s3Port: portOf(last?.s3Endpoint),
      dynamoDbPort: portOf(last?.dynamoDbEndpoint),
      bucket: 'ser-gone',
      apiKey: 'gone-key',
      dataDir,
      log: () => {},
    });
  const repositoryOn = (endpoint: string) => {
    const doc = createDocumentClient({
      region: LOCAL_REGION,
      credentials: LOCAL_S3_CREDENTIALS,
      dynamoDbEndpoint: endpoint,
    });
    return {
      doc,
      repository: new PredictionRepository(doc, {
        tableName: 'predictions',
        recordTtlDays: 30,
        processingLeaseSec: 900,
      }),
    };
  };

  it('FAILED with OBJECT_DELETED, though its 15-minute lease had not run out', async () => {
    // Arrange: an upload claimed (lease live) by a stack that then died, its file deleted since
    dataDir = await mkdtemp(join(tmpdir(), 'ser-gone-'));
    stack = await start();
    const id = randomUUID();
    const key = uploadKey(id, 'gone.flac');
    const before = repositoryOn(stack.dynamoDbEndpoint);
    await before.repository.createPending({ id, fileName: 'gone.flac', bucket: 'ser-gone', key });
    const claim = { id, source: 'api' as const, fileName: 'gone.flac', bucket: 'ser-gone', key };
    await before.repository.claim({
      ...claim,
      objectVersion: 'abc@0123',
      arrivedAt: new Date().toISOString(),
    });
    before.doc.destroy();
    await stack.close();

    // Act
    stack = await start(stack);
    await stack.idle();

    // Assess
    const after = repositoryOn(stack.dynamoDbEndpoint);
    expect(await after.repository.get(id)).toMatchObject({
      status: 'FAILED',
      error: { code: 'OBJECT_DELETED' },
    });
    after.doc.destroy();
  }, 120_000);
});
