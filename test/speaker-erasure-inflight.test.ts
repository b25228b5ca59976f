import { setTimeout } from 'node:timers/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toProxyEvent } from '../bin/local/api-gateway-event.ts';
import { toNotification } from '../bin/local/s3-event-bridge.ts';
import { recordDeadLetter } from '../lambdas/app/dead-letter.ts';
import { ERASURE_MARKER_TTL_SEC } from '../lambdas/app/failure-path.ts';
import { createApiHandler } from '../lambdas/app/http-api.ts';
import { classifyKey } from '../lambdas/app/object-keys.ts';
import {
  type AudioPredictor,
  objectClaim,
  plainETag,
  processObject,
} from '../lambdas/app/object-processor.ts';
import type { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { parseS3Event } from '../lambdas/app/s3-event.ts';
import { dropFolderScope, speakerScope } from '../lambdas/app/speaker-context.ts';
import { createSpeakerErasure, s3ObjectDeleter } from '../lambdas/app/speaker-erasure.ts';
import { erasureMarkerId, SpeakerRepository } from '../lambdas/app/speaker-repository.ts';
import type { createUploadService } from '../lambdas/app/upload-service.ts';
import { createPredictor, type Predictor } from '../lambdas/core/predict.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';
import { tessClip } from './helpers/fixtures.ts';
import { predictionRepositoryOn, startTestAws, type TestAws, uploadServiceOn } from './helpers/local-aws.ts';
import { speakerErasureOn, withLaggingSpeakerIndex } from './helpers/speaker-erasure.ts';

/**
 * A clip still being processed when its speaker is erased, and a record that vanishes under its
 * processor: against s3rver and dynalite, the processor held mid-flight by a predictor that waits.
 */
describe('erasing a speaker while one of its clips is in flight', () => {
  let aws: TestAws;
  let predictor: Predictor;
  let repository: PredictionRepository;
  let api: ReturnType<typeof createApiHandler>;
  let createUpload: ReturnType<typeof createUploadService>;

  const call = async (method: string, url: string) => {
    const built = toProxyEvent({ method, url, headers: { 'x-api-key': 'k' } });
    if (!built.ok) throw new Error(built.message);
    const response = await api(built.event);
    return { status: response.statusCode, json: JSON.parse(response.body) };
  };

  /** A predictor that says when it started and predicts only once released. */
  const heldPredictor = () => {
    let release = () => {};
    let started = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held: AudioPredictor = {
      modelVersion: predictor.modelVersion,
      predict: async (audio, options) => {
        started();
        await released;
        return predictor.predict(audio, options);
      },
    };
    return { held, running, release };
  };

  /** Uploads a clip as `speakerId` and returns the S3 event's object reference (not yet processed). */
  const uploaded = async (speakerId: string) => {
    const clip = tessClip('happy');
    const created = await createUpload(
      { fileName: 'clip.flac', sizeBytes: clip.bytes.length, speakerId },
      // The key the calls below carry (the local adapter names every key's id 'local').
      { apiKeyId: 'local' },
    );
    const event = aws.nextEvent(`uploads/${created.id}/clip.flac`);
    await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: clip.bytes });
    const [ref] = parseS3Event(toNotification(await event));
    return { id: created.id, ref: ref! };
  };

  const exists = (key: string) =>
    aws.s3.send(new HeadObjectCommand({ Bucket: aws.bucket, Key: key })).then(
      () => true,
      (error: Error) => (error.name === 'NotFound' ? false : Promise.reject(error)),
    );

  /** Puts a clip in the drop folder at `key` and returns its S3 event (not yet processed). */
  const dropped = async (key: string) => {
    const event = aws.nextEvent(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: tessClip('sad').bytes }));
    return toNotification(await event);
  };

  /** The repository as a processor that claimed an hour ago, with a 15-minute lease, saw the clock. */
  const anHourAgo = () => predictionRepositoryOn(aws, { now: () => new Date(Date.now() - 3_600_000) });

  /** Erases a drop-folder speaker of the `calls` prefix, objects through S3. */
  const eraseSpeakerIn = (scope: string, speakerId: string) =>
    speakerErasureOn(aws, repository)([scope], speakerId);
  const eraseCallsSpeaker = (speakerId: string) => eraseSpeakerIn(dropFolderScope('calls'), speakerId);

  /** The recorder after every attempt at `notification` failed, as the on-failure destination calls it. */
  const deadLettered = (notification: Awaited<ReturnType<typeof dropped>>) =>
    recordDeadLetter(
      repository,
      { requestPayload: notification, responsePayload: { errorMessage: 'Task timed out' } },
      undefined,
      aws.s3,
      ['calls'],
    );

  /**
   * Drops `before` in a `calls` speaker's folder, erases the speaker (no record names the clip yet: its
   * event is still on its way), then drops `after`: the S3 events of the two, not yet processed.
   */
  const droppedAroundErasure = async (speakerId: string) => {
    const folder = `incoming/calls/${speakerId}`;
    const early = await dropped(`${folder}/before.flac`);
    expect(await eraseCallsSpeaker(speakerId)).toMatchObject({ recordsDeleted: 0, more: false });
    // Nothing named it, so the erasure left it: only its event can still make a record of it.
    expect(await exists(`${folder}/before.flac`)).toBe(true);
    // Event times count in milliseconds: the later clip comes strictly after the erasure.
    await setTimeout(10);
    const late = await dropped(`${folder}/after.flac`);
    return { early, late };
  };

  const processWith = (
    held: AudioPredictor,
    ref: Awaited<ReturnType<typeof uploaded>>['ref'],
    records: PredictionRepository = repository,
  ) =>
    processObject(
      {
        s3: aws.s3,
        repository: records,
        predictor: held,
        maxUploadBytes: 25 * 1024 * 1024,
        maxDurationSec: 600,
        speakerFolders: ['calls'],
      },
      ref,
    );

  beforeAll(async () => {
    [aws, predictor] = await Promise.all([startTestAws(), createPredictor({ modelDir: DEFAULT_MODEL_DIR })]);
    repository = predictionRepositoryOn(aws);
    createUpload = uploadServiceOn(aws, repository);
    api = createApiHandler({
      createUpload: () => Promise.reject(new Error('unused')),
      repository,
      eraseSpeaker: speakerErasureOn(aws, repository),
      modelVersion: 'm',
      corsAllowOrigins: ['*'],
    });
  });

  afterAll(async () => {
    await predictor?.release();
    await aws?.close();
  });

  it('leaves a PROCESSING record to its processor (more: true), then erases it once it has ended', async () => {
    const { id, ref } = await uploaded('in-flight');
    const { held, running, release } = heldPredictor();
    const processing = processWith(held, ref);
    await running;
    expect((await call('GET', `/predictions/${id}`)).json.status).toBe('PROCESSING');

    const during = await call('DELETE', '/speakers/in-flight');
    expect(during.json).toMatchObject({ recordsDeleted: 0, more: true });
    // Nothing of it was touched: its processor is reading the audio and will write the outcome.
    expect(await exists(ref.key)).toBe(true);
    release();
    expect(await processing).toMatchObject({ outcome: 'succeeded', id });

    const after = await call('DELETE', '/speakers/in-flight');
    expect(after.json).toMatchObject({ recordsDeleted: 1, more: false });
    expect((await call('GET', `/predictions/${id}`)).status).toBe(404);
    expect(await exists(ref.key)).toBe(false);
  });

  it('a record that vanishes under its processor is not brought back: the retry of its event ends it', async () => {
    const { id, ref } = await uploaded('vanishing');
    const { held, running, release } = heldPredictor();
    const processing = processWith(held, ref);
    await running;
    // Gone mid-flight (as a TTL deletion, or an erasure racing the claim, would leave it).
    await aws.doc.send(new DeleteCommand({ TableName: aws.tableName, Key: { id } }));
    release();

    // The commit finds no claim of its own: an infrastructure error, so Lambda retries the event once...
    await expect(processing).rejects.toThrow(/conditional/i);
    // ...and the retry finds no record to claim and ignores the object instead of recreating the record.
    expect(await processWith(predictor, ref)).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringMatching(/record is gone/),
    });
    expect((await call('GET', `/predictions/${id}`)).status).toBe(404);
    expect((await call('GET', '/predictions?speakerId=vanishing')).json.items).toEqual([]);
  });

  it('an erased drop-folder record does not come back when a retry of its event finds the object gone', async () => {
    const [ref] = parseS3Event(await dropped('incoming/calls/returning/clip.flac'));
    // An attempt fails (an infrastructure fault): its claim is released, the record PENDING again.
    const failing: AudioPredictor = { modelVersion: 'm', predict: () => Promise.reject(new Error('down')) };
    await expect(processWith(failing, ref!)).rejects.toThrow('down');
    const scope = { scope: dropFolderScope('calls'), speakerId: 'returning' };
    expect((await repository.speakerRecords(scope, 5)).records).toHaveLength(1);

    const erased = await eraseCallsSpeaker('returning');
    expect(erased).toMatchObject({ recordsDeleted: 1, more: false });

    // The retry finds the object gone: nothing to end, and no record naming the speaker is written.
    expect(await processWith(predictor, ref!)).toMatchObject({ outcome: 'ignored' });
    expect((await repository.speakerRecords(scope, 5)).records).toEqual([]);
  });

  it('a drop-folder record whose key cannot have a result is erased, and a record that fails is left alone', async () => {
    // A 1022-byte key whose result key would be over S3's 1024 bytes: its record ends FAILED KEY_TOO_LONG.
    const longKey = `incoming/calls/long/${Array.from({ length: 6 }, () => 'x'.repeat(150)).join('/')}/${'y'.repeat(91)}.flac`;
    expect(Buffer.byteLength(longKey)).toBe(1022);
    const keys = [longKey, 'incoming/calls/long/a.flac', 'incoming/calls/long/b.flac'];
    for (const key of keys) {
      await processWith(predictor, parseS3Event(await dropped(key))[0]!);
    }
    const scope = { scope: dropFolderScope('calls'), speakerId: 'long' };
    const before = (await repository.speakerRecords(scope, 5)).records;
    expect(await repository.get(before.find((record) => record.key === longKey)!.id)).toMatchObject({
      error: { code: 'KEY_TOO_LONG' },
    });
    const asked: string[] = [];
    const reported: string[] = [];
    // As S3 answers: 400 for a key over 1024 bytes; and one object whose delete fails.
    const objects = {
      delete: async (bucket: string, key: string) => {
        asked.push(key);
        if (Buffer.byteLength(key) > 1024) throw new Error('KeyTooLongError');
        if (key === keys[1]) throw new Error('InternalError');
        await s3ObjectDeleter(aws.s3).delete(bucket, key);
      },
    };
    const erase = createSpeakerErasure({
      statistics: new SpeakerRepository(aws.doc, { tableName: aws.tableName, ttlDays: 30 }),
      records: repository,
      objects,
      onRecordError: (id) => reported.push(id),
    });

    expect(await erase([scope.scope], 'long')).toMatchObject({ recordsDeleted: 2, more: true });
    expect(asked.every((key) => Buffer.byteLength(key) <= 1024)).toBe(true);
    const left = (await repository.speakerRecords(scope, 5)).records;
    expect(left.map((record) => record.key)).toEqual([keys[1]]);
    expect(reported).toEqual([left[0]!.id]);
  });

  it('erases a PROCESSING record whose lease ran out (its processor was stopped): more ends', async () => {
    const key = 'incoming/calls/abandoned/clip.flac';
    const [ref] = parseS3Event(await dropped(key));
    // Claimed an hour ago with a 15-minute lease, and never finished.
    const claim = objectClaim(ref!, classifyKey(key)!, plainETag(ref!.eTag), { speakerFolders: ['calls'] });
    expect(await anHourAgo().claim(claim)).toMatchObject({
      claimed: true,
      prediction: { status: 'PROCESSING' },
    });

    const erased = await eraseCallsSpeaker('abandoned');
    expect(erased).toMatchObject({ recordsDeleted: 1, more: false });
    expect(await exists(key)).toBe(false);
    expect(await repository.get(claim.id)).toBeUndefined();
  });

  it('a processor held past its lease, whose record is erased, removes the result file it wrote', async () => {
    const key = 'incoming/calls/slow/clip.flac';
    const [ref] = parseS3Event(await dropped(key));
    // Its processor claimed an hour ago with a 15-minute lease (npm start: no function timeout ends it).
    const { held, running, release } = heldPredictor();
    const processing = processWith(held, ref!, anHourAgo());
    await running;

    const scope = { scope: dropFolderScope('calls'), speakerId: 'slow' };
    const erased = await eraseCallsSpeaker('slow');
    expect(erased).toMatchObject({ recordsDeleted: 1, more: false });
    release();

    // Its commit finds no claim (the retry then finds the object gone), and its result file is removed.
    await expect(processing).rejects.toThrow(/conditional/i);
    expect((await repository.speakerRecords(scope, 5)).records).toEqual([]);
    expect(await exists(key)).toBe(false);
    expect(await exists('results/calls/slow/clip.flac.json')).toBe(false);
  });

  it("a dead-lettered drop-folder object's record carries its speaker: listed and erased with its result file", async () => {
    const key = 'incoming/calls/dead/clip.flac';
    const notification = await dropped(key);
    // Every attempt failed: the on-failure destination's record reaches the recorder.
    const record = { requestPayload: notification, responsePayload: { errorMessage: 'Task timed out' } };
    const {
      marked: [id],
    } = await recordDeadLetter(repository, record, undefined, aws.s3, ['calls']);
    expect(await exists('results/calls/dead/clip.flac.json')).toBe(true);

    const scope = { scope: dropFolderScope('calls'), speakerId: 'dead' };
    expect((await repository.speakerRecords(scope, 5)).records.map((r) => r.id)).toEqual([id]);
    const erased = await eraseCallsSpeaker('dead');
    expect(erased).toMatchObject({ recordsDeleted: 1, more: false });
    expect(await exists(key)).toBe(false);
    expect(await exists('results/calls/dead/clip.flac.json')).toBe(false);
  });

  it("a clip dropped before its speaker's erasure, dead-lettered after it, gets no record and no result file, and is deleted", async () => {
    const { early, late } = await droppedAroundErasure('tomb');

    const refused = await deadLettered(early);
    const recorded = await deadLettered(late);

    expect(refused).toEqual({ marked: [], erased: ['incoming/calls/tomb/before.flac'] });
    expect(await exists('incoming/calls/tomb/before.flac')).toBe(false);
    expect(await exists('results/calls/tomb/before.flac.json')).toBe(false);
    // The clip dropped after the erasure still ends in its FAILED record, with its result file.
    const scope = { scope: dropFolderScope('calls'), speakerId: 'tomb' };
    const records = (await repository.speakerRecords(scope, 5)).records;
    expect(records.map((record) => record.key)).toEqual(['incoming/calls/tomb/after.flac']);
    expect(recorded).toEqual({ marked: [records[0]!.id], erased: [] });
    expect(await repository.get(records[0]!.id)).toMatchObject({
      status: 'FAILED',
      error: { code: 'PROCESSING_FAILED' },
    });
    expect(await exists('results/calls/tomb/after.flac.json')).toBe(true);
    expect(await exists('incoming/calls/tomb/after.flac')).toBe(true);
  });

  it("the processor drops a clip that came before its speaker's erasure whose event comes after it; a later clip is processed", async () => {
    const { early, late } = await droppedAroundErasure('backlog');
    const [before] = parseS3Event(early);
    const [after] = parseS3Event(late);

    expect(await processWith(predictor, before!)).toMatchObject({ outcome: 'erased' });
    expect(await processWith(predictor, after!)).toMatchObject({ outcome: 'succeeded' });

    expect(await exists('incoming/calls/backlog/before.flac')).toBe(false);
    expect(await exists('results/calls/backlog/before.flac.json')).toBe(false);
    const scope = { scope: dropFolderScope('calls'), speakerId: 'backlog' };
    const records = (await repository.speakerRecords(scope, 5)).records;
    expect(records.map((record) => record.key)).toEqual(['incoming/calls/backlog/after.flac']);
    expect(await exists('results/calls/backlog/after.flac.json')).toBe(true);
  });

  it("an erased speaker's late event deletes only the bytes it judged: the same file dropped again after the erasure survives and is processed", async () => {
    // Prepare: the same bytes (so the same ETag) dropped under the same key before and after the erasure;
    // s3rver has no versions, so the bytes are told apart by LastModified, which counts in seconds.
    const key = 'incoming/calls/again/clip.flac';
    const early = await dropped(key);
    await eraseCallsSpeaker('again');
    await setTimeout(1100);
    const late = await dropped(key);
    const [before] = parseS3Event(early);
    const [after] = parseS3Event(late);

    // Act: the early event's retry, then its dead-lettering, come after the new clip landed.
    const refused = await processWith(predictor, before!);
    const recorded = await deadLettered(early);
    const processed = await processWith(predictor, after!);

    // Assess
    expect(refused).toMatchObject({ outcome: 'erased' });
    expect(recorded).toEqual({ marked: [], erased: [key] });
    expect(processed).toMatchObject({ outcome: 'succeeded' });
    expect(await exists(key)).toBe(true);
    expect(await exists('results/calls/again/clip.flac.json')).toBe(true);
    const scope = { scope: dropFolderScope('calls'), speakerId: 'again' };
    const records = (await repository.speakerRecords(scope, 5)).records;
    expect(records.map((record) => record.key)).toEqual([key]);
  });

  it("on a versioned bucket, an erased speaker's object is deleted by the version judged, never by key alone", async () => {
    // Prepare: s3rver with the version ids a versioned bucket answers with, and the deletes recorded.
    const { early } = await droppedAroundErasure('versioned');
    const [before] = parseS3Event(early);
    const deletes: DeleteObjectCommand['input'][] = [];
    const versioned = {
      send: async (command: unknown) => {
        if (command instanceof DeleteObjectCommand) {
          deletes.push(command.input);
          return {};
        }
        const response = await aws.s3.send(command as GetObjectCommand);
        return command instanceof GetObjectCommand || command instanceof HeadObjectCommand
          ? { ...response, VersionId: 'v1' }
          : response;
      },
    } as unknown as S3Client;
    const deps = {
      s3: versioned,
      repository,
      predictor,
      maxUploadBytes: 25 * 1024 * 1024,
      maxDurationSec: 600,
      speakerFolders: ['calls'],
    };

    // Act
    const processed = await processObject(deps, before!);
    const recorded = await recordDeadLetter(
      repository,
      { requestPayload: early, responsePayload: { errorMessage: 'Task timed out' } },
      undefined,
      versioned,
      ['calls'],
    );

    // Assess
    expect(processed).toMatchObject({ outcome: 'erased' });
    expect(recorded.erased).toEqual(['incoming/calls/versioned/before.flac']);
    const judged = { Bucket: aws.bucket, Key: 'incoming/calls/versioned/before.flac', VersionId: 'v1' };
    expect(deletes).toEqual([judged, judged]);
  });

  it("deletes a drop-folder record's audio by the version it stores (from the event, GET or dead-letter), by key without one", async () => {
    // Prepare: four clips of one speaker. `head` is processed through s3rver answering with a VersionId
    // (as the versioned bucket's GetObject does), `event` from an S3 event that names its version, `dead`
    // dead-lettered from such an event, `plain` through s3rver as it is (no versions).
    const folder = 'incoming/calls/versions';
    const withVersion = {
      send: async (command: unknown) => {
        const response = await aws.s3.send(command as GetObjectCommand);
        return command instanceof GetObjectCommand ? { ...response, VersionId: 'v-head' } : response;
      },
    } as unknown as S3Client;
    const deps = {
      repository,
      predictor,
      maxUploadBytes: 25 * 1024 * 1024,
      maxDurationSec: 600,
      speakerFolders: ['calls'],
    };
    const [head] = parseS3Event(await dropped(`${folder}/head.flac`));
    const [event] = parseS3Event(await dropped(`${folder}/event.flac`));
    const [plain] = parseS3Event(await dropped(`${folder}/plain.flac`));
    const deadEvent = await dropped(`${folder}/dead.flac`);
    const dead = {
      Records: deadEvent!.Records.map((r) => ({
        ...r,
        s3: { ...r.s3, object: { ...r.s3.object, versionId: 'v-dead' } },
      })),
    };
    expect(await processObject({ ...deps, s3: withVersion }, head!)).toMatchObject({ outcome: 'succeeded' });
    expect(await processObject({ ...deps, s3: aws.s3 }, { ...event!, versionId: 'v-event' })).toMatchObject({
      outcome: 'succeeded',
    });
    expect(await processObject({ ...deps, s3: aws.s3 }, plain!)).toMatchObject({ outcome: 'succeeded' });
    expect((await deadLettered(dead)).marked).toHaveLength(1);
    const scope = { scope: dropFolderScope('calls'), speakerId: 'versions' };
    const stored = (await repository.speakerRecords(scope, 5)).records;
    const versionOf = (name: string) =>
      stored.find((r) => r.key === `${folder}/${name}.flac`)?.objectVersionId;
    expect(['head', 'event', 'dead', 'plain'].map(versionOf)).toEqual([
      'v-head',
      'v-event',
      'v-dead',
      undefined,
    ]);
    const item = async (name: string) => {
      const id = stored.find((r) => r.key === `${folder}/${name}.flac`)!.id;
      return (await aws.doc.send(new GetCommand({ TableName: aws.tableName, Key: { id } }))).Item;
    };
    expect(await item('head')).toMatchObject({ objectVersion: 'v-head', objectVersionId: 'v-head' });
    expect(await item('plain')).not.toHaveProperty('objectVersionId');
    const deletes: DeleteObjectCommand['input'][] = [];
    const recording = {
      send: (command: unknown) => {
        if (command instanceof DeleteObjectCommand) deletes.push(command.input);
        // s3rver ignores the VersionId and deletes the key's object.
        return aws.s3.send(command as DeleteObjectCommand);
      },
    } as unknown as S3Client;
    const erase = createSpeakerErasure({
      statistics: new SpeakerRepository(aws.doc, { tableName: aws.tableName, ttlDays: 30 }),
      records: repository,
      objects: s3ObjectDeleter(recording),
      indexSettleMs: 50,
    });

    // Act
    const erased = await erase([scope.scope], 'versions');

    // Assess: the audio by its version when the record has one; the result files by key.
    expect(erased).toMatchObject({ recordsDeleted: 4, more: false });
    const audio = (name: string, VersionId?: string) => ({
      Bucket: aws.bucket,
      Key: `${folder}/${name}.flac`,
      ...(VersionId ? { VersionId } : {}),
    });
    const result = (name: string) => ({
      Bucket: aws.bucket,
      Key: `results/calls/versions/${name}.flac.json`,
    });
    const byKey = (a: { Key?: string | undefined }, b: { Key?: string | undefined }) =>
      (a.Key ?? '').localeCompare(b.Key ?? '');
    expect(deletes.sort(byKey)).toEqual(
      [
        audio('head', 'v-head'),
        audio('event', 'v-event'),
        audio('dead', 'v-dead'),
        audio('plain'),
        ...['head', 'event', 'dead', 'plain'].map(result),
      ].sort(byKey),
    );
    for (const name of ['head', 'event', 'dead', 'plain'])
      expect(await exists(`${folder}/${name}.flac`)).toBe(false);
  });

  /**
   * An upload of `speakerId` claimed as S3 version `versionId`: its id, the claim its event makes without
   * a version, the stored item just after (`first`), and a reader of the item.
   */
  const claimedAsVersion = async (speakerId: string, versionId: string) => {
    const { id, ref } = await uploaded(speakerId);
    const claim = objectClaim(ref, classifyKey(ref.key)!, plainETag(ref.eTag));
    const stored = async () =>
      (await aws.doc.send(new GetCommand({ TableName: aws.tableName, Key: { id } }))).Item;
    await repository.claim({ ...claim, objectVersion: versionId, versionId });
    return { id, claim, stored, first: await stored() };
  };

  it("a record's objectVersionId names its object's bytes only: a write that does not know the version removes it", async () => {
    const { claim, stored, first: claimed } = await claimedAsVersion('follows', 'v1');
    await repository.markFailed(claim, { code: 'PROCESSING_FAILED', message: 'down' });

    expect(claimed).toMatchObject({ status: 'PROCESSING', objectVersionId: 'v1' });
    expect(await stored()).toMatchObject({ status: 'FAILED', objectVersion: claim.objectVersion });
    expect(await stored()).not.toHaveProperty('objectVersionId');
  });

  it("a claim that does not know its object's version removes the version id an earlier claim stored", async () => {
    const { id, claim, stored, first } = await claimedAsVersion('reclaimed', 'v1');
    // That attempt failed on the way: its claim is given back, and the retry claims without a version.
    await repository.release(id, 'v1');
    await repository.claim(claim);

    expect(first).toMatchObject({ status: 'PROCESSING', objectVersionId: 'v1' });
    expect(await stored()).toMatchObject({ status: 'PROCESSING', objectVersion: claim.objectVersion });
    expect(await stored()).not.toHaveProperty('objectVersionId');
  });

  /**
   * The repository, but `method` first erases the `calls` speaker `speakerId`: an erasure that comes
   * just before a processor or the recorder writes the clip's record (after any earlier look of theirs).
   */
  const erasingBefore = (method: 'claim' | 'markFailed', speakerId: string): PredictionRepository =>
    new Proxy(repository, {
      get(target, name) {
        if (name === method) {
          return async (...args: unknown[]) => {
            expect(await eraseCallsSpeaker(speakerId)).toMatchObject({ recordsDeleted: 0, more: false });
            return (target[method] as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

  /** The repository, but its `dropClaim` fails (DynamoDB timing out). */
  const failingDrop = new Proxy({} as PredictionRepository, {
    get(_, name) {
      if (name === 'dropClaim') return () => Promise.reject(new Error('DynamoDB timed out'));
      const value = Reflect.get(repository, name, repository);
      return typeof value === 'function' ? value.bind(repository) : value;
    },
  });

  it('an erasure that comes just before the processor claims a clip of the speaker still erases it', async () => {
    const key = 'incoming/calls/racing/clip.flac';
    const [ref] = parseS3Event(await dropped(key));

    const processed = await processWith(predictor, ref!, erasingBefore('claim', 'racing'));

    expect(processed).toMatchObject({ outcome: 'erased' });
    const scope = { scope: dropFolderScope('calls'), speakerId: 'racing' };
    expect((await repository.speakerRecords(scope, 5)).records).toEqual([]);
    const claim = objectClaim(ref!, classifyKey(key)!, plainETag(ref!.eTag), { speakerFolders: ['calls'] });
    expect(await repository.get(claim.id)).toBeUndefined();
    expect(await exists(key)).toBe(false);
    expect(await exists('results/calls/racing/clip.flac.json')).toBe(false);
  });

  it('an erasure that comes just before the recorder writes a FAILED record still erases it: no result file, nothing announced', async () => {
    const key = 'incoming/calls/racing-dead/clip.flac';
    const notification = await dropped(key);

    const published: unknown[] = [];
    const recorded = await recordDeadLetter(
      erasingBefore('markFailed', 'racing-dead'),
      { requestPayload: notification, responsePayload: { errorMessage: 'Task timed out' } },
      { publish: async (event) => void published.push(event) },
      aws.s3,
      ['calls'],
    );

    expect(recorded).toEqual({ marked: [], erased: [key] });
    // Nothing of it was announced: no completion event, no callback.
    expect(published).toEqual([]);
    const scope = { scope: dropFolderScope('calls'), speakerId: 'racing-dead' };
    expect((await repository.speakerRecords(scope, 5)).records).toEqual([]);
    expect(await exists(key)).toBe(false);
    expect(await exists('results/calls/racing-dead/clip.flac.json')).toBe(false);
  });

  it("a processor whose drop of an erased speaker's claim fails leaves no record: its retry erases the clip", async () => {
    const key = 'incoming/calls/flaky/clip.flac';
    const [ref] = parseS3Event(await dropped(key));
    await eraseCallsSpeaker('flaky');

    await expect(processWith(predictor, ref!, failingDrop)).rejects.toThrow('DynamoDB timed out');
    const retried = await processWith(predictor, ref!);

    expect(retried).toMatchObject({ outcome: 'erased' });
    const scope = { scope: dropFolderScope('calls'), speakerId: 'flaky' };
    expect((await repository.speakerRecords(scope, 5)).records).toEqual([]);
    expect(await exists(key)).toBe(false);
  });

  it("waits between a speaker's markers and its records' query, once a call, for an API key's speaker too", async () => {
    const steps: [string, number][] = [];
    const timed = new Proxy(repository, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (name === 'markErased' || name === 'speakerRecords') steps.push([name, performance.now()]);
          return value.apply(target, args);
        };
      },
    });
    const erase = createSpeakerErasure({
      statistics: new SpeakerRepository(aws.doc, { tableName: aws.tableName, ttlDays: 30 }),
      records: timed,
      objects: s3ObjectDeleter(aws.s3),
      indexSettleMs: 300,
    });

    await erase([dropFolderScope('calls'), dropFolderScope('meetings')], 'settling');
    const dropFolderSteps = steps.splice(0);
    await erase([speakerScope({ apiKeyId: 'key-1' })], 'settling');

    expect(dropFolderSteps.map(([name]) => name)).toEqual([
      'markErased',
      'markErased',
      'speakerRecords',
      'speakerRecords',
    ]);
    const lastMark = dropFolderSteps[1]![1];
    expect(dropFolderSteps[2]![1] - lastMark).toBeGreaterThanOrEqual(300);
    // Once: both scopes' queries come within one wait of the first marker, not one wait each.
    expect(dropFolderSteps[3]![1] - dropFolderSteps[0]![1]).toBeLessThan(2 * 300);
    expect(steps.map(([name]) => name)).toEqual(['markErased', 'speakerRecords']);
    expect(steps[1]![1] - steps[0]![1]).toBeGreaterThanOrEqual(300);
  });

  it('a clip dropped and processed while an erasure waits for its index is not erased with the speaker', async () => {
    const erase = createSpeakerErasure({
      statistics: new SpeakerRepository(aws.doc, { tableName: aws.tableName, ttlDays: 30 }),
      records: repository,
      objects: s3ObjectDeleter(aws.s3),
      indexSettleMs: 2500,
    });
    const marker = { id: erasureMarkerId({ scope: dropFolderScope('calls'), speakerId: 'waiting' }) };
    const erasing = erase([dropFolderScope('calls')], 'waiting');
    while (!(await aws.doc.send(new GetCommand({ TableName: aws.tableName, Key: marker }))).Item)
      await setTimeout(10);
    // More than the erasure's allowance for clocks after its marker.
    await setTimeout(1100);

    const [ref] = parseS3Event(await dropped('incoming/calls/waiting/after.flac'));
    const processed = await processWith(predictor, ref!);

    expect(processed).toMatchObject({ outcome: 'succeeded' });
    expect(await erasing).toMatchObject({ recordsDeleted: 0, more: false });
    const scope = { scope: dropFolderScope('calls'), speakerId: 'waiting' };
    expect((await repository.speakerRecords(scope, 5)).records.map((r) => r.key)).toEqual([
      'incoming/calls/waiting/after.flac',
    ]);
    expect(await exists('incoming/calls/waiting/after.flac')).toBe(true);
    expect(await exists('results/calls/waiting/after.flac.json')).toBe(true);
  });

  it("an erasure during the recorder's announcement finds its record and erases it with its result file", async () => {
    const key = 'incoming/calls/announcing/clip.flac';
    const notification = await dropped(key);

    const recorded = await recordDeadLetter(
      repository,
      { requestPayload: notification, responsePayload: { errorMessage: 'Task timed out' } },
      { publish: async () => void (await eraseCallsSpeaker('announcing')) },
      aws.s3,
      ['calls'],
    );

    expect(recorded.marked).toHaveLength(1);
    const scope = { scope: dropFolderScope('calls'), speakerId: 'announcing' };
    expect((await repository.speakerRecords(scope, 5)).records).toEqual([]);
    expect(await exists(key)).toBe(false);
    expect(await exists('results/calls/announcing/clip.flac.json')).toBe(false);
  });

  it("the recorder deletes a record a failed processor left of an erased speaker's clip", async () => {
    const key = 'incoming/calls/left/clip.flac';
    const notification = await dropped(key);
    const [ref] = parseS3Event(notification);
    await eraseCallsSpeaker('left');
    await expect(processWith(predictor, ref!, failingDrop)).rejects.toThrow('DynamoDB timed out');
    const scope = { scope: dropFolderScope('calls'), speakerId: 'left' };
    expect((await repository.speakerRecords(scope, 5)).records).toHaveLength(1);

    expect(await deadLettered(notification)).toEqual({ marked: [], erased: [key] });

    expect((await repository.speakerRecords(scope, 5)).records).toEqual([]);
    expect(await exists(key)).toBe(false);
  });

  it('the erasure marker holds the time only, and expires once no event of an earlier clip can come', async () => {
    const erasing = Date.now();
    await eraseCallsSpeaker('marked');

    const { Item } = await aws.doc.send(
      new GetCommand({
        TableName: aws.tableName,
        Key: { id: erasureMarkerId({ scope: dropFolderScope('calls'), speakerId: 'marked' }) },
      }),
    );
    expect(Object.keys(Item ?? {}).sort()).toEqual(['erasedAt', 'expiresAt', 'id']);
    const erasedAt = Date.parse(Item!.erasedAt);
    expect(erasedAt).toBeGreaterThanOrEqual(erasing);
    expect(Item!.expiresAt).toBe(Math.floor(erasedAt / 1000) + ERASURE_MARKER_TTL_SEC);
    // Lambda's 6 hours of retries and the dead-letter queue's 14 days, and a day's margin for the
    // deliveries and a replay between them.
    expect(ERASURE_MARKER_TTL_SEC).toBe((6 + 15 * 24) * 3600);
  });

  it("an upload created before its speaker's erasure, missed by the index, is not processed when its file comes", async () => {
    const created = await createUpload(
      { fileName: 'clip.flac', sizeBytes: tessClip('happy').bytes.length, speakerId: 'lagging' },
      { apiKeyId: 'local' },
    );
    // The bySpeaker index behind (as DynamoDB's may be on AWS): the erasure's query does not see the upload.
    const lagging = withLaggingSpeakerIndex(repository);
    const scope = speakerScope({ apiKeyId: 'local' });
    expect(await speakerErasureOn(aws, lagging)([scope], 'lagging')).toMatchObject({ more: false });

    const key = `uploads/${created.id}/clip.flac`;
    const event = aws.nextEvent(key);
    const clip = tessClip('happy');
    await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: clip.bytes });
    const [ref] = parseS3Event(toNotification(await event));
    const processed = await processWith(predictor, ref!);

    expect(processed).toMatchObject({ outcome: 'erased' });
    expect(await repository.get(created.id)).toBeUndefined();
    expect(await exists(key)).toBe(false);
  });

  it("an API key's speaker is marked erased as a drop folder's is: the marker holds the time only", async () => {
    const scope = speakerScope({ apiKeyId: 'key-1' });
    await eraseSpeakerIn(scope, 'caller');

    const { Item } = await aws.doc.send(
      new GetCommand({
        TableName: aws.tableName,
        Key: { id: erasureMarkerId({ scope, speakerId: 'caller' }) },
      }),
    );
    expect(Object.keys(Item ?? {}).sort()).toEqual(['erasedAt', 'expiresAt', 'id']);
  });
});
