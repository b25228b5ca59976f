import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../lambdas/app/aws-clients.ts';
import { DEFAULT_DATASET } from '../../lambdas/app/openapi-training.ts';
import type { TrainingLauncher } from '../../lambdas/training/launcher.ts';
import { fixBucketLevelPaths } from '../../lambdas/training/local-s3-listing.ts';
import { type SupervisedRun, superviseTrainingJob } from '../../training/job-supervisor.ts';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from './local-aws.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LocalTrainingRunner extends TrainingLauncher {
  /** Resolves when the running job's process (if any) has exited and its end is recorded. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The local stand-in for the EC2 training instance: the same supervisor (`training/job-supervisor.ts`)
 * runs `training/job.ts` as a child process with the local stack's endpoints in its environment, and
 * records FAILED if that process dies. One at a time (the job lock already says so; this is the belt to
 * its braces). Like an instance booting, the process may start after `launch` returns (the job stays
 * QUEUED until then).
 */
export function createLocalTrainingRunner(options: {
  env: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Run once, before the first job's process starts (the dataset seeding). */
  beforeFirstJob?: () => Promise<unknown>;
}): LocalTrainingRunner {
  const log = options.log ?? (() => {});
  let prepared: Promise<unknown> | undefined;
  let running: { run?: SupervisedRun; exited: Promise<void> } | undefined;
  let closing = false;

  const run = async (jobId: string, slot: { run?: SupervisedRun }) => {
    prepared ??= options.beforeFirstJob?.() ?? Promise.resolve();
    await prepared;
    if (closing) return;
    slot.run = superviseTrainingJob({
      jobId,
      env: { ...process.env, ...options.env },
      log: (line) => log(`training ${jobId.slice(0, 8)}: ${line}`),
    });
    log(`training job ${jobId}: started process ${slot.run.child.pid}`);
    await slot.run.finished;
  };

  return {
    async launch(jobId) {
      if (running) throw new Error('A training process is already running');
      const slot: { run?: SupervisedRun; exited: Promise<void> } = { exited: Promise.resolve() };
      slot.exited = run(jobId, slot)
        .catch((error) =>
          log(`training job ${jobId}: ${error instanceof Error ? error.message : String(error)}`),
        )
        .finally(() => {
          running = undefined;
        });
      running = slot;
      return { launchedAs: 'local child process' };
    },
    async idle() {
      await running?.exited;
    },
    async close() {
      closing = true;
      running?.run?.stop('the local stack stopped');
      await running?.exited;
    },
  };
}

/** The training jobs' default dataset: seeded, so that a job started without a body finds clips. */
export const LOCAL_DATASET_PREFIX = DEFAULT_DATASET;
/** The shared TESS copy beside the repository, when this machine has one. */
const SHARED_TESS_DIR = resolve(PROJECT_ROOT, '..', 'shared', 'datasets', 'tess');

/**
 * Fills `datasets/tess/` of the local bucket from a folder when the prefix is empty. Without a folder it
 * stays empty, and a job on it fails with a message that says so (the dataset is never a hard dependency).
 */
export async function seedLocalDataset(options: {
  s3Endpoint: string;
  bucket: string;
  sourceDir: string | undefined;
  log: (line: string) => void;
}): Promise<number> {
  const source = options.sourceDir ?? (existsSync(SHARED_TESS_DIR) ? SHARED_TESS_DIR : undefined);
  if (!source) return 0;
  const s3 = fixBucketLevelPaths(
    createS3Client({
      region: LOCAL_REGION,
      s3Endpoint: options.s3Endpoint,
      credentials: { ...LOCAL_S3_CREDENTIALS },
    }),
    options.s3Endpoint,
  );
  const existing = await s3.send(
    new ListObjectsV2Command({ Bucket: options.bucket, Prefix: LOCAL_DATASET_PREFIX, MaxKeys: 1 }),
  );
  if ((existing.KeyCount ?? 0) > 0) return 0;
  const files = (await readdir(source, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && /\.(wav|flac|mp3|ogg)$/i.test(e.name))
    .map((e) => join(e.parentPath, e.name));
  // A few uploads at a time: fast enough for TESS's 2,800 clips without flooding s3rver.
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const path = files[next++]!;
      await s3.send(
        new PutObjectCommand({
          Bucket: options.bucket,
          Key: `${LOCAL_DATASET_PREFIX}${relative(source, path).split('\\').join('/')}`,
          Body: await readFile(path),
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  options.log(
    `seeded s3://${options.bucket}/${LOCAL_DATASET_PREFIX} with ${files.length} clips from ${source}`,
  );
  return files.length;
}

/**
 * The local training side of `npm start`. The dataset is seeded before the first job runs, not at
 * start-up: thousands of uploads would slow every start of the stack (and its tests) for nothing.
 */
export function startLocalTraining(options: {
  s3Endpoint: string;
  bucket: string;
  log: (line: string) => void;
}): LocalTrainingRunner {
  return createLocalTrainingRunner({
    env: {},
    log: options.log,
    beforeFirstJob: () =>
      seedLocalDataset({ ...options, sourceDir: process.env.SER_DATASET_DIR }).catch((error) =>
        options.log(`dataset seeding failed: ${error instanceof Error ? error.message : String(error)}`),
      ),
  });
}
