import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../bin/local/local-aws.ts';
import { isConditionalCheckFailed } from '../lambdas/app/table-definition.ts';
import { createS3DatasetPrefixes, type DatasetPrefixes } from '../lambdas/training/dataset-prefix.ts';
import { createEc2TrainingLauncher } from '../lambdas/training/ec2-launcher.ts';
import {
  deadlinePassedMessage,
  failureRequestDocuments,
  machineExitMessage,
  TrainingJobRepository,
} from '../lambdas/training/job-repository.ts';
import { createTrainingService } from '../lambdas/training/job-service.ts';
import { fixBucketLevelPaths } from '../lambdas/training/local-s3-listing.ts';
import { createS3ModelPackages } from '../lambdas/training/model-packages.ts';
import { ModelRegistry } from '../lambdas/training/model-registry.ts';

import { handlerEnvironment, startTestAws, type TestAws } from './helpers/local-aws.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const HOURS = 60 * 60 * 1000;

describe('the deadline message', () => {
  it('names the machine log when the job has one, and is unchanged without', () => {
    const deadline = new Date('2026-01-01T02:00:00.000Z');
    const gone =
      "The training machine's hard limit (2026-01-01T02:00:00.000Z) passed before the job recorded its end: the machine is gone";

    expect(deadlinePassedMessage(deadline, undefined)).toBe(gone);
    expect(deadlinePassedMessage(deadline, 's3://b/training-logs/j/cloud-init-output.log')).toBe(
      `${gone}; its log, if it got as far as uploading it: s3://b/training-logs/j/cloud-init-output.log`,
    );
  });
});

