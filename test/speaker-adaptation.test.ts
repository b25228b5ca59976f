import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toProxyEvent } from '../bin/local/api-gateway-event.ts';
import { SpeakerPrefixListSchema } from '../lambdas/app/config.ts';
import { createApiHandler } from '../lambdas/app/http-api.ts';
import {
  dropFolderSpeaker,
  dropFolderSpeakerProblem,
  predictForSpeaker,
} from '../lambdas/app/speaker-context.ts';
import { SpeakerRepository, speakerItemId } from '../lambdas/app/speaker-repository.ts';
import {
  addClip,
  type SpeakerAdaptation,
  speakerOffsets,
} from '../lambdas/core/features/speaker-normalization.ts';
import { createPredictor, type Predictor } from '../lambdas/core/predict.ts';
import { adaptingModelDir } from './helpers/adapting-model.ts';
import { tessFixtures } from './helpers/fixtures.ts';
import { predictionRepositoryOn, startTestAws, type TestAws, uploadServiceOn } from './helpers/local-aws.ts';
import { speakerErasureOn } from './helpers/speaker-erasure.ts';

const ADAPTATION: SpeakerAdaptation = {
  channels: [0, 2],
  populationMean: [10, -20],
  shrinkageClips: 2,
  minClips: 3,
};

describe('speaker statistics (pure)', () => {
  it("Welford's running mean and M2 equal the batch mean and sum of squared deviations", () => {
    const clips = [
      [1, 5],
      [4, -2],
      [7, 0.5],
      [2, 2],
    ];
    const stats = clips.reduce<ReturnType<typeof addClip> | undefined>((s, c) => addClip(s, c), undefined)!;
    const mean = [0, 1].map((d) => clips.reduce((a, c) => a + c[d]!, 0) / clips.length);
    const m2 = [0, 1].map((d) => clips.reduce((a, c) => a + (c[d]! - mean[d]!) ** 2, 0));
    expect(stats.count).toBe(4);
    for (const [d, m] of stats.mean.entries()) expect(m).toBeCloseTo(mean[d]!, 12);
    for (const [d, v] of stats.m2.entries()) expect(v).toBeCloseTo(m2[d]!, 10);
  });

  it('adapts only from minClips on, with the shift shrunk by n / (n + shrinkageClips)', () => {
    const two = addClip(addClip(undefined, [12, -18]), [14, -22]);
    expect(speakerOffsets(undefined, ADAPTATION)).toBeUndefined();
    expect(speakerOffsets(two, ADAPTATION)).toBeUndefined();
    const three = addClip(two, [13, -20]);
    // mean (13, -20); population (10, -20); weight 3 / 5
    const offsets = speakerOffsets(three, ADAPTATION)!;
    expect(offsets[0]).toBeCloseTo(-1.8, 12);
    expect(offsets[1]).toBeCloseTo(0, 12);
    expect(speakerOffsets({ count: 9, mean: [1], m2: [0] }, ADAPTATION)).toBeUndefined(); // wrong shape
  });

  it('maps a drop-folder path to a speaker only under the configured prefixes', () => {
    expect(dropFolderSpeaker('agent-7/a.wav', ['*'])).toEqual({
      scope: 'drop-folder:',
      speakerId: 'agent-7',
    });
    expect(dropFolderSpeaker('calls/agent-7/x/a.wav', ['calls'])?.speakerId).toBe('agent-7');
    // Each prefix is its own scope (calls/agent-1 and meetings/agent-1 are two speakers), and the most
    // specific prefix decides whatever the list's order.
    for (const prefixes of [
      ['*', 'calls'],
      ['calls', '*'],
    ])
      expect(dropFolderSpeaker('calls/agent-1/a.wav', prefixes)).toEqual({
        scope: 'drop-folder:calls/',
        speakerId: 'agent-1',
      });
    // A file directly in the most specific prefix's folder has no speaker; no broader prefix names one.
    for (const prefixes of [
      ['*', 'calls'],
      ['calls', '*'],
    ])
      expect(dropFolderSpeaker('calls/a.wav', prefixes)).toBeUndefined();
    expect(dropFolderSpeaker('calls/eu/a.wav', ['calls', 'calls/eu'])).toBeUndefined();
    expect(dropFolderSpeaker('calls/eu/agent-1/a.wav', ['calls', 'calls/eu'])).toEqual({
      scope: 'drop-folder:calls/eu/',
      speakerId: 'agent-1',
    });
    expect(dropFolderSpeaker('meetings/agent-1/a.wav', ['calls', 'meetings'])?.scope).toBe(
      'drop-folder:meetings/',
    );
    // A folder under a speaker prefix whose name cannot be a speakerId is said, not silently left out.
    expect(dropFolderSpeakerProblem('calls/Jürgen/a.wav', ['calls'])).toMatch(
      /"Jürgen" under speaker prefix "calls"/,
    );
    expect(dropFolderSpeakerProblem('calls/Jürgen/a.wav', ['calls'])).toMatch(/not "\." or "\.\."/);
    expect(dropFolderSpeakerProblem('calls/agent-1/a.wav', ['calls'])).toBeUndefined();
    expect(dropFolderSpeakerProblem('other/Jürgen/a.wav', ['calls'])).toBeUndefined();
    expect(dropFolderSpeakerProblem('calls/Jürgen/a.wav', [])).toBeUndefined();
    expect(dropFolderSpeaker('other/agent-7/a.wav', ['calls'])).toBeUndefined();
    expect(dropFolderSpeaker('a.wav', ['*'])).toBeUndefined();
    expect(dropFolderSpeaker('agent-7/a.wav', undefined)).toBeUndefined();
  });

  it('refuses a speaker prefix with an empty folder name, and keeps edge slashes', () => {
    for (const list of ['calls//x', 'a,calls//x']) {
      const parsed = SpeakerPrefixListSchema.safeParse(list);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.message).toMatch(/empty folder name \(calls\/\/x\)/);
    }
    expect(SpeakerPrefixListSchema.parse('calls/, /meetings/eu, *')).toEqual(['calls/', '/meetings/eu', '*']);
  });
});

