import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../lambdas/app/aws-clients.ts';
import { BUNDLED_MODEL_DIR, readModelMetadata } from '../lambdas/core/model/location.ts';
import { tessClip } from './helpers/fixtures.ts';
import { type LocalStackProcess, spawnLocalStack } from './helpers/local-stack-process.ts';
import { copyModelPackage } from './helpers/model-package-copy.ts';

const ADMIN_KEY = 'redeploy-admin-key';
const SHIPPED = readModelMetadata(BUNDLED_MODEL_DIR).version;

/**
 * `npm start` restarted on the same data folder with another package in SER_MODEL_DIR: the local
 * equivalent of deploying a new bundled model over a running stack's registry.
 */
describe('npm start with a new bundled model on the same data folder (a redeploy)', () => {
  const next = copyModelPackage(`${SHIPPED}-next`);
  const otherBytes = copyModelPackage(next.version, { otherBytes: true });
  let dataDir: string;
  let stack: LocalStackProcess | undefined;
  let s3: S3Client | undefined;

  afterAll(async () => {
    s3?.destroy();
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
    next.remove();
    otherBytes.remove();
  });

  const start = async (modelDir?: string) => {
    s3?.destroy();
    stack = await spawnLocalStack(dataDir, 'redeploy-user-key', {
      SER_ADMIN_KEY: ADMIN_KEY,
      ...(modelDir ? { SER_MODEL_DIR: modelDir } : {}),
    });
    s3 = createS3Client({
      region: 'us-east-1',
      s3Endpoint: stack.s3Endpoint,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    return stack;
  };
  const admin = async (method: string, path: string) => {
    const response = await fetch(`${stack!.apiUrl}${path}`, { method, headers: { 'x-api-key': ADMIN_KEY } });
    return { status: response.status, json: await response.json() };
  };
  const health = async () => {
    const body = (await (await fetch(`${stack!.apiUrl}/health`)).json()) as { modelVersion: string };
    return body.modelVersion;
  };
  /** A clip dropped into incoming/: the model version its result names. */
  const predictedBy = async (name: string) => {
    await s3!.send(
      new PutObjectCommand({
        Bucket: stack!.bucket,
        Key: `incoming/${name}.flac`,
        Body: tessClip('angry').bytes,
      }),
    );
    for (let i = 0; i < 300; i++) {
      const result = await s3!
        .send(new GetObjectCommand({ Bucket: stack!.bucket, Key: `results/${name}.flac.json` }))
        .then(async (object) => JSON.parse(await object.Body!.transformToString()))
        .catch((error: Error) => {
          if (error.name !== 'NoSuchKey') throw error;
        });
      if (result) return result.modelVersion as string;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`results/${name}.flac.json was not written`);
  };

  it('health, the registry and predictions name the new model; a rollback to the previous bundled one serves it and outlives a restart; starting the earlier code again reverts; the same version with another package is refused', async () => {
    // Prepare: the stack as shipped, then stopped
    dataDir = await mkdtemp(join(tmpdir(), 'ser-redeploy-'));
    await start();
    expect(await health()).toBe(SHIPPED);
    await stack!.stop();

    // Act: the same data folder with a new bundled version
    await start(next.dir);

    // Assess: the model that answers is the model reported
    expect(await health()).toBe(next.version);
    expect((await admin('GET', '/models')).json).toMatchObject({
      active: next.version,
      items: expect.arrayContaining([
        expect.objectContaining({ version: SHIPPED, location: `s3://${stack!.bucket}/models/${SHIPPED}/` }),
        expect.objectContaining({ version: next.version, source: 'bundled', active: true }),
      ]),
    });
    expect(await predictedBy('after-redeploy')).toBe(next.version);

    // Act + assess: rollback to the previous bundled version, which only the bucket holds now
    expect((await admin('POST', `/models/${SHIPPED}/activate`)).status).toBe(200);
    expect(await health()).toBe(SHIPPED);
    expect(await predictedBy('after-rollback')).toBe(SHIPPED);
    expect(stack!.output.join('\n')).not.toMatch(/ERROR|not loaded/);
    await stack!.stop();

    // Act + assess: the same code started again leaves the operator's rollback alone
    await start(next.dir);
    expect(await health()).toBe(SHIPPED);
    expect((await admin('POST', `/models/${next.version}/activate`)).status).toBe(200);
    await stack!.stop();

    // Act + assess: the earlier code started again (a rollback of the code) brings its model back, since
    // the active version is the one the last start shipped
    await start();
    expect(await health()).toBe(SHIPPED);
    expect(await predictedBy('after-code-rollback')).toBe(SHIPPED);
    await stack!.stop();

    // Act + assess: a different package under the registered version refuses to start, naming both hashes
    const refused = await start(otherBytes.dir).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(refused).toContain(
      `Not started: Model version ${next.version} is already registered with another sha256: the registry ` +
        `has ${next.sha256}, this package ${otherBytes.sha256}.`,
    );
    stack = undefined;
  }, 120_000);
});
