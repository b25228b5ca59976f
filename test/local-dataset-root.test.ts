import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStackProcess, spawnLocalStack } from './helpers/local-stack-process.ts';

const ADMIN_KEY = 'dataset-root-admin-key';

/** `npm start` without the dataset root it seeds training from (no ../shared/datasets, a wrong SER_DATASET_DIR). */
describe('npm start with a missing dataset root says so, and which setting names it', () => {
  let dataDir: string;
  let missing: string;
  let stack: LocalStackProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ser-dataset-root-'));
    missing = join(dataDir, 'no-such-datasets');
    stack = await spawnLocalStack(dataDir, undefined, { SER_DATASET_DIR: missing, SER_ADMIN_KEY: ADMIN_KEY });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('the start-up banner names the missing folder and SER_DATASET_DIR', () => {
    expect(stack.output).toContain(
      `Datasets: ${missing} does not exist, so no training job is seeded from it: set SER_DATASET_DIR to a ` +
        `folder of corpora (tess/, ravdess/, …) or upload clips to s3://${stack.bucket}/datasets/`,
    );
  });

  it("the default job's DATASET_EMPTY message names SER_DATASET_DIR and the folder that would fill the prefix", async () => {
    const response = await fetch(`${stack.apiUrl}/training-jobs`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
      body: '{}',
    });
    const body = (await response.json()) as { error: { code: string; message: string } };

    expect(response.status).toBe(400);
    expect(body.error.code).toBe('DATASET_EMPTY');
    expect(body.error.message).toContain(
      `; or put them in ${missing}/tess/: before each job the local stack copies its dataset root ` +
        `SER_DATASET_DIR (now ${missing}, which does not exist) to datasets/ (docs/training-jobs.md)`,
    );
  });
});
