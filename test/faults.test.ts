import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventQueue, toNotification } from '../bin/local/s3-event-bridge.ts';
import { deadLetterRecord, eventFromDeadLetter, replayMessages } from '../bin/replay.ts';
import { createDocumentClient } from '../lambdas/app/aws-clients.ts';
import { recordDeadLetter } from '../lambdas/app/dead-letter.ts';
import { classifyKey, dropFolderId } from '../lambdas/app/object-keys.ts';
import {
  type AudioPredictor,
  ClaimHeldError,
  type ObjectProcessorDeps,
  objectClaim,
  objectVersionOf,
  processObject,
} from '../lambdas/app/object-processor.ts';
import { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { parseS3Event, type S3ObjectRef } from '../lambdas/app/s3-event.ts';
import { ModelError } from '../lambdas/core/errors.ts';
import { createPredictor, type Predictor } from '../lambdas/core/predict.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';
import { startFaultProxy } from './helpers/fault-proxy.ts';
import { tessClip } from './helpers/fixtures.ts';
import { predictionRepositoryOn, startTestAws, type TestAws, uploadServiceOn } from './helpers/local-aws.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MB = 1024 * 1024;
const LEASE_SEC = 900;

/** A repository whose clock runs `offsetSec` ahead: how a test reaches a lease or expiry without waiting. */
const later = (offsetSec: number) => () => new Date(Date.now() + offsetSec * 1000);

describe('faults: every object ends terminal after retries, or in the DLQ with a way to replay it', () => {
  let aws: TestAws;
  let predictor: Predictor;
  let repository: PredictionRepository;
  const deps = (override: Partial<ObjectProcessorDeps> = {}): ObjectProcessorDeps => ({
    s3: aws.s3,
    repository,
    predictor,
    maxUploadBytes: 25 * MB,
    maxDurationSec: 600,
    ...override,
  });
  const repositoryWith = (options: Partial<ConstructorParameters<typeof PredictionRepository>[1]> = {}) =>
    predictionRepositoryOn(aws, { processingLeaseSec: LEASE_SEC, ...options });

  /** Puts `bytes` under `key` and returns the object as the S3 notification names it. */
  async function putObject(key: string, bytes: Uint8Array): Promise<S3ObjectRef> {
    const event = aws.nextEvent(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: bytes }));
    const [ref] = parseS3Event(toNotification(await event));
    return ref!;
  }
  const idOf = (ref: S3ObjectRef) =>
    dropFolderId(ref.bucket, ref.key, objectVersionOf(ref, ref.eTag!.replaceAll('"', '')));

  beforeAll(async () => {
    [aws, predictor] = await Promise.all([startTestAws(), createPredictor({ modelDir: DEFAULT_MODEL_DIR })]);
    repository = repositoryWith();
  });

  afterAll(async () => {
    await predictor?.release();
    await aws?.close();
  });

  it('DynamoDB unreachable between claim and result: the retry is refused while the lease lives, then completes', async () => {
    // Prepare: the processor reaches DynamoDB through a relay that is cut during inference.
    const clip = tessClip('angry');
    const ref = await putObject('incoming/faults/dynamo-cut.flac', clip.bytes);
    const proxy = await startFaultProxy(aws.dynamoDbEndpoint);
    const viaProxy = new PredictionRepository(
      createDocumentClient({
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        dynamoDbEndpoint: proxy.endpoint,
        requestTimeoutMs: 500,
      }),
      { tableName: aws.tableName, recordTtlDays: 30, processingLeaseSec: LEASE_SEC },
    );
    const cutDuringInference: AudioPredictor = {
      modelVersion: predictor.modelVersion,
      predict: (audio, options) => {
        proxy.cut();
        return predictor.predict(audio, options);
      },
    };

    try {
      // Act: commit and release both fail; the record keeps its lease.
      await expect(
        processObject(deps({ repository: viaProxy, predictor: cutDuringInference }), ref),
      ).rejects.toThrow();
      const stranded = await repository.get(idOf(ref));
      const retryWithinLease = processObject(deps(), ref);
      await expect(retryWithinLease).rejects.toBeInstanceOf(ClaimHeldError);
      const retryAfterLease = await processObject(
        deps({ repository: repositoryWith({ now: later(LEASE_SEC + 5) }) }),
        ref,
      );
      const again = await processObject(deps(), ref);

      // Assess
      expect(stranded?.status).toBe('PROCESSING');
      expect(retryAfterLease).toMatchObject({ outcome: 'succeeded', id: idOf(ref) });
      expect(again).toMatchObject({ outcome: 'duplicate', status: 'SUCCEEDED' });
      expect(await repository.get(idOf(ref))).toMatchObject({
        status: 'SUCCEEDED',
        emotion: expect.any(String),
      });
    } finally {
      await proxy.close();
    }
  });

  it('DynamoDB slow: within the timeout it still finishes once; past it, the attempt fails fast and the retry finishes', async () => {
    const clip = tessClip('sad');
    const slowRef = await putObject('incoming/faults/dynamo-slow.flac', clip.bytes);
    const hungRef = await putObject('incoming/faults/dynamo-hung.flac', tessClip('happy').bytes);
    const proxy = await startFaultProxy(aws.dynamoDbEndpoint);
    const throughProxy = new PredictionRepository(
      createDocumentClient({
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        dynamoDbEndpoint: proxy.endpoint,
        requestTimeoutMs: 300,
      }),
      { tableName: aws.tableName, recordTtlDays: 30, processingLeaseSec: LEASE_SEC },
    );

    try {
      proxy.setDelay(50);
      const slow = await processObject(deps({ repository: throughProxy }), slowRef);
      proxy.setDelay(1_000);
      const hung = processObject(deps({ repository: throughProxy }), hungRef);
      await expect(hung).rejects.toThrow();
      proxy.setDelay(0);
      const retried = await processObject(deps(), hungRef);

      expect(slow).toMatchObject({ outcome: 'succeeded', id: idOf(slowRef) });
      // The hung attempt never got its claim written, so the retry claims it at once.
      expect(retried).toMatchObject({ outcome: 'succeeded', id: idOf(hungRef) });
    } finally {
      await proxy.close();
    }
  });

  it('model missing or corrupt: loading fails with MODEL_INVALID, and a model fault is retried, never stored as FAILED', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ser-bad-model-'));
    const modelDir = DEFAULT_MODEL_DIR;
    try {
      await cp(modelDir, join(dir, 'corrupt'), { recursive: true });
      const metadata = JSON.parse(await readFile(join(dir, 'corrupt', 'metadata.json'), 'utf8'));
      await writeFile(join(dir, 'corrupt', metadata.onnxFile), Buffer.from('not an onnx graph'));

      await expect(createPredictor({ modelDir: join(dir, 'missing') })).rejects.toMatchObject({
        code: 'MODEL_INVALID',
      });
      await expect(createPredictor({ modelDir: join(dir, 'corrupt') })).rejects.toMatchObject({
        code: 'MODEL_INVALID',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const ref = await putObject('incoming/faults/model-fault.flac', tessClip('neutral').bytes);
    const brokenModel: AudioPredictor = {
      modelVersion: 'broken',
      predict: () => Promise.reject(new ModelError('model.onnx: protobuf parsing failed')),
    };
    await expect(processObject(deps({ predictor: brokenModel }), ref)).rejects.toMatchObject({
      code: 'MODEL_INVALID',
    });
    const afterFault = await repository.get(idOf(ref));
    const retried = await processObject(deps(), ref);

    expect(afterFault?.status).toBe('PENDING');
    expect(retried).toMatchObject({ outcome: 'succeeded' });
  });

  it('the same event twice at once: exactly one attempt predicts, the other is retried and finds it done', async () => {
    const ref = await putObject('incoming/faults/twice.flac', tessClip('fear').bytes);

    const settled = await Promise.allSettled([processObject(deps(), ref), processObject(deps(), ref)]);
    const retries = await Promise.all(
      settled.map((s) => (s.status === 'rejected' ? processObject(deps(), ref) : s.value)),
    );

    for (const s of settled) if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(ClaimHeldError);
    expect(retries.map((o) => o.outcome).sort()).toEqual(['duplicate', 'succeeded']);
  });

  it('events out of order: the event for replaced bytes is ignored, the record and result follow the newest bytes', async () => {
    const key = 'incoming/faults/overwritten.flac';
    const first = await putObject(key, tessClip('angry').bytes);
    const second = await putObject(key, tessClip('sad').bytes);
    const expected = await predictor.predict(tessClip('sad').bytes);

    const newerFirst = await processObject(deps(), second);
    const olderLate = await processObject(deps(), first);

    expect(newerFirst).toMatchObject({ outcome: 'succeeded', id: idOf(second) });
    expect(olderLate).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('superseded') });
    expect(await repository.get(idOf(first))).toBeUndefined();
    const result = await aws.s3.send(
      new GetObjectCommand({ Bucket: aws.bucket, Key: 'results/faults/overwritten.flac.json' }),
    );
    expect(JSON.parse(await result.Body!.transformToString())).toMatchObject({
      id: idOf(second),
      emotion: expected.emotion,
      confidence: expected.confidence,
    });
  });

  /** A claim on `key`'s bytes `version`, built as the processor builds it (classifyKey + objectClaim). */
  const claimOn = (key: string, version: string) =>
    objectClaim({ bucket: aws.bucket, key, versionId: version }, classifyKey(key)!, 'etag');

  it('an upload URL used twice, its events in the wrong order: the record never goes back to the older bytes', async () => {
    // On a versioned bucket both versions stay readable, so only the events' S3 sequencers can say which
    // upload came last: the claim refuses an event older than the one that finished the record.
    const claim = claimOn('uploads/0b6f3c2e-9a4d-4d0e-8f7a-1c2b3d4e5f62/twice.flac', 'v1');
    // An upload's record exists before its URL is issued (a claim never creates one).
    await repository.createPending({
      id: claim.id,
      fileName: 'twice.flac',
      bucket: aws.bucket,
      key: claim.key,
    });
    const newer = await repository.claim({ ...claim, objectVersion: 'v2', sequencer: '0062A1B2C3D4E5F6B1' });
    if (!newer.claimed) throw new Error('the first claim must succeed');
    await repository.commit({ ...newer.prediction, status: 'SUCCEEDED', emotion: 'sad' }, 'v2');

    const olderLate = await repository.claim({
      ...claim,
      objectVersion: 'v1',
      sequencer: '0062A1B2C3D4E5F6A',
    });
    const third = await repository.claim({ ...claim, objectVersion: 'v3', sequencer: '0062A1B2C3D4E5F6C' });

    expect(olderLate).toMatchObject({ claimed: false, existing: { status: 'SUCCEEDED', emotion: 'sad' } });
    expect(third).toMatchObject({ claimed: true });
    // S3's rule: right-pad the shorter with zeros, then compare (hex, any case): the same event again.
    if (!third.claimed) throw new Error('unreachable');
    await repository.commit({ ...third.prediction, status: 'SUCCEEDED', emotion: 'angry' }, 'v3');
    const sameAgain = await repository.claim({
      ...claim,
      objectVersion: 'v4',
      sequencer: '0062a1b2c3d4e5f6c0',
    });
    expect(sameAgain).toMatchObject({ claimed: false, existing: { emotion: 'angry' } });
  });

  it('a failure recorded but not announced: the retry gets the record back to announce, another failure does not', async () => {
    const claim = claimOn('incoming/faults/gone.flac', 'v1');
    const deleted = {
      code: 'OBJECT_DELETED' as const,
      message: 'The object was deleted before it could be read',
    };

    const first = await repository.markFailed(claim, deleted);
    const retried = await repository.markFailed(claim, deleted);
    const other = await repository.markFailed(claim, { code: 'PROCESSING_FAILED', message: 'x' });
    const otherBytes = await repository.markFailed({ ...claim, objectVersion: 'v2' }, deleted);

    expect(first?.prediction).toMatchObject({ status: 'FAILED', error: deleted });
    expect(retried?.prediction).toEqual(expect.objectContaining({ id: claim.id, error: deleted }));
    expect(other).toBeUndefined();
    expect(otherBytes).toBeUndefined();
  });

  it('a replay that finds its object gone or replaced ends the dead-lettered record; a waiting one is left to its own event', async () => {
    const claim = claimOn('incoming/faults/late.flac', 'v1');
    const replaced = { code: 'OBJECT_REPLACED' as const, message: 'replaced' };
    await repository.markFailed(claim, { code: 'PROCESSING_FAILED', message: 'dead-lettered' });

    const deleted = await repository.markFailed(claim, { code: 'OBJECT_DELETED', message: 'gone' });
    const pending = await repository.createPending({
      id: '0b6f3c2e-9a4d-4d0e-8f7a-1c2b3d4e5f61',
      fileName: 'waiting.wav',
      bucket: aws.bucket,
      key: 'uploads/0b6f3c2e-9a4d-4d0e-8f7a-1c2b3d4e5f61/waiting.wav',
    });
    const untouched = await repository.markFailed({ ...claim, id: pending.id, source: 'api' }, replaced, {
      onlyDeadLettered: true,
    });

    expect(deleted?.prediction).toMatchObject({ status: 'FAILED', error: { code: 'OBJECT_DELETED' } });
    expect(untouched).toBeUndefined();
    expect((await repository.get(pending.id))?.status).toBe('PENDING');
  });

  it('processor killed mid-file: retries hit the live lease, the dead letter ends the record FAILED, and ser replay turns it SUCCEEDED', async () => {
    // Prepare: a child process claims the object and is SIGKILLed inside inference.
    const clip = tessClip('disgust');
    const ref = await putObject('incoming/faults/killed.flac', clip.bytes);
    const dlqDir = await mkdtemp(join(tmpdir(), 'ser-dlq-'));
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/crashing-processor.ts'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          S3_ENDPOINT: aws.s3Endpoint,
          DYNAMODB_ENDPOINT: aws.dynamoDbEndpoint,
          BUCKET_NAME: aws.bucket,
          TABLE_NAME: aws.tableName,
          OBJECT_REF: JSON.stringify(ref),
          PROCESSING_LEASE_SEC: '30',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('CLAIMED')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`crashing processor exited early (${code}): ${stdout}`)));
    });
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;

    try {
      // Act 1: Lambda's three attempts meet the dead attempt's live lease; the event goes to the DLQ.
      const { Records } = toNotification(aws.events.find((e) => e.Records[0]?.s3.object.key === ref.key)!)!;
      const event = { Records };
      const attempts: unknown[] = [];
      const queue = createEventQueue(
        (e) => Promise.all(parseS3Event(e).map((r) => processObject(deps(), r))),
        {
          retryDelayMs: 0,
          onFailed: (_e, error) => attempts.push(error),
          // As the on-failure topic does: the message is kept for replay, and the record ends FAILED.
          onExhausted: async (e, error, count) => {
            const record = deadLetterRecord(e, error, count);
            await writeFile(join(dlqDir, 'message.json'), JSON.stringify(record));
            await recordDeadLetter(repository, record, undefined, aws.s3);
          },
        },
      );
      queue.push(event);
      await queue.idle();
      const whileDead = await repository.get(idOf(ref));
      const readResult = async () =>
        JSON.parse(
          await (
            await aws.s3.send(
              new GetObjectCommand({ Bucket: aws.bucket, Key: 'results/faults/killed.flac.json' }),
            )
          ).Body!.transformToString(),
        );
      // The drop folder's readers see the failure where they look, not only in the table.
      const resultWhileDead = await readResult();

      // Act 2: replay (no need to wait for the dead attempt's lease: the record is FAILED now).
      const files = await readdir(dlqDir);
      const body = await readFile(join(dlqDir, files[0]!), 'utf8');
      const replayed = await replayMessages([{ source: files[0]!, body }], async (e) =>
        Promise.all(parseS3Event(e).map((r) => processObject(deps(), r))),
      );

      // Assess
      expect(attempts).toHaveLength(3);
      for (const error of attempts) expect(error).toBeInstanceOf(ClaimHeldError);
      expect(whileDead).toMatchObject({ status: 'FAILED', error: { code: 'PROCESSING_FAILED' } });
      expect(eventFromDeadLetter(body)).toEqual(event);
      expect(JSON.parse(body)).toMatchObject({
        requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
        responsePayload: { errorType: 'ClaimHeldError' },
      });
      expect(replayed).toEqual([
        {
          source: files[0],
          ok: true,
          result: [expect.objectContaining({ outcome: 'succeeded', id: idOf(ref) })],
        },
      ]);
      const replayedRecord = await repository.get(idOf(ref));
      expect(replayedRecord).toMatchObject({ status: 'SUCCEEDED', emotion: expect.any(String) });
      expect(resultWhileDead).toMatchObject({ status: 'FAILED', error: { code: 'PROCESSING_FAILED' } });
      expect(await readResult()).toMatchObject({ status: 'SUCCEEDED', emotion: replayedRecord?.emotion });
      expect(replayedRecord?.error).toBeUndefined();
    } finally {
      await rm(dlqDir, { recursive: true, force: true });
    }
  });

  it('replay refuses a message that holds no S3 object event', () => {
    expect(() => eventFromDeadLetter('{"requestPayload":{"Records":[]}}')).toThrow(/no S3 ObjectCreated/);
    expect(() => eventFromDeadLetter('{"hello":"world"}')).toThrow();
  });

  /** The upload service and its repository with the clock stopped at `createdAt`. */
  const uploadsAt = (createdAt: Date, uploadUrlTtlSec: number) => {
    const writer = repositoryWith({ uploadUrlTtlSec, now: () => createdAt });
    const createUpload = uploadServiceOn(aws, writer, { uploadUrlTtlSec, now: () => createdAt });
    return { writer, createUpload };
  };

  /** An upload's file as its S3 event names it, arriving `arrivedAt`. */
  const uploadedFile = (id: string, fileName: string, arrivedAt: Date, objectVersion = 'v1') => ({
    id,
    source: 'api' as const,
    fileName,
    bucket: aws.bucket,
    key: `uploads/${id}/${fileName}`,
    objectVersion,
    arrivedAt: arrivedAt.toISOString(),
  });

  it('an upload URL never used ends FAILED (UPLOAD_EXPIRED) at its deadline, for good: no late file or replay takes it', async () => {
    // Prepare
    const createdAt = new Date();
    const urlTtlSec = 300;
    const deadlineSec = urlTtlSec + 900; // the URL's life and the upload's grace
    const { createUpload } = uploadsAt(createdAt, urlTtlSec);
    const { id } = await createUpload({ fileName: 'never-sent.flac', sizeBytes: 1000 });
    const at = (offsetSec: number) => new Date(createdAt.getTime() + offsetSec * 1000);
    const repositoryAt = (offsetSec: number) => repositoryWith({ now: () => at(offsetSec) });
    // A hand-made or replayed event may say anything of its time: even "in time" must not revive it.
    const lateFile = uploadedFile(id, 'never-sent.flac', at(deadlineSec - 1), 'late');

    // Act
    const beforeDeadline = await repositoryAt(deadlineSec - 1).get(id);
    const pastDeadline = await repositoryAt(deadlineSec + 1).get(id);
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: lateFile.key, Body: new Uint8Array(8) }),
    );
    const lateClaim = await repositoryAt(deadlineSec + 2).claim(lateFile);
    const lateFailure = await repositoryAt(deadlineSec + 3).markFailed(lateFile, {
      code: 'PROCESSING_FAILED',
      message: 'x',
    });
    const later = await repositoryAt(deadlineSec + 86_400).get(id);
    const listed = await repositoryAt(deadlineSec + 86_400).list({ limit: 100 });

    // Assess: terminal and queryable (not gone, not PENDING for ever), and it stays so.
    expect(beforeDeadline?.status).toBe('PENDING');
    expect(pastDeadline).toMatchObject({ status: 'FAILED', error: { code: 'UPLOAD_EXPIRED' } });
    expect(lateClaim).toMatchObject({ claimed: false, existing: { status: 'FAILED' } });
    expect(lateFailure).toBeUndefined();
    expect(later).toEqual(pastDeadline);
    expect(listed.items.find((p) => p.id === id)).toEqual(pastDeadline);
  });

  it('an upload whose file came in time waits for its event as long as S3 retries it, never reading UPLOAD_EXPIRED, then ends for good', async () => {
    // Prepare: two uploads whose files are in the bucket before the deadline.
    const createdAt = new Date();
    const { createUpload } = uploadsAt(createdAt, 300);
    const [late, lost] = await Promise.all([
      createUpload({ fileName: 'late.flac', sizeBytes: 8 }),
      createUpload({ fileName: 'lost.flac', sizeBytes: 8 }),
    ]);
    const lateFile = uploadedFile(late.id, 'late.flac', new Date());
    const lostFile = uploadedFile(lost.id, 'lost.flac', new Date());
    for (const { key } of [lateFile, lostFile]) {
      await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: new Uint8Array(8) }));
    }
    const deadlineSec = 300 + 900;
    const eventMaxSec = 6 * 3600;
    const repositoryAt = (offsetSec: number) =>
      repositoryWith({ now: () => new Date(createdAt.getTime() + offsetSec * 1000) });

    // Act: two hours later (a backlog) both still wait, and one's event comes; the other's never does.
    const whileWaiting = await repositoryAt(deadlineSec + 7200).get(late.id);
    const lateClaim = await repositoryAt(deadlineSec + 7200).claim(lateFile);
    const waitingAtEventMax = await repositoryAt(deadlineSec + eventMaxSec).get(lost.id);
    const ended = await repositoryAt(deadlineSec + eventMaxSec + 3600).get(lost.id);
    const afterEnd = await repositoryAt(deadlineSec + eventMaxSec + 3601).claim(lostFile);
    const endedLater = await repositoryAt(deadlineSec + 86_400).get(lost.id);

    // Assess
    expect(whileWaiting?.status).toBe('PENDING');
    expect(lateClaim).toMatchObject({ claimed: true, prediction: { status: 'PROCESSING' } });
    expect(waitingAtEventMax?.status).toBe('PENDING');
    expect(ended).toMatchObject({ status: 'FAILED', error: { code: 'PROCESSING_FAILED' } });
    expect(ended?.error?.message).toMatch(/arrived but was not processed within 6 hours; upload it again/);
    expect(afterEnd).toMatchObject({ claimed: false, existing: ended });
    expect(endedLater).toEqual(ended);
  });

  it('a file that came in time is taken however late its event is processed, and a released claim is not expired', async () => {
    // Prepare
    const createdAt = new Date();
    const { writer, createUpload } = uploadsAt(createdAt, 300);
    const two = await Promise.all([
      createUpload({ fileName: 'sent.flac', sizeBytes: 1000 }),
      createUpload({ fileName: 'queued.flac', sizeBytes: 1000 }),
    ]);
    const file = (id: string, name: string) => ({
      id,
      source: 'api' as const,
      fileName: name,
      bucket: aws.bucket,
      key: `uploads/${id}/${name}`,
      objectVersion: 'v1',
      arrivedAt: new Date(createdAt.getTime() + 200_000).toISOString(),
    });
    const sent = file(two[0].id, 'sent.flac');
    const queued = file(two[1].id, 'queued.flac');
    const hoursLater = repositoryWith({ now: () => new Date(createdAt.getTime() + 7200 * 1000) });

    // Act: one claimed in time, released by a failed attempt and retried two hours later; the other's
    // event first processed two hours later (a backlog)
    const first = await writer.claim(sent);
    await writer.release(sent.id, 'v1');
    const whileReleased = await hoursLater.get(sent.id);
    const retry = await hoursLater.claim(sent);
    const backlogged = await hoursLater.claim(queued);

    // Assess
    expect(first.claimed).toBe(true);
    expect(whileReleased?.status).toBe('PENDING');
    expect(retry.claimed).toBe(true);
    expect(backlogged.claimed).toBe(true);
  });

  it('a released claim whose retry never comes ends FAILED (PROCESSING_FAILED), and a late retry still takes it', async () => {
    // Prepare: an upload claimed, then released by a failed attempt (the claim removed its deadline)
    const createdAt = new Date();
    const { writer, createUpload } = uploadsAt(createdAt, 300);
    const { id } = await createUpload({ fileName: 'released.flac', sizeBytes: 1000 });
    const sent = {
      id,
      source: 'api' as const,
      fileName: 'released.flac',
      bucket: aws.bucket,
      key: `uploads/${id}/released.flac`,
      objectVersion: 'v1',
      arrivedAt: new Date(createdAt.getTime() + 60_000).toISOString(),
    };
    const daysLater = repositoryWith({ now: () => new Date(createdAt.getTime() + 3 * 86_400_000) });
    await writer.claim(sent);

    // Act: no retry, no dead letter (a process killed during the retry wait); read days later, then a
    // replay of the event comes
    await writer.release(id, 'v1');
    const abandoned = await daysLater.get(id);
    const listed = await daysLater.list({ limit: 100 });
    const replayed = await daysLater.claim(sent);

    // Assess: terminal, with a code that says the file came, not UPLOAD_EXPIRED; still replayable
    expect(abandoned).toMatchObject({ status: 'FAILED', error: { code: 'PROCESSING_FAILED' } });
    expect(listed.items.find((p) => p.id === id)).toMatchObject({ status: 'FAILED' });
    expect(replayed.claimed).toBe(true);
  });
});
