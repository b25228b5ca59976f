import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toNotification } from '../bin/local/s3-event-bridge.ts';
import { dropFolderId } from '../lambdas/app/object-keys.ts';
import {
  type AudioPredictor,
  type ObjectProcessorDeps,
  objectVersionOf,
  processObject,
} from '../lambdas/app/object-processor.ts';
import type { PredictionEvent } from '../lambdas/app/prediction-events.ts';
import type { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { parseS3Event } from '../lambdas/app/s3-event.ts';
import type { createUploadService } from '../lambdas/app/upload-service.ts';
import { createPredictor, type Predictor } from '../lambdas/core/predict.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';
import { badFixture, tessClip } from './helpers/fixtures.ts';
import { predictionRepositoryOn, startTestAws, type TestAws, uploadServiceOn } from './helpers/local-aws.ts';

const MB = 1024 * 1024;

describe('object processing against s3rver and dynalite', () => {
  let aws: TestAws;
  let predictor: Predictor;
  let repository: PredictionRepository;
  let createUpload: ReturnType<typeof createUploadService>;
  const deps = (): ObjectProcessorDeps => ({
    s3: aws.s3,
    repository,
    predictor,
    maxUploadBytes: 25 * MB,
    maxDurationSec: 600,
  });

  /** Runs the processor on the notification S3 would send for `event` (keys URL-encoded). */
  const processEvent = async (
    event: Parameters<typeof toNotification>[0],
    override: Partial<ReturnType<typeof deps>> = {},
  ) => {
    const notification = toNotification(event);
    if (!notification) throw new Error('no notification for this event');
    const refs = parseS3Event(notification);
    expect(refs).toHaveLength(1);
    return processObject({ ...deps(), ...override }, refs[0]!);
  };

  beforeAll(async () => {
    [aws, predictor] = await Promise.all([startTestAws(), createPredictor({ modelDir: DEFAULT_MODEL_DIR })]);
    repository = predictionRepositoryOn(aws);
    createUpload = uploadServiceOn(aws, repository);
  });

  afterAll(async () => {
    await predictor?.release();
    await aws?.close();
  });

  it('predicts a file uploaded over HTTP to a presigned PUT URL', async () => {
    // Prepare
    const clip = tessClip('angry');
    const created = await createUpload({ fileName: `my clip (1).flac`, sizeBytes: clip.bytes.length });
    expect(created.upload.method).toBe('PUT');
    const key = `uploads/${created.id}/my_clip_1_.flac`;
    const event = aws.nextEvent(key);

    // Act
    const put = await fetch(created.upload.url, {
      method: 'PUT',
      headers: created.upload.headers,
      body: clip.bytes,
    });
    const outcome = await processEvent(await event);

    // Assess
    expect(put.status).toBe(200);
    expect(outcome.outcome).toBe('succeeded');
    const prediction = await repository.get(created.id);
    expect(prediction).toMatchObject({
      id: created.id,
      status: 'SUCCEEDED',
      source: 'api',
      fileName: 'my clip (1).flac',
    });
    expect(prediction?.emotion).toBe('angry');
    expect(Object.keys(prediction?.probabilities ?? {})).toEqual([...predictor.labels]);
    expect(prediction?.modelVersion).toBe(predictor.modelVersion);
  });

  it("reads each object with one request: GetObject of the key's current object, never a named version", async () => {
    // Prepare: the role holds s3:GetObject only (lib/constructs/inference.ts), so no VersionId and no HeadObject
    const key = 'incoming/one-read/clip.wav';
    const event = aws.nextEvent(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: tessClip('sad').bytes }));
    const reads: { command: string; versionId: unknown }[] = [];
    aws.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string; VersionId?: string };
        if (input.Key === key)
          reads.push({ command: String(context.commandName), versionId: input.VersionId });
        return next(args);
      },
      { step: 'initialize', name: 'recordObjectReads' },
    );

    // Act
    const outcome = await processEvent(await event).finally(() =>
      aws.s3.middlewareStack.remove('recordObjectReads'),
    );

    // Assess
    expect(outcome.outcome).toBe('succeeded');
    expect(reads).toEqual([{ command: 'GetObjectCommand', versionId: undefined }]);
  });

  it('ends an upload whose object is gone FAILED (OBJECT_DELETED) and announces it like any terminal record', async () => {
    // Prepare: the event names an object that is no longer there (deleted before it was read).
    const created = await createUpload({ fileName: 'gone.flac', sizeBytes: 10 });
    const published: PredictionEvent[] = [];
    const events = { publish: async (event: PredictionEvent) => void published.push(event) };

    // Act
    const outcome = await processObject(
      { ...deps(), events },
      { bucket: aws.bucket, key: `uploads/${created.id}/gone.flac`, eTag: '"0123"', size: 10 },
    );

    // Assess
    expect(outcome.outcome).toBe('ignored');
    expect(await repository.get(created.id)).toMatchObject({
      status: 'FAILED',
      error: { code: 'OBJECT_DELETED' },
    });
    expect(published).toHaveLength(1);
    expect(published[0]!.detail).toMatchObject({
      id: created.id,
      status: 'FAILED',
      error: { code: 'OBJECT_DELETED' },
    });
  });

  it('refuses a tampered presigned URL and a body longer than the signed size', async () => {
    const clip = tessClip('sad');
    const created = await createUpload({ fileName: 'clip.flac', sizeBytes: clip.bytes.length });
    const url = new URL(created.upload.url);

    const otherKey = new URL(url);
    otherKey.pathname = otherKey.pathname.replace(/clip\.flac$/, 'other.flac');
    const forgedSignature = new URL(url);
    forgedSignature.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    const bigger = Buffer.concat([clip.bytes, Buffer.alloc(1024)]);

    const responses = await Promise.all([
      fetch(otherKey, { method: 'PUT', headers: created.upload.headers, body: clip.bytes }),
      fetch(forgedSignature, { method: 'PUT', headers: created.upload.headers, body: clip.bytes }),
      fetch(url, { method: 'PUT', headers: created.upload.headers, body: bigger }),
      fetch(url, { method: 'PUT', headers: { 'Content-Type': 'audio/wav' }, body: clip.bytes }),
      fetch(`${aws.s3Endpoint}/${aws.bucket}/uploads/anonymous.flac`, { method: 'PUT', body: clip.bytes }),
    ]);

    expect(responses.map((r) => r.status)).toEqual([403, 403, 403, 403, 403]);
    expect((await repository.get(created.id))?.status).toBe('PENDING');
  });

  it('accepts an upload through a presigned POST form when no size is declared', async () => {
    const clip = tessClip('happy');
    const created = await createUpload({ fileName: 'happy.flac', contentType: 'audio/flac' });
    expect(created.upload).toMatchObject({ method: 'POST' });
    const form = new FormData();
    for (const [name, value] of Object.entries(created.upload.fields ?? {})) form.append(name, value);
    form.append('file', new Blob([clip.bytes], { type: 'audio/flac' }), 'happy.flac');
    const event = aws.nextEvent(`uploads/${created.id}/happy.flac`);

    const posted = await fetch(created.upload.url, { method: 'POST', body: form });
    const outcome = await processEvent(await event);

    expect(posted.status).toBeLessThan(300);
    expect(outcome).toMatchObject({ outcome: 'succeeded', id: created.id });
  });

  it('processes a drop-folder object once, even when S3 delivers the event twice', async () => {
    // Prepare: a key with a space, which S3 sends URL-encoded as `+`.
    const clip = tessClip('neutral');
    const key = 'incoming/batch 7/clip one.flac';
    const event = aws.nextEvent(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: clip.bytes }));
    const delivered = await event;
    expect(toNotification(delivered)?.Records[0]?.s3.object.key).toBe('incoming/batch+7/clip+one.flac');

    // Act
    const first = await processEvent(delivered);
    const resultAfterFirst = await aws.s3.send(
      new GetObjectCommand({ Bucket: aws.bucket, Key: 'results/batch 7/clip one.flac.json' }),
    );
    const firstJson = JSON.parse(await resultAfterFirst.Body!.transformToString());
    const second = await processEvent(delivered);

    // Assess
    const head = await aws.s3.send(new HeadObjectCommand({ Bucket: aws.bucket, Key: key }));
    const [ref] = parseS3Event(toNotification(delivered));
    const expectedId = dropFolderId(aws.bucket, key, objectVersionOf(ref!, head.ETag!.replaceAll('"', '')));
    expect(first).toMatchObject({
      outcome: 'succeeded',
      id: expectedId,
      resultKey: 'results/batch 7/clip one.flac.json',
    });
    expect(second).toEqual({ outcome: 'duplicate', id: expectedId, status: 'SUCCEEDED' });
    const stored = await repository.get(expectedId);
    // The result file is the record plus the bytes it is about.
    const { object, ...recordFields } = firstJson;
    expect(stored).toEqual(recordFields);
    expect(object).toEqual({
      key: 'incoming/batch 7/clip one.flac',
      eTag: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(stored).toMatchObject({ source: 'drop-folder', fileName: 'clip one.flac', status: 'SUCCEEDED' });
    const resultAfterSecond = await aws.s3.send(
      new GetObjectCommand({ Bucket: aws.bucket, Key: 'results/batch 7/clip one.flac.json' }),
    );
    expect(JSON.parse(await resultAfterSecond.Body!.transformToString())).toEqual(firstJson);
  });

  it('marks a corrupt file FAILED with its code, keeps the object, and does not retry it', async () => {
    const corrupt = badFixture('truncated.flac');
    expect(corrupt.expectError).toBe('CORRUPT_AUDIO');
    const key = 'incoming/bad/truncated.flac';
    const event = aws.nextEvent(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: corrupt.bytes }));
    const delivered = await event;

    const outcome = await processEvent(delivered);
    const again = await processEvent(delivered);

    expect(outcome.outcome).toBe('failed');
    if (outcome.outcome !== 'failed') return;
    expect(outcome.prediction.error?.code).toBe('CORRUPT_AUDIO');
    expect(await repository.get(outcome.id)).toMatchObject({
      status: 'FAILED',
      error: outcome.prediction.error,
    });
    expect(again).toMatchObject({ outcome: 'duplicate', status: 'FAILED' });
    const head = await aws.s3.send(new HeadObjectCommand({ Bucket: aws.bucket, Key: key }));
    expect(head.ContentLength).toBe(corrupt.bytes.length);
    const result = await aws.s3.send(
      new GetObjectCommand({ Bucket: aws.bucket, Key: 'results/bad/truncated.flac.json' }),
    );
    expect(JSON.parse(await result.Body!.transformToString())).toMatchObject({ status: 'FAILED' });
  });

  it('rejects an object over the size limit as TOO_LARGE before downloading it', async () => {
    const clip = tessClip('fear');
    const key = 'incoming/large.flac';
    const event = aws.nextEvent(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: clip.bytes }));
    let predicted = false;
    const watching: AudioPredictor = {
      modelVersion: predictor.modelVersion,
      predict: (audio, options) => {
        predicted = true;
        return predictor.predict(audio, options);
      },
    };

    const outcome = await processEvent(await event, {
      predictor: watching,
      maxUploadBytes: clip.bytes.length - 1,
    });

    expect(outcome.outcome).toBe('failed');
    if (outcome.outcome === 'failed') expect(outcome.prediction.error?.code).toBe('TOO_LARGE');
    expect(predicted).toBe(false);
  });

  it('rethrows an infrastructure fault and lets the retry of the same event finish the job', async () => {
    const clip = tessClip('disgust');
    const created = await createUpload({ fileName: 'retry.flac', sizeBytes: clip.bytes.length });
    const event = aws.nextEvent(`uploads/${created.id}/retry.flac`);
    await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: clip.bytes });
    const delivered = await event;
    const outage: AudioPredictor = {
      modelVersion: predictor.modelVersion,
      predict: () => Promise.reject(new Error('out of memory')),
    };

    await expect(processEvent(delivered, { predictor: outage })).rejects.toThrow('out of memory');
    const afterFault = await repository.get(created.id);
    const retried = await processEvent(delivered);

    expect(afterFault?.status).toBe('PENDING');
    expect(retried).toMatchObject({ outcome: 'succeeded', id: created.id });
  });

  it('ignores keys outside uploads/ and incoming/, so its own results never trigger it', async () => {
    const outcome = await processObject(deps(), {
      bucket: aws.bucket,
      key: 'results/batch 7/clip one.flac.json',
    });
    expect(outcome).toEqual({
      outcome: 'ignored',
      reason: 'key outside uploads/ and incoming/: results/batch 7/clip one.flac.json',
    });
    // A console's "create folder" under the drop folder is an empty object ending in "/".
    const folder = await processObject(deps(), { bucket: aws.bucket, key: 'incoming/new folder/' });
    expect(folder).toEqual({
      outcome: 'ignored',
      reason: 'a folder marker, not a file: incoming/new folder/',
    });
  });
});
