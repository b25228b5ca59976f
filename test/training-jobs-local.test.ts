import { readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import type { LocalStack } from '../bin/local/stack.ts';
import { fixBucketLevelPaths } from '../lambdas/training/local-s3-listing.ts';
import { FIXTURES_DIR, TESS_DIR, tessClip } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';

const API_KEY = 'training-test-key';
const ADMIN_KEY = 'training-test-admin-key';
const TESS_HELDOUT_DIR = `${FIXTURES_DIR}tess-heldout/`;
const RAVDESS_CLIP = '03-01-05-01-01-01-01.flac';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
type Json = any;

describe('training jobs on the local stack: a real (tiny) training, the registry, activation and rollback', () => {
  let stack: LocalStack;
  let s3: S3Client;
  let local: TestStack;
  const lines: string[] = [];
  const saved = { ...process.env };
  let datasetRoot: string;

  /** Training and registry routes take the admin credential; `key` overrides it (the user key test). */
  const call = async (method: string, path: string, body?: unknown, key = ADMIN_KEY) => {
    // Bounded, so that a stuck call fails naming its route instead of running into the test's timeout.
    const response = await fetch(`${stack.apiUrl}${path}`, {
      signal: AbortSignal.timeout(30_000),
      method,
      headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: (await response.json()) as Json };
  };

  /**
   * Polls the job until it ends; past `limitMs` (below the calling test's own timeout) it fails with the
   * job's last state instead of running into that timeout. Takes the POST's answer.
   */
  const finished = async (created: { status: number; json: Json }, limitMs = 40_000) => {
    // A refused start says why here, not as a poll of job "undefined" running into the limit.
    if (created.status !== 202)
      throw new Error(`POST /training-jobs answered ${created.status}: ${JSON.stringify(created.json)}`);
    const id: string = created.json.id;
    const started = Date.now();
    for (;;) {
      const { json } = await call('GET', `/training-jobs/${id}`);
      if (json.status === 'SUCCEEDED' || json.status === 'FAILED') return json;
      if (Date.now() - started > limitMs)
        throw new Error(`job ${id} still ${json.status} after ${limitMs} ms: ${JSON.stringify(json)}`);
      await sleep(250);
    }
  };

  /** Drops a clip in incoming/ and answers the modelVersion its prediction reports. */
  const predictWithActiveModel = async (name: string) => {
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: `incoming/${name}.flac`,
        Body: tessClip('angry').bytes,
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      stack.idle(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the processing of incoming/${name}.flac did not end within 60 s`)),
          60_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const { json } = await call('GET', '/predictions?limit=1', undefined, API_KEY);
    return json.items[0].modelVersion as string;
  };

  beforeAll(async () => {
    // The seeding source, a dataset root like ../shared/datasets (the TESS fixtures, and one clip under a
    // RAVDESS name), and a tiny network (seconds, on a shared machine): the job code is the real one.
    datasetRoot = await mkdtemp(join(tmpdir(), 'ser-dataset-root-'));
    await cp(TESS_DIR, join(datasetRoot, 'tess'), { recursive: true });
    await mkdir(join(datasetRoot, 'ravdess', 'Actor_01'), { recursive: true });
    await cp(tessClip('angry').path, join(datasetRoot, 'ravdess', 'Actor_01', RAVDESS_CLIP));
    process.env.SER_DATASET_DIR = datasetRoot;
    process.env.SER_TRAINING_SETTINGS = JSON.stringify({ units: 8, hidden: 8, batchSize: 4, ensemble: 1 });
    local = await startTestStack({
      bucket: 'ser-training',
      apiKey: API_KEY,
      adminKey: ADMIN_KEY,
      log: (line) => lines.push(line),
    });
    ({ stack, s3 } = local);
    fixBucketLevelPaths(s3, stack.s3Endpoint);
  });

  // The stack's own log (job processes, predictions) is what tells a slow run from a stuck one.
  beforeEach(() => {
    onTestFailed(() => {
      console.log(`local stack log, last 80 lines:\n${lines.slice(-80).join('\n')}`);
    });
  });

  afterAll(async () => {
    await local?.close();
    process.env = saved;
    await rm(datasetRoot, { recursive: true, force: true });
  });

  it('a job on an empty dataset prefix is refused (400 DATASET_EMPTY) before any machine starts: nothing queued, locked or seeded', async () => {
    const bundled = (await call('GET', '/health')).json.modelVersion;
    // A folder marker (what the S3 console's "Create folder" writes) is not a clip either.
    await s3.send(
      new PutObjectCommand({ Bucket: stack.bucket, Key: 'datasets/marker-only/', Body: new Uint8Array() }),
    );

    const empty = await call('POST', '/training-jobs', { dataset: 'datasets/none/', epochs: 1 });
    const markerOnly = await call('POST', '/training-jobs', { dataset: 'datasets/marker-only/' });

    expect(empty).toEqual({
      status: 400,
      json: {
        error: {
          code: 'DATASET_EMPTY',
          message:
            'The dataset prefix s3://ser-training/datasets/none/ is empty: upload clips there first ' +
            '(TESS, RAVDESS, EMO-DB or CREMA-D file names, or folders with a labels.csv), ' +
            `e.g. aws --endpoint-url ${stack.s3Endpoint} s3 sync ./my-clips s3://ser-training/datasets/none/ ` +
            "with the local S3's access key and secret (the npm start banner prints them); " +
            `or put them in ${datasetRoot}/none/: before each job the local stack copies its dataset root ` +
            `SER_DATASET_DIR (now ${datasetRoot}) to datasets/ (docs/training-jobs.md)`,
        },
      },
    });
    expect(markerOnly).toMatchObject({ status: 400, json: { error: { code: 'DATASET_EMPTY' } } });
    expect((await call('GET', '/training-jobs')).json.items).toEqual([]);
    expect(lines.filter((line) => /started process|seeded s3:/.test(line))).toEqual([]);
    expect((await call('GET', '/health')).json.modelVersion).toBe(bundled);
  });

  it('a prefix the dataset root will fill is accepted while still empty; datasets/ is seeded before the first job, each corpus folder under its own prefix', async () => {
    const before = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'datasets/ravdess/' }),
    );

    const created = await call('POST', '/training-jobs', { dataset: 'datasets/ravdess/', epochs: 1 });
    await finished(created);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'datasets/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key);

    expect(before.KeyCount).toBe(0);
    expect(created.status).toBe(202);
    expect(keys).toContain(`datasets/ravdess/Actor_01/${RAVDESS_CLIP}`);
    expect(keys.filter((k) => k?.startsWith('datasets/tess/')).sort()).toEqual(
      readdirSync(TESS_DIR)
        .map((f) => `datasets/tess/${f}`)
        .sort(),
    );
  });

  it('a folder added to the dataset root after the first seeding is accepted and seeded before its job', async () => {
    await mkdir(join(datasetRoot, 'emodb'));
    await cp(tessClip('angry').path, join(datasetRoot, 'emodb', '03a01Wa.flac'));

    const created = await call('POST', '/training-jobs', { dataset: 'datasets/emodb/', epochs: 1 });
    const job = await finished(created);

    expect(created.status).toBe(202);
    // One clip: refused as too few to test on, not as an empty prefix (what a one-time seeding gave).
    expect(job.error).toMatch(/^too few clips/);
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'datasets/emodb/' }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['datasets/emodb/03a01Wa.flac']);
  });

  it('a file added to a seeded folder of the root (or left out by an interrupted seeding) is copied before the next job', async () => {
    await cp(tessClip('sad').path, join(datasetRoot, 'emodb', '03a01Ta.flac'));

    const created = await call('POST', '/training-jobs', { dataset: 'datasets/emodb/', epochs: 1 });
    await finished(created);

    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'datasets/emodb/' }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([
      'datasets/emodb/03a01Ta.flac',
      'datasets/emodb/03a01Wa.flac',
    ]);
  });

  it('a job on three clips (one per emotion: nothing to test on) ends FAILED before training, even with activate "always"', async () => {
    const bundled = (await call('GET', '/models')).json.active;
    for (const emotion of ['angry', 'sad', 'neutral']) {
      const clip = tessClip(emotion);
      await s3.send(
        new PutObjectCommand({
          Bucket: stack.bucket,
          Key: `datasets/three/${clip.fileName}`,
          Body: clip.bytes,
        }),
      );
    }

    const created = await call('POST', '/training-jobs', {
      dataset: 'datasets/three/',
      epochs: 1,
      activate: 'always',
    });
    const job = await finished(created);

    expect(job).toMatchObject({ status: 'FAILED', dataset: 'datasets/three/' });
    expect(job.error).toMatch(
      /^too few clips to test on: split tess-random has no test clip \(3 train of 3 usable clips/,
    );
    expect(job.modelVersion).toBeUndefined();
    // Ended before any epoch: no validation accuracy was measured, so none is reported.
    expect(job.progress).toEqual({ epoch: 0, epochs: 1 });
    expect((await call('GET', '/models')).json.active).toBe(bundled);
  });

  it('admin routes refuse the user key (and uploads refuse the admin key)', async () => {
    for (const [method, path] of [
      ['POST', '/training-jobs'],
      ['GET', '/training-jobs'],
      ['GET', '/training-jobs/x'],
      ['GET', '/models'],
      ['POST', '/models/x/activate'],
    ] as const) {
      const refused = await call(method, path, method === 'POST' ? {} : undefined, API_KEY);
      expect(refused).toMatchObject({ status: 403, json: { error: { code: 'FORBIDDEN' } } });
    }
    expect((await call('GET', '/predictions', undefined, ADMIN_KEY)).status).toBe(403);
    expect((await call('GET', '/predictions', undefined, API_KEY)).status).toBe(200);
  });

  it('a dataset must be a prefix under datasets/', async () => {
    for (const dataset of [
      'uploads/',
      'incoming/',
      '../',
      'datasets/../uploads/',
      'datasets/./x/',
      'results/x/',
    ]) {
      const refused = await call('POST', '/training-jobs', { dataset });
      expect(refused).toMatchObject({ status: 400, json: { error: { code: 'INVALID_REQUEST' } } });
    }
  });

  it('refuses a bad body with 400 and an unknown job with 404', async () => {
    expect((await call('POST', '/training-jobs', { epochs: 0 })).status).toBe(400);
    expect((await call('POST', '/training-jobs', { activate: 'sometimes' })).status).toBe(400);
    expect((await call('GET', '/training-jobs/nope')).json).toEqual({
      error: { code: 'NOT_FOUND', message: 'No training job with id nope' },
    });
  });

  it('trains, reports progress, registers the version; activation and rollback switch /health and predictions', async () => {
    // Prepare
    const models = (await call('GET', '/models')).json;
    const bundled = models.active as string;
    expect(models.items).toEqual([
      expect.objectContaining({
        version: bundled,
        source: 'bundled',
        active: true,
        sha256: expect.any(String),
      }),
    ]);

    // Act: one job (default dataset, seeded from the fixtures), a second one refused while it runs.
    const created = await call('POST', '/training-jobs', { epochs: 1 });
    const second = await call('POST', '/training-jobs', { epochs: 1 });
    const job = await finished(created, 150_000);

    // Assess: the job
    expect(second).toMatchObject({ status: 409, json: { error: { code: 'JOB_RUNNING' } } });
    expect(job).toMatchObject({
      status: 'SUCCEEDED',
      dataset: 'datasets/tess/',
      progress: { epoch: 1, epochs: 1, valAccuracy: expect.any(Number), member: 1, members: 1 },
      modelVersion: expect.stringMatching(/^tess-/),
      metrics: { 'tess-random': { macroF1: expect.any(Number) } },
      datasetSummary: { corpora: ['tess'], clips: 8, heldOutSpeakers: [] },
      activated: expect.any(Boolean),
    });
    // TESS alone has two voices: none held out, the comparison is on the random test clips the bundled
    // model did not train on (its splits.json says which), and "if-better" follows the two scores.
    const { comparison } = job;
    expect(comparison).toMatchObject({ testSet: 'tess-random', speakerIndependent: false });
    const better = comparison.clips > 0 && comparison.candidate.macroF1 > comparison.active.macroF1;
    expect(job.activated).toBe(better);
    const list = (await call('GET', '/training-jobs')).json.items.map((j: Json) => j.id);
    expect(list).toContain(job.id);
    const registered = (await call('GET', '/models')).json;
    expect(registered.items).toContainEqual(
      expect.objectContaining({
        version: job.modelVersion,
        source: 'trained',
        active: false,
        location: `s3://${stack.bucket}/models/${job.modelVersion}/`,
      }),
    );

    // Act + assess: activation, then rollback
    const activated = await call('POST', `/models/${job.modelVersion}/activate`);
    expect(activated).toMatchObject({
      status: 200,
      json: { active: job.modelVersion, previousVersion: bundled },
    });
    expect((await call('GET', '/health')).json.modelVersion).toBe(job.modelVersion);
    expect(await predictWithActiveModel('after-activation')).toBe(job.modelVersion);

    expect((await call('POST', `/models/${bundled}/activate`)).status).toBe(200);
    expect((await call('GET', '/health')).json.modelVersion).toBe(bundled);
    expect(await predictWithActiveModel('after-rollback')).toBe(bundled);
    expect((await call('POST', '/models/no-such-version/activate')).status).toBe(404);
  }, 180_000);

  it('killing the training process ends the job FAILED within 10 s and frees the lock', async () => {
    const created = await call('POST', '/training-jobs', { epochs: 3, activate: 'never' });
    const started = new RegExp(`training job ${created.json.id}: started process (\\d+)`);
    let pid: number | undefined;
    while (!pid) {
      pid = Number(lines.map((line) => started.exec(line)?.[1]).find(Boolean)) || undefined;
      await sleep(50);
    }

    process.kill(pid, 'SIGKILL');
    let job: Json;
    for (let waited = 0; waited < 10_000; waited += 250) {
      job = (await call('GET', `/training-jobs/${created.json.id}`)).json;
      if (job.status === 'FAILED') break;
      await sleep(250);
    }

    expect(job).toMatchObject({
      status: 'FAILED',
      error: 'Training stopped: the training process was killed (SIGKILL) before the job recorded its end',
    });
    const next = await call('POST', '/training-jobs', { dataset: 'datasets/three/' });
    expect(next.status).toBe(202);
    expect(await finished(next)).toMatchObject({ status: 'FAILED' });
  }, 60_000);

  it("trains on an operator's labels.csv folder; unknown labels and unreadable files are listed in the job", async () => {
    // Prepare: TESS clips under neutral names, three "speakers", a calm row and an unreadable file. Each
    // fixture folder has one clip of every emotion: ann and bob share one (so every emotion trains), cy
    // has the other (the held-out speaker).
    const clips = [...readdirSync(TESS_DIR), ...readdirSync(TESS_HELDOUT_DIR)]
      .filter((name) => name.endsWith('.flac'))
      .map((name, i) => ({
        source: join(readdirSync(TESS_DIR).includes(name) ? TESS_DIR : TESS_HELDOUT_DIR, name),
        file: `audio/clip-${String(i).padStart(2, '0')}.flac`,
        emotion:
          name
            .replace(/\.flac$/, '')
            .split('_')
            .pop() === 'ps'
            ? 'Surprised'
            : name
                .replace(/\.flac$/, '')
                .split('_')
                .pop()!,
        speaker: readdirSync(TESS_DIR).includes(name) ? ['ann', 'bob'][i % 2]! : 'cy',
      }));
    const rows = clips.map((c) => `${c.file},${c.emotion},${c.speaker}`);
    rows.push('audio/calm.flac,calm,ann', 'audio/broken.wav,angry,bob', 'audio/missing.flac,sad,cy');
    const put = (key: string, body: Uint8Array | string) =>
      s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `datasets/own/${key}`, Body: body }));
    await put('labels.csv', `path,emotion,speaker\n${rows.join('\n')}\n`);
    for (const c of clips) await put(c.file, readFileSync(c.source));
    await put('audio/calm.flac', readFileSync(clips[0]!.source));
    await put('audio/broken.wav', 'RIFF not really audio');

    const created = await call('POST', '/training-jobs', { dataset: 'datasets/own/', epochs: 1 });
    const job = await finished(created, 150_000);

    expect(job).toMatchObject({
      status: 'SUCCEEDED',
      modelVersion: expect.stringMatching(/^csv-/),
      datasetSummary: {
        corpora: ['csv'],
        clips: 15,
        speakers: 3,
        heldOutSpeakers: ['csv:./cy'],
        unknownLabels: [{ path: './audio/calm.flac', label: 'calm' }],
        invalidRows: [{ row: 18, path: './audio/missing.flac', reason: 'no such audio file' }],
        unreadable: [{ path: expect.stringMatching(/broken\.wav$/), error: expect.any(String) }],
      },
    });
    // "if-better" against the real bundled model: both scored by createPredictor on cy's clips.
    expect(job.comparison).toMatchObject({
      testSet: 'heldout-speakers',
      speakerIndependent: true,
      clips: expect.any(Number),
      candidate: { version: job.modelVersion, macroF1: expect.any(Number) },
      active: { version: stack.modelVersion, macroF1: expect.any(Number) },
    });
    expect(job.comparison.clips).toBeGreaterThan(0);
    expect(job.activated).toBe(job.comparison.candidate.macroF1 > job.comparison.active.macroF1);
    expect(job.activationReason).toContain(
      `of ${stack.modelVersion} on the same ${job.comparison.clips} clips`,
    );
  }, 180_000);
});
