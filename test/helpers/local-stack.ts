import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../../bin/local/local-aws.ts';
import { type LocalStack, startLocalStack } from '../../bin/local/stack.ts';
import { replayFromCommandLine } from '../../bin/replay-command.ts';
import { createS3Client } from '../../lambdas/app/aws-clients.ts';

export interface TestStack {
  stack: LocalStack;
  /** An S3 client on the stack's s3rver, as any drop-folder client would use. */
  s3: S3Client;
  /** Stops the stack and the client and deletes the stack's data folder. */
  close(): Promise<void>;
}

/**
 * `npm start`'s whole stack (s3rver, dynalite, the same handlers) on free ports, its data in a fresh
 * temporary folder, plus an S3 client pointed at it.
 */
export async function startTestStack(options: {
  bucket: string;
  apiKey: string;
  /** @default `<apiKey>-admin` */
  adminKey?: string;
  log?: (line: string) => void;
}): Promise<TestStack> {
  const dataDir = await mkdtemp(join(tmpdir(), `${options.bucket}-`));
  const stack = await startLocalStack({
    host: '127.0.0.1',
    port: 0,
    s3Port: 0,
    dynamoDbPort: 0,
    bucket: options.bucket,
    apiKey: options.apiKey,
    adminKey: options.adminKey ?? `${options.apiKey}-admin`,
    dataDir,
    log: options.log ?? (() => {}),
  });
  const s3 = createS3Client({
    region: LOCAL_REGION,
    credentials: LOCAL_S3_CREDENTIALS,
    s3Endpoint: stack.s3Endpoint,
  });
  return {
    stack,
    s3,
    async close() {
      s3.destroy();
      await stack.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SharedTestStack {
  /** The running stack (from the describe block's `beforeAll` on). */
  readonly stack: LocalStack;
  /** An S3 client on the stack's s3rver. */
  readonly s3: S3Client;
  /** Calls the API with the user key and a JSON content type (`init.headers` win). */
  api(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * One local stack for the calling describe block: started in its `beforeAll`, closed (and its data
 * folder deleted) in its `afterAll`. Read `stack` and `s3` inside tests and hooks, not at collection.
 */
export function useTestStack(options: Parameters<typeof startTestStack>[0]): SharedTestStack {
  let local: TestStack | undefined;
  beforeAll(async () => {
    local = await startTestStack(options);
  });
  afterAll(async () => {
    await local?.close();
  });
  const running = (): TestStack => {
    if (!local) throw new Error('The test stack is not started: use it inside tests or hooks');
    return local;
  };
  return {
    get stack() {
      return running().stack;
    },
    get s3() {
      return running().s3;
    },
    api(path, init = {}) {
      const { stack } = running();
      return fetch(`${stack.apiUrl}${path}`, {
        ...init,
        headers: { 'x-api-key': stack.apiKey, 'content-type': 'application/json', ...init.headers },
      });
    },
  };
}

/** `ser replay <files>` as a user runs it against `stack` (its endpoints, data folder and secret). */
export const replayIntoStack = (stack: LocalStack, files: string[]) =>
  replayFromCommandLine(files, {
    s3Endpoint: stack.s3Endpoint,
    dynamodbEndpoint: stack.dynamoDbEndpoint,
    bucket: stack.bucket,
    table: 'predictions',
    maxMessages: 10,
    dataDir: stack.dataDir,
    webhookSecret: stack.webhookSecret,
  });

/**
 * Drops `body` at `incoming/<path>` as a drop-folder client would, waits for the stack's processor, and
 * returns the record's id as its result file names it.
 */
export async function droppedRecordId(
  { s3, stack }: TestStack,
  path: string,
  body: Uint8Array,
): Promise<string> {
  await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `incoming/${path}`, Body: body }));
  await stack.idle();
  const result = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: `results/${path}.json` }));
  return (JSON.parse(await result.Body!.transformToString()) as { id: string }).id;
}
