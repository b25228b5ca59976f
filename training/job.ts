/**
 * One training job, start to end, exactly as the EC2 instance's user data and the local runner run it:
 * dataset prefix (S3) → temp folder → `npm run train` (the developers' command) → package uploaded to
 * `models/<version>/` → registered → activated per the job's policy → job record SUCCEEDED or FAILED.
 * Progress (one line per epoch) is copied into the job record as it comes.
 *
 * Usage: TRAINING_JOB_ID=<id> BUCKET_NAME=… TABLE_NAME=… [S3_ENDPOINT=… DYNAMODB_ENDPOINT=…] tsx training/job.ts
 * `SER_TRAINING_EXTRA_ARGS` adds options to the train command (tests: a tiny network).
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createDocumentClient, createS3Client } from '../lambdas/app/aws-clients.ts';
import { loadConfig } from '../lambdas/app/config.ts';
import { decideActivation } from '../lambdas/training/activation-policy.ts';
import { type TrainingJob, TrainingJobRepository } from '../lambdas/training/job-repository.ts';
import { fixBucketLevelPaths } from '../lambdas/training/local-s3-listing.ts';
import { ModelRegistry } from '../lambdas/training/model-registry.ts';

const PROJECT_ROOT = resolve(import.meta.dirname, '..');
/** The epoch line the trainer logs with --no-progress: `tess-random/lstm epoch 3: loss … acc … val acc 0.812 F1 …`. */
const EPOCH_LINE = /epoch (\d+): loss \S+ acc \S+ val acc ([\d.]+|NaN)/;
const AUGMENT_COPIES = 2;

export class TrainingJobError extends Error {
  override readonly name = 'TrainingJobError';
}

async function downloadPrefix(s3: S3Client, bucket: string, prefix: string, dir: string): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key || object.Key.endsWith('/')) continue;
      const target = join(dir, relative(prefix, object.Key));
      await mkdir(dirname(target), { recursive: true });
      const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      await writeFile(target, await Body!.transformToByteArray());
      count++;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return count;
}

async function uploadFolder(s3: S3Client, bucket: string, dir: string, prefix: string): Promise<void> {
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}${relative(dir, path).split('\\').join('/')}`,
        Body: createReadStream(path),
        ContentLength: (await stat(path)).size,
      }),
    );
  }
}

/** Runs `npm run train`, calling `onEpoch` per epoch line; rejects with the last lines of output on failure. */
function runTrainCommand(
  args: string[],
  onEpoch: (epoch: number, valAccuracy: number) => void,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npm', ['run', '--silent', 'train', '--', ...args], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onLine = (line: string) => {
      process.stdout.write(`${line}\n`);
      tail.push(line);
      if (tail.length > 5) tail.shift();
      const match = EPOCH_LINE.exec(line);
      if (match) onEpoch(Number(match[1]), Number(match[2]));
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolvePromise()
        : reject(new TrainingJobError(`training exited with code ${code}: ${tail.join(' | ')}`)),
    );
  });
}

export async function runTrainingJob(
  jobId: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TrainingJob> {
  const config = loadConfig(env);
  const s3 = fixBucketLevelPaths(createS3Client(config), config.s3Endpoint);
  const documents = createDocumentClient(config);
  const jobs = new TrainingJobRepository(documents, config);
  const registry = new ModelRegistry(documents, config);
  const job = await jobs.get(jobId);
  if (!job) throw new TrainingJobError(`No training job ${jobId}`);

  const work = await mkdtemp(join(tmpdir(), `ser-training-${jobId}-`));
  try {
    await jobs.update(jobId, {
      status: 'RUNNING',
      progress: { epoch: 0, epochs: job.epochs, valAccuracy: 0 },
    });
    const dataDir = join(work, 'data');
    const clips = await downloadPrefix(s3, config.bucketName, job.dataset, dataDir);
    if (clips === 0) {
      throw new TrainingJobError(
        `The dataset prefix s3://${config.bucketName}/${job.dataset} is empty: upload the TESS clips there first`,
      );
    }
    const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
    const version = `tess-${stamp}-${jobId.slice(0, 8)}`;
    const packageDir = join(work, 'package');
    // Progress writes are chained so they land in order and the last one is awaited before SUCCEEDED.
    let progressWrites = Promise.resolve();
    await runTrainCommand(
      [
        '--data',
        dataDir,
        '--corpora',
        'tess',
        '--out',
        packageDir,
        '--epochs',
        String(job.epochs),
        '--augment-copies',
        String(job.augment ? AUGMENT_COPIES : 0),
        '--model-version',
        version,
        '--cache',
        join(work, 'cache'),
        '--no-progress',
        ...(env.SER_TRAINING_EXTRA_ARGS ?? '').split(' ').filter(Boolean),
      ],
      (epoch, valAccuracy) => {
        progressWrites = progressWrites.then(() =>
          jobs.update(jobId, {
            progress: {
              epoch,
              epochs: job.epochs,
              valAccuracy: Number.isFinite(valAccuracy) ? valAccuracy : 0,
            },
          }),
        );
      },
    );
    await progressWrites;

    const metadata = JSON.parse(await readFile(join(packageDir, 'metadata.json'), 'utf8')) as {
      version: string;
      sha256: string;
      metrics: Record<string, unknown>;
    };
    const prefix = `models/${metadata.version}/`;
    await uploadFolder(s3, config.bucketName, packageDir, prefix);
    const candidate = { version: metadata.version, metrics: metadata.metrics };
    await registry.register({
      ...candidate,
      source: 'trained',
      sha256: metadata.sha256,
      location: `s3://${config.bucketName}/${prefix}`,
      trainingJobId: jobId,
      createdAt: new Date().toISOString(),
    });

    const pointer = await registry.getActive();
    const active = pointer ? await registry.get(pointer.version) : undefined;
    const decision = decideActivation(job.activate, candidate, active);
    if (decision.activate)
      await registry.activate(candidate.version, { expectedCurrent: pointer?.version ?? null });
    await jobs.update(jobId, {
      status: 'SUCCEEDED',
      modelVersion: candidate.version,
      metrics: candidate.metrics,
      activated: decision.activate,
      activationReason: decision.reason,
    });
  } catch (error) {
    await jobs.update(jobId, {
      status: 'FAILED',
      error: error instanceof Error ? error.message : String(error),
    });
  } finally {
    await jobs.releaseLock(jobId);
    await rm(work, { recursive: true, force: true });
  }
  return (await jobs.get(jobId))!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const jobId = process.env.TRAINING_JOB_ID ?? process.argv[2];
  if (!jobId) {
    process.stderr.write('usage: TRAINING_JOB_ID=<id> tsx training/job.ts\n');
    process.exit(2);
  }
  const finished = await runTrainingJob(jobId);
  process.stdout.write(
    `training job ${jobId}: ${finished.status}${finished.error ? ` (${finished.error})` : ''}\n`,
  );
  process.exit(finished.status === 'SUCCEEDED' ? 0 : 1);
}