describe('speaker statistics in DynamoDB (dynalite)', () => {
  let aws: TestAws;
  let now = Date.parse('2026-03-01T00:00:00Z');
  let speakers: SpeakerRepository;
  const ref = { scope: 'key:k1', speakerId: 'agent-7' };

  beforeAll(async () => {
    aws = await startTestAws();
    speakers = new SpeakerRepository(aws.doc, {
      tableName: aws.tableName,
      ttlDays: 30,
      now: () => new Date(now),
    });
  });
  afterAll(async () => {
    await aws?.close();
  });

  it('loses no update when clips of one speaker are added concurrently', async () => {
    const clips = Array.from({ length: 16 }, (_, i) => [i, 100 - 3 * i]);
    await Promise.all(clips.map((clip) => speakers.addClip(ref, 'a', clip)));
    const stored = await speakers.get(ref, 'a');
    expect(stored?.statistics.count).toBe(16);
    expect(stored?.version).toBe(16);
    expect(stored?.statistics.mean[0]).toBeCloseTo(7.5, 9);
    expect(stored?.statistics.mean[1]).toBeCloseTo(100 - 3 * 7.5, 9);
    // sum of squared deviations of 0..15 around 7.5
    expect(stored?.statistics.m2[0]).toBeCloseTo((16 * (16 * 16 - 1)) / 12, 6);
  });

  it('stores aggregates only, with a TTL, in a key space the predictions API cannot reach', async () => {
    const { Item } = await aws.doc.send(
      new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
        TableName: aws.tableName,
        Key: { id: speakerItemId(ref) },
      }),
    );
    expect(Object.keys(Item!).sort()).toEqual([
      'adaptationKey',
      'count',
      'expiresAt',
      'id',
      'm2',
      'mean',
      'version',
    ]);
    expect(Item!.expiresAt).toBe(Math.floor(now / 1000) + 30 * 86_400);
    expect(JSON.stringify(Item)).not.toContain('agent-7');
    const predictions = predictionRepositoryOn(aws);
    const api = createApiHandler({
      createUpload: async () => {
        throw new Error('unused');
      },
      repository: predictions,
      eraseSpeaker: speakerErasureOn(aws, predictions, speakers),
      modelVersion: 'm',
      corsAllowOrigins: ['*'],
    });
    const built = toProxyEvent({
      method: 'GET',
      url: `/predictions/${encodeURIComponent(speakerItemId(ref))}`,
      headers: {},
    });
    if (!built.ok) throw new Error(built.message);
    expect((await api(built.event)).statusCode).toBe(404);
  });

  it('treats expired statistics as empty and statistics of another adaptation as foreign', async () => {
    expect((await speakers.get(ref, 'other-model'))?.statistics.count).toBe(0);
    const later = now;
    now += 31 * 86_400_000;
    expect((await speakers.get(ref, 'a'))?.statistics.count).toBe(0);
    // The next clip starts afresh (and its write still checks the version).
    expect(await speakers.addClip(ref, 'a', [1, 1], await speakers.get(ref, 'a'))).toBe(1);
    now = later;
  });

  it('erases a speaker on DELETE /speakers/{id}, scoped to the API key', async () => {
    const other = { scope: 'key:k2', speakerId: 'agent-7' };
    await speakers.addClip(other, 'a', [5, 5]);
    const predictions = predictionRepositoryOn(aws);
    const api = createApiHandler({
      createUpload: async () => {
        throw new Error('unused');
      },
      repository: predictions,
      eraseSpeaker: speakerErasureOn(aws, predictions, speakers),
      modelVersion: 'm',
      corsAllowOrigins: ['*'],
    });
    const del = async (id: string, apiKeyId: string) => {
      const built = toProxyEvent({
        method: 'DELETE',
        url: `/speakers/${encodeURIComponent(id)}`,
        headers: {},
      });
      if (!built.ok) throw new Error(built.message);
      built.event.requestContext.identity.apiKeyId = apiKeyId;
      const response = await api(built.event);
      return { status: response.statusCode, json: JSON.parse(response.body) };
    };
    expect(await del('agent-7', 'k1')).toEqual({
      status: 200,
      json: { speakerId: 'agent-7', erased: true, recordsDeleted: 0, more: false },
    });
    expect(await speakers.get(ref, 'a')).toBeUndefined();
    expect((await speakers.get(other, 'a'))?.statistics.count).toBe(1);
    expect(await del('agent-7', 'k1')).toEqual({
      status: 200,
      json: { speakerId: 'agent-7', erased: false, recordsDeleted: 0, more: false },
    });
    // The refusal names the parameter once (a path parameter has no path of its own in zod's issue).
    const tooLong = await del('x'.repeat(129), 'k1');
    const spaced = await del(' agent-7', 'k1');
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.error.message).toMatch(/^speakerId: Too big/);
    expect(spaced.json.error.message).toBe(
      'speakerId: printable ASCII characters except "/", no space at either end, not "." or ".."',
    );
  });

  it('keeps the speakerId of an upload on its record and refuses a bad one', async () => {
    const predictions = predictionRepositoryOn(aws);
    const createUpload = uploadServiceOn(aws, predictions, {
      maxUploadBytes: 1_000_000,
      uploadUrlTtlSec: 300,
    });
    const created = await createUpload({ fileName: 'a.wav', speakerId: 'agent-7' }, { apiKeyId: 'k1' });
    expect(await predictions.get(created.id)).toMatchObject({ speakerId: 'agent-7', status: 'PENDING' });
    await expect(createUpload({ fileName: 'a.wav', speakerId: '' })).rejects.toMatchObject({
      kind: 'invalid',
      code: 'INVALID_REQUEST',
    });
    await expect(createUpload({ fileName: 'a.wav', speakerId: 'a/b' })).rejects.toMatchObject({
      kind: 'invalid',
      code: 'INVALID_REQUEST',
    });
  });
});

