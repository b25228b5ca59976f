/**
 * A processor that dies mid-file: it claims the object named by its environment, prints `CLAIMED`
 * and then waits forever inside "inference", so the test can SIGKILL it between claim and result, as
 * an out-of-memory kill or a Lambda timeout would end a real attempt.
 */
import { createDocumentClient, createS3Client } from '../../lambdas/app/aws-clients.ts';
import { processObject } from '../../lambdas/app/object-processor.ts';
import { PredictionRepository } from '../../lambdas/app/prediction-repository.ts';
import type { S3ObjectRef } from '../../lambdas/app/s3-event.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const clients = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  s3Endpoint: env('S3_ENDPOINT'),
  dynamoDbEndpoint: env('DYNAMODB_ENDPOINT'),
};
await processObject(
  {
    s3: createS3Client(clients),
    repository: new PredictionRepository(createDocumentClient(clients), {
      tableName: env('TABLE_NAME'),
      recordTtlDays: 30,
      processingLeaseSec: Number(env('PROCESSING_LEASE_SEC')),
    }),
    predictor: {
      modelVersion: 'crashing',
      predict: () => {
        console.log('CLAIMED');
        setInterval(() => {}, 60_000); // keeps the process alive until it is killed
        return new Promise(() => {});
      },
    },
    maxUploadBytes: 25 * 1024 * 1024,
    maxDurationSec: 600,
  },
  // The object as its event names it (ETag and sequencer included): the record id depends on them.
  JSON.parse(env('OBJECT_REF')) as S3ObjectRef,
);
