import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  ensurePredictionsTable,
  LOCAL_REGION,
  LOCAL_S3_CREDENTIALS,
  type S3rverEvent,
  startLocalDynamoDb,
  startLocalS3,
} from '../../bin/local/local-aws.ts';
import { createDocumentClient, createS3Client } from '../../lambdas/app/aws-clients.ts';
import { PredictionRepository } from '../../lambdas/app/prediction-repository.ts';
import { createUploadService } from '../../lambdas/app/upload-service.ts';

export interface TestAws {
  dir: string;
  bucket: string;
  tableName: string;
  s3Endpoint: string;
  dynamoDbEndpoint: string;
  s3: S3Client;
  doc: DynamoDBDocumentClient;
  /** Every event s3rver emitted, in order. */
  events: S3rverEvent[];
  /** Resolves with the next event s3rver emits for `key`. */
  nextEvent(key: string): Promise<S3rverEvent>;
  close(): Promise<void>;
}

/**
 * The environment the handlers read at import (as at a Lambda cold start), pointed at these servers,
 * with quiet logs and no EMF metrics.
 */
export const handlerEnvironment = (aws: TestAws): Record<string, string> => ({
  BUCKET_NAME: aws.bucket,
  TABLE_NAME: aws.tableName,
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  S3_ENDPOINT: aws.s3Endpoint,
  DYNAMODB_ENDPOINT: aws.dynamoDbEndpoint,
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
});

/** Real s3rver + dynalite on free ports in a temp dir, with SDK v3 clients pointed at them. */
export async function startTestAws({
  bucket = 'ser-test',
  tableName = 'predictions',
} = {}): Promise<TestAws> {
  const dir = await mkdtemp(join(tmpdir(), 'ser-app-test-'));
  const s3Server = await startLocalS3({ directory: join(dir, 's3'), bucket });
  const dynamo = await startLocalDynamoDb({});
  await ensurePredictionsTable(dynamo.endpoint, tableName, join(dir, 'table-upgrade-dump.json'));
  const clientOptions = {
    region: LOCAL_REGION,
    credentials: LOCAL_S3_CREDENTIALS,
    s3Endpoint: s3Server.endpoint,
    dynamoDbEndpoint: dynamo.endpoint,
  };
  const s3 = createS3Client(clientOptions);
  const doc = createDocumentClient(clientOptions);
  const events: S3rverEvent[] = [];
  const waiters: { key: string; resolve: (e: S3rverEvent) => void }[] = [];
  s3Server.server.on('event', (event: S3rverEvent) => {
    events.push(event);
    const key = event.Records[0]?.s3.object.key;
    for (const waiter of waiters.filter((w) => w.key === key)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  });
  return {
    dir,
    bucket,
    tableName,
    s3Endpoint: s3Server.endpoint,
    dynamoDbEndpoint: dynamo.endpoint,
    s3,
    doc,
    events,
    nextEvent: (key) => new Promise((resolve) => waiters.push({ key, resolve })),
    async close() {
      s3.destroy();
      doc.destroy();
      await Promise.all([s3Server.close(), dynamo.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A prediction repository on the test table with the stack's defaults (records kept 30 days, a 15-minute
 * processing lease), any of them overridden by `options` (a clock, a lease), looking in the test bucket
 * for the file of an upload past its deadline.
 */
export const predictionRepositoryOn = (
  aws: TestAws,
  options: Partial<ConstructorParameters<typeof PredictionRepository>[1]> = {},
) =>
  new PredictionRepository(
    aws.doc,
    { tableName: aws.tableName, recordTtlDays: 30, processingLeaseSec: 900, ...options },
    aws.s3,
  );

/**
 * The API's upload service on the test bucket, writing through `repository`: 25 MB uploads and 15-minute
 * URLs unless `options` say otherwise (a clock, a shorter URL life).
 */
export const uploadServiceOn = (
  aws: TestAws,
  repository: PredictionRepository,
  options: Partial<Parameters<typeof createUploadService>[0]> = {},
) =>
  createUploadService({
    s3: aws.s3,
    repository,
    bucketName: aws.bucket,
    maxUploadBytes: 25 * 1024 * 1024,
    uploadUrlTtlSec: 900,
    ...options,
  });