describe('adapted predictions (real model, dynalite)', () => {
  let aws: TestAws;
  let modelDir: string;
  let predictor: Predictor;
  let speakers: SpeakerRepository;
  const clips = tessFixtures().map((f) => readFileSync(f.path));

  beforeAll(async () => {
    aws = await startTestAws();
    // A population far from these voices, so that the shift visibly moves the probabilities.
    modelDir = await adaptingModelDir({ minClips: 3, populationMean: [30, -5], shrinkageClips: 0 });
    predictor = await createPredictor({ modelDir });
    speakers = new SpeakerRepository(aws.doc, { tableName: aws.tableName, ttlDays: 30 });
  });
  afterAll(async () => {
    await predictor?.release();
    await aws?.close();
    if (modelDir) await rm(modelDir, { recursive: true, force: true });
  });

  it('falls back to the context-free prediction below minClips, adapts from then on', async () => {
    const ref = { scope: 'key:test', speakerId: 'OAF+YAF' };
    const results = [];
    for (const clip of clips.slice(0, 5)) {
      results.push(await predictForSpeaker(predictor, speakers, clip, {}, ref));
    }
    const plain = await Promise.all(clips.slice(0, 5).map((clip) => predictor.predict(clip)));
    for (const [i, result] of results.entries()) {
      expect(result).not.toHaveProperty('speakerClip');
      if (i < 3) {
        expect(result.adaptation).toBeUndefined();
        expect(result.probabilities).toEqual(plain[i]!.probabilities);
      } else {
        expect(result.adaptation).toEqual({ clips: i });
        // The shift moved the utterance means the model reads: the probabilities are not the plain ones.
        expect(result.probabilities).not.toEqual(plain[i]!.probabilities);
      }
    }
    expect(plain.every((p) => p.adaptation === undefined && p.speakerClip === undefined)).toBe(true);
  });
});
