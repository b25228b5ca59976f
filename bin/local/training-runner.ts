import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PutObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { createDocumentClient, createS3Client } from '../../lambdas/app/aws-clients.ts';
import { loadConfig } from '../../lambdas/app/config.ts';
import { DATASETS_ROOT, DEFAULT_DATASET } from '../../lambdas/app/object-keys.ts';
import { isTerminalJobStatus } from '../../lambdas/app/training-schemas.ts';
import { TrainingJobRepository } from '../../lambdas/training/job-repository.ts';
import type { TrainingLauncher } from '../../lambdas/training/launcher.ts';
import { fixBucketLevelPaths } from '../../lambdas/training/local-s3-listing.ts';
import { defaultDatasetDir } from '../../training/datasets.ts';
import { markFailed, type SupervisedRun, superviseTrainingJob } from '../../training/job-supervisor.ts';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from './local-aws.ts';

/** The setting naming the folder the local stack seeds `datasets/` from. */
export const DATASET_ROOT_SETTING = 'SER_DATASET_DIR';

/** The folder the stack seeds from, and whether it is there now (a missing one seeds nothing). */
export interface LocalDatasetRoot {
  dir: string;
  exists: boolean;
}

export interface LocalTrainingRunner extends TrainingLauncher {
  /** Resolves when the running job's process (if any) has exited and its end is recorded. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** How long a new job waits for the previous job's process to exit after it recorded its end. */
const PREVIOUS_EXIT_WAIT_MS = 30_000;

/** Resolves when `slot`'s process has exited, or after `ms` (whichever is first). */
function exitOf(slot: { exited: Promise<void> }, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([slot.exited, waited]).finally(() => clearTimeout(timer));
}

/** What the local runner adds to a job's process: its environment and the stack's dataset seeding. */
interface LocalRunnerOptions {
  env: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /**
   * Run before each job's process starts (the dataset seeding): every time, not once, so that `seeds`
   * stays true to its word after a failed seeding or for a folder added to the dataset root since.
   */
  beforeEachJob?: () => Promise<unknown>;
  /** Whether `beforeEachJob` would put anything under a dataset prefix (still empty in the bucket). */
  seeds?: (prefix: string) => Promise<boolean>;
  /** How `beforeEachJob` could fill an empty prefix, for the DATASET_EMPTY message. */
  emptyDatasetHint?: (prefix: string) => string;
}

/**
 * The local stand-in for the EC2 training instance: the same supervisor (`training/job-supervisor.ts`)
 * runs `training/job.ts` as a child process with the local stack's endpoints in its environment, and
 * records FAILED if that process dies. One at a time (the job lock already says so; this is the belt to
 * its braces). Like an instance booting, the process may start after `launch` returns (the job stays
 * QUEUED until then).
 */
export function createLocalTrainingRunner(options: LocalRunnerOptions): LocalTrainingRunner {
  const log = options.log ?? (() => {});
  let running: { run?: SupervisedRun; exited: Promise<void> } | undefined;
  let closing = false;

  const env = () => ({ ...process.env, ...options.env });
  const run = async (jobId: string, slot: { run?: SupervisedRun }) => {
    await options.beforeEachJob?.();
    // Stopped while seeding: no process will record this job's end, so it is recorded here.
    if (closing) return markFailed(jobId, env(), 'the local stack stopped before the job started');
    slot.run = superviseTrainingJob({
      jobId,
      env: env(),
      log: (line) => log(`training ${jobId.slice(0, 8)}: ${line}`),
    });
    log(`training job ${jobId}: started process ${slot.run.child.pid}`);
    await slot.run.finished;
  };

  return {
    seeds: async (prefix) => (await options.seeds?.(prefix)) ?? false,
    emptyDatasetHint: (prefix) => options.emptyDatasetHint?.(prefix),
    async launch(jobId) {
      // The job lock admitted this job, so a process still here has recorded its end and is only exiting
      // (freeing the lock, removing its work folder): wait for it, boundedly, instead of refusing the job
      // with a 503 (what a test starting the next job at once saw on a loaded machine).
      if (running) await exitOf(running, PREVIOUS_EXIT_WAIT_MS);
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

/**
 * Ends the jobs an earlier local stack on this data folder left QUEUED or RUNNING (its process was killed,
 * or the terminal closed): FAILED, and the one-job lock freed, instead of a 409 until their deadline two
 * hours on. Only the local stack runs local jobs and it holds the data folder (data-dir-lock.ts), so a job
 * not yet ended at its start has no process left. The handlers' environment must be set (loadConfig).
 */
export async function endOrphanedJobs(log: (line: string) => void): Promise<void> {
  const config = loadConfig();
  const doc = createDocumentClient(config);
  try {
    const jobs = new TrainingJobRepository(doc, config);
    for (const job of await jobs.list()) {
      if (isTerminalJobStatus(job.status)) continue;
      await jobs.recordFailure(job.id, 'the local stack running it stopped (killed, or its terminal closed)');
      await jobs.releaseLock(job.id);
      log(`training job ${job.id}: was ${job.status} when the last stack stopped; recorded FAILED`);
    }
  } finally {
    doc.destroy();
  }
}

/** The training jobs' default dataset (`datasets/tess/`): seeded, so that a job started without a body finds clips. */
export const LOCAL_DATASET_PREFIX = DEFAULT_DATASET;

interface SeedOptions {
  s3Endpoint: string;
  bucket: string;
  sourceDir: string | undefined;
  log: (line: string) => void;
}

/** The root seeding reads (its setting, else ../shared/datasets) and whether it is there now. */
function datasetRoot(options: Pick<SeedOptions, 'sourceDir'>): LocalDatasetRoot {
  const dir = options.sourceDir ?? defaultDatasetDir();
  return { dir, exists: existsSync(dir) };
}

/**
 * The DATASET_EMPTY message's local way out: the root's folder that seeds `prefix`, and the setting that
 * names the root (whether or not it exists, so that a user without ../shared/datasets learns what to set).
 */
function emptyDatasetHint(options: Pick<SeedOptions, 'sourceDir'>, prefix: string): string {
  const root = datasetRoot(options);
  const folder = join(root.dir, prefix.slice(DATASETS_ROOT.length));
  const state = root.exists ? '' : ', which does not exist';
  return (
    `or put them in ${folder}: before each job the local stack copies its dataset root ` +
    `${DATASET_ROOT_SETTING} (now ${root.dir}${state}) to ${DATASETS_ROOT}`
  );
}

/**
 * What seeding would upload: the dataset root's files (`SER_DATASET_DIR`, default `../shared/datasets`,
 * as for `npm run train`) not yet under their key (`tess/x.wav` → `datasets/tess/x.wav`). Without the
 * folder, nothing.
 */
async function pendingSeeds(options: SeedOptions) {
  const { dir: root, exists } = datasetRoot(options);
  if (!options.sourceDir && !exists) return undefined;
  const s3 = fixBucketLevelPaths(
    createS3Client({
      region: LOCAL_REGION,
      s3Endpoint: options.s3Endpoint,
      credentials: { ...LOCAL_S3_CREDENTIALS },
    }),
    options.s3Endpoint,
  );
  const keyOf = (path: string) => `${DATASETS_ROOT}${relative(root, path).split('\\').join('/')}`;
  const files = await unseededFiles(s3, options.bucket, root, keyOf);
  return { s3, root, files, keyOf };
}

/**
 * Seeds `datasets/` of the local bucket from a dataset root: each of its folders (`tess/`, `ravdess/`, …)
 * to its own prefix, `datasets/<folder>/`, every file not there yet. Without the folder
 * nothing is seeded, and a job on an empty prefix is refused with a message that says so (never a hard
 * dependency).
 */
export async function seedLocalDataset(options: SeedOptions): Promise<number> {
  const pending = await pendingSeeds(options);
  if (!pending) return 0;
  const { s3, root, files, keyOf } = pending;
  // A few uploads at a time: fast enough for the corpora's thousands of clips without flooding s3rver.
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const path = files[next++]!;
      await s3.send(
        new PutObjectCommand({ Bucket: options.bucket, Key: keyOf(path), Body: await readFile(path) }),
      );
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker)).finally(() => s3.destroy());
  if (files.length > 0)
    options.log(`seeded s3://${options.bucket}/${DATASETS_ROOT} with ${files.length} clips from ${root}`);
  return files.length;
}

/**
 * Whether seeding would put something under `prefix`: such a prefix is not refused as empty (the seeding
 * runs before each job, not at start-up or on the API's request).
 */
export async function seedsPrefix(options: SeedOptions, prefix: string): Promise<boolean> {
  const pending = await pendingSeeds(options);
  pending?.s3.destroy();
  return pending?.files.some((path) => pending.keyOf(path).startsWith(prefix)) ?? false;
}

/**
 * The root's audio files (and `labels.csv` files, which label a folder of one's own clips) that are not
 * yet under their key in the bucket: every file of a new folder, and whatever an interrupted seeding
 * (Ctrl-C, an s3rver error) or a file added to the root since left out.
 */
async function unseededFiles(
  s3: S3Client,
  bucket: string,
  root: string,
  keyOf: (path: string) => string,
): Promise<string[]> {
  const files = (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && (/\.(wav|flac|aiff?|mp3|ogg)$/i.test(e.name) || e.name === 'labels.csv'))
    .map((e) => join(e.parentPath, e.name));
  const prefixOf = (path: string) => keyOf(path).replace(/^(datasets\/(?:[^/]+\/)?).*$/, '$1');
  const stored = new Set<string>();
  for (const prefix of new Set(files.map(prefixOf))) {
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
      for (const object of page.Contents ?? []) if (object.Key) stored.add(object.Key);
    }
  }
  return files.filter((path) => !stored.has(keyOf(path)));
}

/**
 * The local training side of `npm start`. The dataset is seeded before each job runs, not at start-up:
 * thousands of uploads would slow every start of the stack (and its tests) for nothing. After the first
 * job a seeding only looks (a readdir and a listing of each folder's keys) unless a file is missing.
 */
export function startLocalTraining(options: {
  s3Endpoint: string;
  bucket: string;
  log: (line: string) => void;
}): LocalTrainingRunner & { datasetRoot: LocalDatasetRoot } {
  const seeding = { ...options, sourceDir: process.env[DATASET_ROOT_SETTING] };
  const runner = createLocalTrainingRunner({
    env: {},
    log: options.log,
    beforeEachJob: () =>
      seedLocalDataset(seeding).catch((error) =>
        options.log(`dataset seeding failed: ${error instanceof Error ? error.message : String(error)}`),
      ),
    seeds: (prefix) => seedsPrefix(seeding, prefix).catch(() => false),
    emptyDatasetHint: (prefix) => emptyDatasetHint(seeding, prefix),
  });
  // As at start-up, for the banner.
  return { ...runner, datasetRoot: datasetRoot(seeding) };
}
