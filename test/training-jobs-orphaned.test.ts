import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../bin/local/local-aws.ts';
import { type LocalStack, startLocalStack } from '../bin/local/stack.ts';
import { createLocalTrainingRunner } from '../bin/local/training-runner.ts';
import { createDocumentClient } from '../lambdas/app/aws-clients.ts';
import { type TrainingJob, TrainingJobRepository } from '../lambdas/training/job-repository.ts';

/**
 * A local stack that stopped without recording its job's end (killed, its terminal closed) left the job
 * QUEUED or RUNNING with the one-job lock held: every new job was refused (409) until the deadline, two
 * hours on. The next start on the data folder ends such jobs (bin/local/training-runner.ts).
 */
describe('npm start ends the training jobs the last stack on its data folder left unfinished', () => {
  let dataDir: string;
  let stack: LocalStack | undefined;
  afterAll(async () => {
    await stack?.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const start = () =>
    startLocalStack({
      host: '127.0.0.1',
      port: 0,
      s3Port: 0,
      dynamoDbPort: 0,
      bucket: 'ser-orphans',
      apiKey: 'orphans-key',
      adminKey: 'orphans-admin',
      dataDir,
      log: () => {},
    });
  const repository = (endpoint: string) => {
    const doc = createDocumentClient({
      region: LOCAL_REGION,
      credentials: LOCAL_S3_CREDENTIALS,
      dynamoDbEndpoint: endpoint,
    });
    return { doc, jobs: new TrainingJobRepository(doc, { tableName: 'predictions' }) };
  };
  const job = (id: string, status: TrainingJob['status']): TrainingJob => ({
    id,
    status,
    dataset: 'datasets/tess/',
    epochs: 1,
    augment: false,
    activate: 'if-better',
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    deadline: new Date(Date.now() + 2 * 3600_000).toISOString(),
  });

  it('records them FAILED and frees the lock; an ended job stays as it was', async () => {
    // Arrange: a stack whose jobs never recorded their end (written as its runner would have left them)
    dataDir = await mkdtemp(join(tmpdir(), 'ser-orphans-'));
    stack = await start();
    const before = repository(stack.dynamoDbEndpoint);
    await before.jobs.create(job('queued-job', 'QUEUED'));
    await before.jobs.create(job('running-job', 'RUNNING'));
    await before.jobs.create({ ...job('ended-job', 'RUNNING') });
    await before.jobs.update('ended-job', { status: 'SUCCEEDED' });
    await before.jobs.acquireLock('running-job');
    before.doc.destroy();
    await stack.close();

    // Act
    stack = await start();

    // Assess
    const after = repository(stack.dynamoDbEndpoint);
    expect(await after.jobs.get('queued-job')).toMatchObject({
      status: 'FAILED',
      error: 'the local stack running it stopped (killed, or its terminal closed)',
    });
    expect((await after.jobs.get('running-job'))?.status).toBe('FAILED');
    expect((await after.jobs.get('ended-job'))?.status).toBe('SUCCEEDED');
    await after.jobs.acquireLock('next-job'); // the lock is free: a new job is admitted
    await after.jobs.releaseLock('next-job');
    after.doc.destroy();
  }, 120_000);

  it("a stack stopped while it seeds a job's dataset (before the process starts) records that job FAILED", async () => {
    // Arrange: the running stack's environment (its handlers'), a queued job holding the lock, and a
    // runner whose dataset seeding lasts until the stack is being stopped
    const { doc, jobs } = repository(stack!.dynamoDbEndpoint);
    await jobs.create(job('seeding-job', 'QUEUED'));
    await jobs.acquireLock('seeding-job');
    let seeded: () => void = () => {};
    const runner = createLocalTrainingRunner({
      env: {},
      beforeEachJob: () => new Promise<void>((resolve) => (seeded = resolve)),
    });
    await runner.launch('seeding-job');

    // Act
    const stopped = runner.close();
    seeded();
    await stopped;

    // Assess
    expect(await jobs.get('seeding-job')).toMatchObject({
      status: 'FAILED',
      error: 'the local stack stopped before the job started',
    });
    await jobs.acquireLock('after-seeding-job');
    doc.destroy();
  });
});
