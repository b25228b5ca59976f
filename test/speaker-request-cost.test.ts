import { rm } from 'node:fs/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toNotification } from '../bin/local/s3-event-bridge.ts';
import { processObject } from '../lambdas/app/object-processor.ts';
import type { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { parseS3Event } from '../lambdas/app/s3-event.ts';
import { dropFolderScope, speakerScope } from '../lambdas/app/speaker-context.ts';
import { SpeakerRepository } from '../lambdas/app/speaker-repository.ts';
import type { createUploadService } from '../lambdas/app/upload-service.ts';
import { createPredictor, type Predictor } from '../lambdas/core/predict.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';
import { adaptingModelDir } from './helpers/adapting-model.ts';
import { tessClip } from './helpers/fixtures.ts';
import { predictionRepositoryOn, startTestAws, type TestAws, uploadServiceOn } from './helpers/local-aws.ts';
import { speakerErasureOn, withLaggingSpeakerIndex } from './helpers/speaker-erasure.ts';

/** One DynamoDB request as sent: its operation and the kinds of item it names (speaker items by prefix). */
type SentRequest = string;

const itemKind = (id: unknown): string => {
  const text = typeof id === 'object' && id !== null ? String(Object.values(id)[0]) : String(id);
  const prefix = /^([A-Z]+)#/.exec(text)?.[1];
  return prefix ?? 'record';
};

/** The kinds of item a request's body names: its Key, or a BatchGetItem's keys. */
function describeRequest(target: string, body: string): SentRequest {
  const parsed = JSON.parse(body) as {
    Key?: { id?: unknown };
    Item?: { id?: unknown };
    RequestItems?: Record<string, { Keys: { id?: unknown }[] }>;
    ConditionExpression?: string;
  };
  const ids = parsed.RequestItems
    ? Object.values(parsed.RequestItems).flatMap((t) => t.Keys.map((k) => k.id))
    : [parsed.Key?.id ?? parsed.Item?.id];
  const operation = target.split('.').pop();
  const condition = parsed.ConditionExpression ? ' (conditional)' : '';
  return `${operation} ${ids.map(itemKind).sort().join('+')}${condition}`;
}

/** What `after` sent beyond `before` (a multiset difference), sorted. */
const extra = (after: SentRequest[], before: SentRequest[]): SentRequest[] => {
  const rest = [...after];
  for (const request of before) {
    const at = rest.indexOf(request);
    if (at >= 0) rest.splice(at, 1);
  }
  return rest.sort();
};

/**
 * What one processed clip costs in DynamoDB requests, counted as the real SDK client sends them to
 * dynalite: a clip with a speaker costs one read more than one without (the erasure marker; with an
 * adapting model, the marker and the statistics in one BatchGetItem), and an adapted clip one conditional
 * update of the statistics besides (README, docs/api.md).
 */
describe('DynamoDB requests per processed clip', () => {
  let aws: TestAws;
  let plain: Predictor;
  let adapting: Predictor;
  let modelDir: string;
  let repository: PredictionRepository;
  let createUpload: ReturnType<typeof createUploadService>;
  const sent: SentRequest[] = [];

  beforeAll(async () => {
    modelDir = await adaptingModelDir();
    [aws, plain, adapting] = await Promise.all([
      startTestAws(),
      createPredictor({ modelDir: DEFAULT_MODEL_DIR }),
      createPredictor({ modelDir }),
    ]);
    repository = predictionRepositoryOn(aws);
    createUpload = uploadServiceOn(aws, repository);
    // Every HTTP request the client sends (each retry too): the deserialize step runs once per attempt.
    aws.doc.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string>; body: string | Uint8Array };
        const body = typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body);
        sent.push(describeRequest(request.headers['x-amz-target'] ?? '', body));
        return next(args);
      },
      { step: 'deserialize', name: 'countDynamoDbRequests' },
    );
  });

  afterAll(async () => {
    await Promise.all([plain?.release(), adapting?.release()]);
    await aws?.close();
    if (modelDir) await rm(modelDir, { recursive: true, force: true });
  });

  /** The S3 event of an API upload's file (as `speakerId`, if given), not yet processed. */
  const uploaded = async (speakerId: string | undefined) => {
    const clip = tessClip('happy');
    const created = await createUpload(
      { fileName: 'clip.flac', sizeBytes: clip.bytes.length, ...(speakerId ? { speakerId } : {}) },
      { apiKeyId: 'local' },
    );
    const event = aws.nextEvent(`uploads/${created.id}/clip.flac`);
    await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: clip.bytes });
    return toNotification(await event);
  };

  /** The S3 event of a drop-folder file at `key`, not yet processed. */
  const dropped = async (key: string) => {
    const event = aws.nextEvent(key);
    await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: tessClip('sad').bytes }));
    return toNotification(await event);
  };

  /** Processes the event and returns the DynamoDB requests that took. */
  const requestsOf = async (
    notification: unknown,
    predictor: Predictor,
    { outcome = 'succeeded' } = {},
  ): Promise<SentRequest[]> => {
    const [ref] = parseS3Event(notification);
    const speakers = new SpeakerRepository(aws.doc, { tableName: aws.tableName, ttlDays: 30 });
    const deps = {
      s3: aws.s3,
      repository,
      predictor,
      speakers,
      maxUploadBytes: 25 * 1024 * 1024,
      maxDurationSec: 600,
      speakerFolders: ['calls'],
    };
    sent.length = 0;
    expect((await processObject(deps, ref!)).outcome).toBe(outcome);
    return [...sent];
  };

  it('an API upload with a speaker: one read more; adapted, one read and one conditional update more', async () => {
    const none = await requestsOf(await uploaded(undefined), plain);
    const speaker = await requestsOf(await uploaded('cost-api'), plain);
    const adapted = await requestsOf(await uploaded('cost-api'), adapting);

    expect(extra(speaker, none)).toEqual(['GetItem ERASED']);
    expect(extra(adapted, none)).toEqual(['BatchGetItem ERASED+SPEAKER', 'UpdateItem SPEAKER (conditional)']);
    expect(adapted.length - none.length).toBe(2);
  });

  it('a drop-folder file with a speaker: one read more; adapted, one read and one conditional update more', async () => {
    const none = await requestsOf(await dropped('incoming/no-speaker/a.flac'), plain);
    const speaker = await requestsOf(await dropped('incoming/calls/cost-drop/a.flac'), plain);
    const adapted = await requestsOf(await dropped('incoming/calls/cost-drop/b.flac'), adapting);

    expect(extra(speaker, none)).toEqual(['GetItem ERASED']);
    expect(extra(adapted, none)).toEqual(['BatchGetItem ERASED+SPEAKER', 'UpdateItem SPEAKER (conditional)']);
    expect(adapted.length - none.length).toBe(2);
  });

  it("the adapting clip's one read still finds its speaker's erasure: an upload the index missed", async () => {
    const clip = tessClip('happy');
    const created = await createUpload(
      { fileName: 'clip.flac', sizeBytes: clip.bytes.length, speakerId: 'cost-erased' },
      { apiKeyId: 'local' },
    );
    // The bySpeaker index behind (as DynamoDB's may be on AWS): only the marker can stop the upload.
    const lagging = withLaggingSpeakerIndex(repository);
    await speakerErasureOn(aws, lagging)([speakerScope({ apiKeyId: 'local' })], 'cost-erased');
    const key = `uploads/${created.id}/clip.flac`;
    const event = aws.nextEvent(key);
    await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: clip.bytes });

    const requests = await requestsOf(toNotification(await event), adapting, { outcome: 'erased' });

    expect(requests).toContain('BatchGetItem ERASED+SPEAKER');
    expect(requests.filter((r) => r.includes('SPEAKER') && !r.startsWith('BatchGetItem'))).toEqual([]);
    expect(await repository.get(created.id)).toBeUndefined();
  });

  it("the adapting clip's one read still finds its speaker's erasure: a drop-folder file that came before it", async () => {
    const early = await dropped('incoming/calls/cost-erased/a.flac');
    await speakerErasureOn(aws, repository)([dropFolderScope('calls')], 'cost-erased');

    const requests = await requestsOf(early, adapting, { outcome: 'erased' });

    expect(requests).toContain('BatchGetItem ERASED+SPEAKER');
    expect(requests.filter((r) => r.includes('SPEAKER') && !r.startsWith('BatchGetItem'))).toEqual([]);
  });
});
