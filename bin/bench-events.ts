/**
 * Per-event time of the inference handler on the local stack (`npm start`'s, in this process): each clip
 * is put into the drop folder and timed from the start of the PUT (the upload is included: an over- rather than an under-estimate) until
 * the handler has processed it — the S3
 * notification, GetObject, the prediction, the DynamoDB writes and the result object. The
 * bench subtracts the prediction alone to get the per-event overhead it puts into the cost estimate.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { INCOMING_PREFIX } from '../lambdas/app/object-keys.ts';
import { startLocalStack } from './local/stack.ts';

export async function measureEventTimes(
  clips: { name: string; bytes: Uint8Array }[],
  rounds: number,
): Promise<number[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ser-bench-stack-'));
  let processed: () => void = () => undefined;
  const stack = await startLocalStack({
    host: '127.0.0.1',
    port: 0,
    s3Port: 0,
    dynamoDbPort: 0,
    bucket: 'ser-bench',
    apiKey: 'bench-key',
    dataDir,
    log: () => undefined,
    onProcessed: () => processed(),
  });
  const s3 = new S3Client({
    endpoint: stack.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const times: number[] = [];
  try {
    for (let r = 0; r <= rounds; r++) {
      for (const clip of clips) {
        const key = `${INCOMING_PREFIX}bench/${r}/${clip.name}`;
        const done = new Promise<void>((resolve) => {
          processed = resolve;
        });
        const started = performance.now();
        await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: clip.bytes }));
        await done;
        if (r > 0) times.push(performance.now() - started); // round 0 warms up
      }
    }
  } finally {
    s3.destroy();
    await stack.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return times;
}
