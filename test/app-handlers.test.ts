import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toProxyEvent } from '../bin/local/api-gateway-event.ts';
import { registerBundledModel } from '../bin/local/local-aws.ts';
import { toNotification } from '../bin/local/s3-event-bridge.ts';
import { markedAsReplay } from '../lambdas/app/dead-letter.ts';
import { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';
import { tessClip } from './helpers/fixtures.ts';
import { lambdaContext } from './helpers/lambda-context.ts';
import { handlerEnvironment, startTestAws, type TestAws } from './helpers/local-aws.ts';

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
type ProcessHandler = (event: unknown, context: Context) => Promise<{ outcome: string; id?: string }[]>;

describe('the Lambda handlers as deployed (middy + Powertools), against s3rver and dynalite', () => {
  let aws: TestAws;
  let apiHandler: ApiHandler;
  let processHandler: ProcessHandler;

  const callApi = async (method: string, url: string, body?: unknown) => {
    const built = toProxyEvent({ method, url, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!built.ok) throw new Error(built.message);
    const response = await apiHandler(built.event, lambdaContext('api'));
    return { status: response.statusCode, json: JSON.parse(response.body) };
  };

  beforeAll(async () => {
    aws = await startTestAws();
    // The handlers read their configuration from the environment at import, as at a Lambda cold start.
    const env = {
      ...handlerEnvironment(aws),
      MODEL_VERSION: 'handler-test',
      // A speaker folder, whose objects' erasure markers the processor and a failed replay read.
      DROP_FOLDER_SPEAKER_PREFIXES: 'calls',
    };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    // What the stack's deploy-time custom resource does: the bundled model is stored and is the registry's
    // first version.
    await registerBundledModel({
      dynamoDbEndpoint: aws.dynamoDbEndpoint,
      s3Endpoint: aws.s3Endpoint,
      bucket: aws.bucket,
      tableName: aws.tableName,
      modelDir: DEFAULT_MODEL_DIR,
    });
    apiHandler = (await import('../lambdas/handlers/api.ts')).handler;
    processHandler = (await import('../lambdas/handlers/process-object.ts'))
      .handler as unknown as ProcessHandler;
  });

  afterAll(async () => {
    await aws?.close();
    vi.unstubAllEnvs();
  });

  it('creates an upload, receives the S3 event, and answers the finished prediction', async () => {
    // Prepare
    const clip = tessClip('angry');
    const created = await callApi('POST', '/uploads', {
      fileName: 'clip one.flac',
      sizeBytes: clip.bytes.length,
    });
    const key = `uploads/${created.json.id}/clip_one.flac`;
    const delivered = aws.nextEvent(key);
    const put = await fetch(created.json.upload.url, {
      method: 'PUT',
      headers: created.json.upload.headers,
      body: clip.bytes,
    });
    const notification = toNotification(await delivered);

    // Act
    const first = await processHandler(notification, lambdaContext('process-object'));
    const duplicate = await processHandler(notification, lambdaContext('process-object'));
    const prediction = await callApi('GET', `/predictions/${created.json.id}`);

    // Assess
    expect(created.status).toBe(201);
    expect(put.status).toBe(200);
    expect(first).toEqual([expect.objectContaining({ outcome: 'succeeded', id: created.json.id })]);
    expect(duplicate).toEqual([{ outcome: 'duplicate', id: created.json.id, status: 'SUCCEEDED' }]);
    expect(prediction).toMatchObject({ status: 200, json: { status: 'SUCCEEDED', emotion: 'angry' } });
    // The registry's active version (the bundled model, registered at deploy time) wins over
    // MODEL_VERSION: /health reports what new predictions report.
    expect((await callApi('GET', '/health')).json).toEqual({
      status: 'ok',
      modelVersion: prediction.json.modelVersion,
    });
  });

  it('without a training launcher, POST /training-jobs is 503 before any job record or the lock is written', async () => {
    // Prepare: data to train on, so that the refusal is the launcher's, not an empty prefix's.
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: 'datasets/tess/OAF_back_angry.wav', Body: 'RIFF' }),
    );

    // Act: this handler has no launch template and no local runner plugged in.
    const created = await callApi('POST', '/training-jobs', {});

    // Assess
    expect(created).toMatchObject({ status: 503, json: { error: { code: 'TRAINING_UNAVAILABLE' } } });
    expect((await callApi('GET', '/training-jobs')).json).toEqual({ items: [] });
    const { Item: lock } = await aws.doc.send(
      new GetCommand({ TableName: aws.tableName, Key: { id: 'TRAINING_LOCK' }, ConsistentRead: true }),
    );
    expect(lock).toBeUndefined();
  });

  it('a failed replay throws its own error, not the one that kept it from being recorded FAILED', async () => {
    // Prepare: the erasure marker's read fails, first in the replay, then in the recording of its failure.
    const key = 'incoming/calls/agent-1/clip.flac';
    const delivered = aws.nextEvent(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: tessClip('sad').bytes }));
    const replay = markedAsReplay(toNotification(await delivered)!);
    const replayError = new Error('the replay failed');
    const markerRead = vi
      .spyOn(PredictionRepository.prototype, 'erasureMarker')
      .mockRejectedValueOnce(replayError)
      .mockRejectedValueOnce(new Error('the marker read failed'));

    // Act
    const thrown = await processHandler(replay, lambdaContext('process-object')).catch((error) => error);
    const calls = markerRead.mock.calls.length;
    markerRead.mockRestore();

    // Assess
    expect(thrown).toBe(replayError);
    expect(calls).toBe(2);
  });

  it('ignores S3 test events and refuses payloads that are not S3 events (so they reach the DLQ)', async () => {
    const testEvent = { Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: aws.bucket };

    expect(await processHandler(testEvent, lambdaContext('process-object'))).toEqual([]);
    await expect(
      processHandler({ Records: [{ foo: 1 }] }, lambdaContext('process-object')),
    ).rejects.toThrow();
  });
});