describe('a training machine that dies early points to its own log (local S3 and DynamoDB)', () => {
  let aws: TestAws;
  let jobs: TrainingJobRepository;
  let datasets: DatasetPrefixes;
  const ec2 = { send: async () => ({ Instances: [{ InstanceId: 'i-0abc' }] }) } as unknown as EC2Client;
  const logOf = (id: string) => `s3://${aws.bucket}/training-logs/${id}/cloud-init-output.log`;
  const service = (newId: string, now: Date) =>
    createTrainingService({
      jobs,
      registry: new ModelRegistry(aws.doc, aws),
      datasets,
      packages: createS3ModelPackages(aws.s3),
      launcher: createEc2TrainingLauncher(ec2, { id: 'lt-0abc', version: '1' }, aws.bucket),
      bundledVersion: '1.0.0',
      newId: () => newId,
      now: () => now,
    });

  beforeAll(async () => {
    aws = await startTestAws();
    jobs = new TrainingJobRepository(aws.doc, aws);
    datasets = createS3DatasetPrefixes(fixBucketLevelPaths(aws.s3, aws.s3Endpoint), aws.bucket);
    await aws.s3.send(
      new PutObjectCommand({ Bucket: aws.bucket, Key: 'datasets/tess/OAF_back_angry.wav', Body: 'RIFF' }),
    );
  });
  afterAll(async () => {
    await aws?.close();
  });

  it('the job record names the log from the start; past the deadline, the failure names it too', async () => {
    const started = service('job-gone', new Date(Date.now() - 3 * HOURS));

    await started.createJob({});
    const job = await started.getJob('job-gone');

    expect(job.machineLog).toBe(logOf('job-gone'));
    expect(job).toMatchObject({ status: 'FAILED', error: expect.stringContaining(logOf('job-gone')) });
  });

  it("the exit trap's script ends a job the supervisor never ran FAILED, naming the log, and frees the lock; an ended job stays as it was, and so does the next job's lock", async () => {
    await service('job-npm-ci-failed', new Date()).createJob({});
    // Not execFileSync: the local DynamoDB it talks to runs in this process.
    const exit = (jobId: string) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'training/machine-exit.ts'], {
        cwd: ROOT,
        env: { ...process.env, ...handlerEnvironment(aws), TRAINING_JOB_ID: jobId, MACHINE_EXIT_CODE: '1' },
      });

    await exit('job-npm-ci-failed');

    expect(await jobs.get('job-npm-ci-failed')).toMatchObject({
      status: 'FAILED',
      error: machineExitMessage(1, logOf('job-npm-ci-failed')),
    });
    // Freed, not merely taken over later because the job ended.
    const lock = await aws.doc.send(
      new GetCommand({ TableName: aws.tableName, Key: { id: 'TRAINING_LOCK' } }),
    );
    expect(lock.Item?.jobId).toBeUndefined();
    await jobs.acquireLock('job-succeeded');
    await jobs.create({ ...(await jobs.get('job-npm-ci-failed'))!, id: 'job-succeeded', status: 'RUNNING' });
    await jobs.update('job-succeeded', { status: 'SUCCEEDED' });
    // Its supervisor freed the lock and the next job took it before the machine's exit trap ran.
    await jobs.releaseLock('job-succeeded');
    await jobs.acquireLock('job-next');
    await exit('job-succeeded');
    expect(await jobs.get('job-succeeded')).toMatchObject({ status: 'SUCCEEDED' });
    const held = await aws.doc.send(
      new GetCommand({ TableName: aws.tableName, Key: { id: 'TRAINING_LOCK' } }),
    );
    expect(held.Item?.jobId).toBe('job-next');
  });

  it("without node_modules, the exit trap's AWS CLI requests end the job FAILED, naming the log and the exit code, and free the lock; an ended job and another job's lock stay as they were", async () => {
    // Prepare: the low-level client, as the AWS CLI sends DynamoDB's own JSON.
    const dynamodb = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_S3_CREDENTIALS,
      endpoint: aws.dynamoDbEndpoint,
    });
    const lockHolder = async () =>
      (await aws.doc.send(new GetCommand({ TableName: aws.tableName, Key: { id: 'TRAINING_LOCK' } }))).Item
        ?.jobId;
    const exitTrap = async (jobId: string, exitCode: number, updatedAt: string) => {
      const error = machineExitMessage(exitCode, logOf(jobId));
      const outcomes: string[] = [];
      // As the trap's loop: each request sent, a refused one reported and the next sent anyway.
      for (const request of failureRequestDocuments(aws.tableName, jobId, error, updatedAt)) {
        try {
          await dynamodb.send(new UpdateItemCommand(request));
          outcomes.push('written');
        } catch (failure) {
          if (!isConditionalCheckFailed(failure)) throw failure;
          outcomes.push('refused');
        }
      }
      return outcomes;
    };
    await service('job-dnf-failed', new Date()).createJob({});
    await jobs.update('job-dnf-failed', { status: 'RUNNING' });
    expect(await lockHolder()).toBe('job-dnf-failed');

    // Act
    const outcomes = await exitTrap('job-dnf-failed', 7, '2026-12-07T14:30:00.000Z');

    // Assess
    expect(outcomes).toEqual(['written', 'written']);
    const failed = await jobs.get('job-dnf-failed');
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: machineExitMessage(7, logOf('job-dnf-failed')),
      updatedAt: '2026-12-07T14:30:00.000Z',
    });
    expect(failed!.error).toContain('exited with code 7');
    expect(failed!.error).toContain(logOf('job-dnf-failed'));
    expect(await lockHolder()).toBeUndefined();

    // Prepare: two jobs that recorded their end; the next job holds the lock.
    const base = (await jobs.get('job-dnf-failed'))!;
    await jobs.create({ ...base, id: 'job-cli-succeeded', status: 'RUNNING', error: undefined });
    await jobs.update('job-cli-succeeded', { status: 'SUCCEEDED' });
    await jobs.create({ ...base, id: 'job-cli-failed', status: 'RUNNING', error: undefined });
    await jobs.recordFailure('job-cli-failed', 'Training stopped: the training process was killed (SIGKILL)');
    const before = await Promise.all(['job-cli-succeeded', 'job-cli-failed'].map((id) => jobs.get(id)));
    await jobs.acquireLock('job-cli-next');

    // Act
    const late = [
      await exitTrap('job-cli-succeeded', 1, '2026-12-07T15:00:00.000Z'),
      await exitTrap('job-cli-failed', 1, '2026-12-07T15:00:00.000Z'),
    ];

    // Assess
    expect(late).toEqual([
      ['refused', 'refused'],
      ['refused', 'refused'],
    ]);
    const after = await Promise.all(['job-cli-succeeded', 'job-cli-failed'].map((id) => jobs.get(id)));
    expect(after).toEqual(before);
    expect(after.map((job) => job!.status)).toEqual(['SUCCEEDED', 'FAILED']);
    expect(await lockHolder()).toBe('job-cli-next');
    dynamodb.destroy();
  });
});
