import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../bin/local/stack.ts';
import { TESS_DIR, tessClip } from './helpers/fixtures.ts';
import { startTestStack, type TestStack } from './helpers/local-stack.ts';

const API_KEY = 'training-test-key';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
type Json = any;

describe('training jobs on the local stack: a real (tiny) training, the registry, activation and rollback', () => {
  let stack: LocalStack;
  let s3: S3Client;
  let local: TestStack;
  const lines: string[] = [];
  const saved = { ...process.env };

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: (await response.json()) as Json };
  };

  /** Polls the job until it ends (capped: the test's own timeout is the limit). */
  const finished = async (id: string) => {
    for (;;) {
      const { json } = await call('GET', `/training-jobs/${id}`);
      if (json.status === 'SUCCEEDED' || json.status === 'FAILED') return json;
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
    await stack.idle();
    const { json } = await call('GET', '/predictions?limit=1');
    return json.items[0].modelVersion as string;
  };

  beforeAll(async () => {
    // The seeding source and a tiny network (seconds, on a shared machine): the job code is the real one.
    process.env.SER_DATASET_DIR = TESS_DIR;
    process.env.SER_TRAINING_EXTRA_ARGS = '--units 8 --hidden 8 --batch 4 --ensemble 1';
    local = await startTestStack({
      bucket: 'ser-training',
      apiKey: API_KEY,
      log: (line) => lines.push(line),
    });
    ({ stack, s3 } = local);
  });

  afterAll(async () => {
    await local?.close();
    process.env = saved;
  });

  it('a job on an empty dataset prefix ends FAILED with a clear error and leaves the active model', async () => {
    const bundled = (await call('GET', '/health')).json.modelVersion;

    const created = await call('POST', '/training-jobs', { dataset: 'datasets/none/', epochs: 1 });
    const job = await finished(created.json.id);

    expect(created).toEqual({ status: 202, json: { id: expect.any(String), status: 'QUEUED' } });
    expect(job).toMatchObject({ status: 'FAILED', dataset: 'datasets/none/' });
    expect(job.error).toMatch(/datasets\/none\/ is empty/);
    expect(job.modelVersion).toBeUndefined();
    expect((await call('GET', '/health')).json.modelVersion).toBe(bundled);
    expect((await call('GET', '/models')).json.active).toBe(bundled);
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
    const job = await finished(created.json.id);

    // Assess: the job
    expect(second).toMatchObject({ status: 409, json: { error: { code: 'JOB_RUNNING' } } });
    expect(job).toMatchObject({
      status: 'SUCCEEDED',
      dataset: 'datasets/tess/',
      progress: { epoch: 1, epochs: 1, valAccuracy: expect.any(Number) },
      modelVersion: expect.stringMatching(/^tess-/),
      metrics: { 'tess-random': { macroF1: expect.any(Number) } },
      // The bundled model's TESS macro-F1 is 1.0: a one-epoch model cannot beat it.
      activated: false,
      activationReason: expect.stringContaining('tess-random macro-F1'),
    });
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
});
