import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../lambdas/app/aws-clients.ts';
import { FIXTURES_DIR, tessClip } from './helpers/fixtures.ts';
import { type LocalStackProcess, spawnLocalStack, waitForPrediction } from './helpers/local-stack-process.ts';

/** A WAV of `seconds` tiling pcm16.wav's samples: long enough that its processing holds the queue. */
async function longWav(seconds: number): Promise<Buffer> {
  const source = await readFile(join(FIXTURES_DIR, 'generated/pcm16.wav'));
  let offset = 12;
  let format: Buffer | undefined;
  let data: Buffer | undefined;
  while (offset < source.length) {
    const id = source.toString('ascii', offset, offset + 4);
    const size = source.readUInt32LE(offset + 4);
    if (id === 'fmt ') format = source.subarray(offset + 8, offset + 8 + size);
    if (id === 'data') data = source.subarray(offset + 8, offset + 8 + size);
    offset += 8 + size + (size & 1);
  }
  const bytes = format!.readUInt32LE(8) * seconds; // byte rate × seconds
  const pcm = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += data!.length) data!.copy(pcm, i, 0, Math.min(data!.length, bytes - i));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + bytes, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  format!.copy(header, 20, 0, 16);
  header.write('data', 36);
  header.writeUInt32LE(bytes, 40);
  return Buffer.concat([header, pcm]);
}

/** Reads results/<path>.json once it is written (s3rver may serve a partial body while it writes). */
async function readResult(s3: S3Client, bucket: string, key: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 600; i++) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return JSON.parse(await object.Body!.transformToString());
    } catch (error) {
      const notYet = error instanceof SyntaxError || (error instanceof Error && error.name === 'NoSuchKey');
      if (!notYet) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${key} was not written`);
}

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
  async function untilProcessing(id: string): Promise<void> {
    for (let i = 0; i < 600; i++) {
      const body = (await (await api(`/predictions/${id}`)).json()) as { status: string };
      if (body.status === 'PROCESSING') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${id} never went PROCESSING`);
  }

  it('every API upload and drop-folder file ends SUCCEEDED or FAILED after a SIGKILL and a restart', async () => {
    // Arrange: a long file being processed (so the others wait in the queue), then API uploads and
    // drop-folder files put behind it, and the stack killed before any of those is processed
    dataDir = await mkdtemp(join(tmpdir(), 'ser-killed-'));
    stack = await spawnLocalStack(dataDir);
    s3 = createS3Client({
      region: 'us-east-1',
      s3Endpoint: stack.s3Endpoint,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const bucket = stack.bucket;
    const holding = await upload('holding.wav', await longWav(240));
    await untilProcessing(holding);
    const clip = tessClip('angry');
    const queued = [await upload('queued-1.flac', clip.bytes), await upload('queued-2.flac', clip.bytes)];
    const dropped = ['incoming/killed/a.flac', 'incoming/killed/b.flac'];
    for (const key of dropped)
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: clip.bytes }));
    const processedBeforeKill = stack.output.filter((line) => line.includes('processed ')).length;
    await stack.kill();
    s3.destroy();

    // Act
    stack = await restart(dataDir);
    s3 = createS3Client({
      region: 'us-east-1',
      s3Endpoint: stack.s3Endpoint,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const uploads = await Promise.all([holding, ...queued].map((id) => waitForPrediction(stack!, id, 3000)));
    const results = await Promise.all(
      dropped.map((key) => readResult(s3!, bucket, `results/${key.slice('incoming/'.length)}.json`)),
    );

    // Assess
    expect(processedBeforeKill).toBe(0); // the arrangement: all five were still undone when killed
    expect(['SUCCEEDED', 'FAILED']).toContain(uploads[0]!.status); // the long file: terminal, whatever it says
    expect(uploads.slice(1).map((p) => p.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(uploads.slice(1).map((p) => p.emotion)).toEqual(['angry', 'angry']);
    expect(results).toMatchObject([
      { status: 'SUCCEEDED', source: 'drop-folder', emotion: 'angry' },
      { status: 'SUCCEEDED', source: 'drop-folder', emotion: 'angry' },
    ]);
    expect(
      stack.output.some((line) => /re-queued 5 file\(s\) the last stack left unprocessed/.test(line)),
    ).toBe(true);
  }, 600_000);
});
