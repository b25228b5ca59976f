/**
 * One training job, start to end, in this process: dataset prefix (S3) → temp folder → the training
 * pipeline (`trainPackage`, the code behind `npm run train`, progress through its `onEpoch` callback) →
 * package uploaded to `models/<version>/` → registered → candidate and active model scored on the same
 * held-out clips → activated per the job's policy → job record SUCCEEDED or FAILED, lock freed.
 *
 * It is run by `training/job-supervisor.ts` (on EC2 and locally), which records FAILED if this process
 * dies before recording its end.
 *
 * Usage: TRAINING_JOB_ID=<id> BUCKET_NAME=… TABLE_NAME=… [S3_ENDPOINT=… DYNAMODB_ENDPOINT=…] tsx training/job.ts
 * `SER_TRAINING_SETTINGS` (JSON, e.g. `{"units":8}`) overrides model settings (tests: a tiny network).
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { GetObjectCommand, PutObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { createDocumentClient, createS3Client } from '../lambdas/app/aws-clients.ts';
import { type AppConfig, loadConfig } from '../lambdas/app/config.ts';
import { METADATA_FILE } from '../lambdas/core/model/location.ts';
import { BUNDLED_MODEL_DIR } from '../lambdas/core/predict.ts';
import { decideActivation, type ModelComparison } from '../lambdas/training/activation-policy.ts';
import { emptyDatasetMessage } from '../lambdas/training/dataset-prefix.ts';
import {
  type DatasetSummary,
  JobIdSchema,
  type TrainingJob,
  TrainingJobRepository,
} from '../lambdas/training/job-repository.ts';
import { fixBucketLevelPaths } from '../lambdas/training/local-s3-listing.ts';
import {
  ModelRegistry,
  modelPackagePrefix,
  parseS3Location,
  s3Location,
} from '../lambdas/training/model-registry.ts';
import { type Corpus, type DatasetScan, datasetProblems, scanDataset } from './datasets.ts';
import { compareModels } from './model-comparison.ts';
import {
  chooseHeldOutSpeakers,
  DEFAULTS,
  packageVersion,
  type TrainPackageResult,
  trainPackage,
} from './pipeline.ts';

export class TrainingJobError extends Error {
  override readonly name = 'TrainingJobError';
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;

/** Lists in the job record are capped (a DynamoDB item holds 400 KB); the counts are always whole. */
const LIST_CAP = 50;

interface JobContext {
  config: AppConfig;
  s3: S3Client;
  jobs: TrainingJobRepository;
  registry: ModelRegistry;
  env: NodeJS.ProcessEnv;
}

function createJobContext(env: NodeJS.ProcessEnv): JobContext {
  const config = loadConfig(env);
  const documents = createDocumentClient(config);
  return {
    config,
    env,
    s3: fixBucketLevelPaths(createS3Client(config), config.s3Endpoint),
    jobs: new TrainingJobRepository(documents, config),
    registry: new ModelRegistry(documents, config),
  };
}

async function downloadPrefix(s3: S3Client, bucket: string, prefix: string, dir: string): Promise<number> {
  let count = 0;
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const object of page.Contents ?? []) {
      if (!object.Key || object.Key.endsWith('/')) continue;
      const target = join(dir, relative(prefix, object.Key));
      await mkdir(dirname(target), { recursive: true });
      const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      await writeFile(target, await Body!.transformToByteArray());
      count++;
    }
  }
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

/** Downloads the dataset prefix and scans it: which corpora, and what the job record must list. */
async function fetchDataset(ctx: JobContext, job: TrainingJob, dataDir: string) {
  const { bucketName, s3Endpoint } = ctx.config;
  const files = await downloadPrefix(ctx.s3, bucketName, job.dataset, dataDir);
  if (files === 0) {
    // The API refuses an empty prefix before launching: this one emptied since, or was never seeded (locally).
    throw new TrainingJobError(
      emptyDatasetMessage({ bucket: bucketName, endpoint: s3Endpoint }, job.dataset),
    );
  }
  const scan = await scanDataset(dataDir);
  const corpora = [...new Set(scan.clips.map((c) => c.corpus))].sort() as Corpus[];
  return { scan, corpora, heldOutSpeakers: chooseHeldOutSpeakers(scan.clips) };
}

function summarise(
  data: Awaited<ReturnType<typeof fetchDataset>>,
  trained: TrainPackageResult | undefined,
): DatasetSummary {
  const { scan, corpora, heldOutSpeakers } = data;
  return {
    corpora,
    clips: scan.clips.length,
    speakers: new Set(scan.clips.map((c) => c.speaker)).size,
    heldOutSpeakers,
    ...datasetProblems(scan, trained?.dataset.failed ?? [], LIST_CAP),
  };
}

/** Model settings a deployment (or a test) overrides for every job, as JSON. */
function settingsOverride(env: NodeJS.ProcessEnv): Partial<typeof DEFAULTS.settings> {
  return env.SER_TRAINING_SETTINGS ? JSON.parse(env.SER_TRAINING_SETTINGS) : {};
}

/** The pipeline in this process; each epoch of the main model lands in the job's progress. */
async function trainCandidate(
  ctx: JobContext,
  job: TrainingJob,
  data: Awaited<ReturnType<typeof fetchDataset>>,
  work: string,
): Promise<TrainPackageResult> {
  const augmentCopies = job.augment ? DEFAULTS.augmentCopies : 0;
  // Each epoch's progress write is awaited by the trainer before the next epoch: in order, while it runs.
  return trainPackage({
    dataDir: join(work, 'data'),
    corpora: data.corpora,
    outDir: join(work, 'package'),
    featureConfig: DEFAULTS.featureConfig,
    windowSec: DEFAULTS.windowSec,
    seed: DEFAULTS.seed,
    augmentCopies,
    augmentation: DEFAULTS.augmentation,
    // The same recipe as `npm run train` (channel copies, TESS copies and word subset next to RAVDESS).
    channelCopies: job.augment ? DEFAULTS.channelCopies : 0,
    channel: DEFAULTS.channel,
    corpusCopies: job.augment ? DEFAULTS.corpusCopies : undefined,
    tessWords: DEFAULTS.tessWords,
    settings: {
      ...DEFAULTS.settings,
      epochs: job.epochs,
      augment: augmentCopies > 0,
      ...settingsOverride(ctx.env),
    },
    heldOutSpeakers: data.heldOutSpeakers,
    experiments: [],
    experimentEpochs: DEFAULTS.experimentEpochs,
    progress: false,
    // The comparison below runs the deployed predictor on the held-out clips already.
    predictorCheck: false,
    cacheDir: join(work, 'cache'),
    version: packageVersion(data.corpora, new Date(), job.id.slice(0, 8)),
    command: `training job ${job.id} on s3://${ctx.config.bucketName}/${job.dataset}`,
    onEpoch: (record, { member, members }) => {
      const progress = {
        epoch: record.epoch,
        epochs: job.epochs,
        // Not finite: no validation clips to measure on, so none is reported rather than a 0.
        ...(Number.isFinite(record.valAccuracy) ? { valAccuracy: record.valAccuracy } : {}),
        member,
        members,
      };
      return ctx.jobs.update(job.id, { progress });
    },
  });
}

/** Uploads the package to `models/<version>/` and registers it. */
async function publishCandidate(ctx: JobContext, job: TrainingJob, trained: TrainPackageResult, dir: string) {
  const { version, sha256, metrics } = trained.metadata;
  const prefix = modelPackagePrefix(version);
  await uploadFolder(ctx.s3, ctx.config.bucketName, dir, prefix);
  await ctx.registry.register({
    version,
    metrics,
    source: 'trained',
    sha256,
    location: s3Location(ctx.config.bucketName, prefix),
    trainingJobId: job.id,
    createdAt: new Date().toISOString(),
  });
  return { version, metrics };
}

/**
 * The active model's package in a local folder: the bundled one from this source tree when it is that
 * very package, any other from its registered S3 location (sha256 checked against the registry; bundled
 * versions are stored there too since deployments store them), or why it is not available.
 */
export async function fetchActivePackage(
  ctx: Pick<JobContext, 'registry' | 's3'>,
  version: string,
  work: string,
): Promise<{ version: string; dir: string } | { version: string; error: string }> {
  const record = await ctx.registry.get(version);
  if (!record) return { version, error: 'not in the registry' };
  const bundled = await readJson<{ version: string; sha256: string }>(
    join(BUNDLED_MODEL_DIR, METADATA_FILE),
  ).catch(() => undefined);
  if (bundled?.version === version && bundled.sha256 === record.sha256)
    return { version, dir: BUNDLED_MODEL_DIR };
  const location = parseS3Location(record.location ?? '');
  if (!location)
    return {
      version,
      error: `no S3 location, and ${version} is not the bundled package of this source tree`,
    };
  const dir = join(work, 'active');
  await downloadPrefix(ctx.s3, location.bucket, location.prefix, dir);
  const metadata = await readJson<{ sha256?: string }>(join(dir, METADATA_FILE));
  if (metadata.sha256 !== record.sha256)
    return { version, error: 'its package does not match the registered sha256' };
  return { version, dir };
}

/** Scores both models on the same clips, applies the policy and, if it says so, activates. */
async function judgeCandidate(
  ctx: JobContext,
  job: TrainingJob,
  candidate: { version: string; dir: string; metrics: Record<string, unknown> },
  scan: DatasetScan,
  work: string,
) {
  const pointer = await ctx.registry.getActive();
  const active = pointer ? await fetchActivePackage(ctx, pointer.version, work) : undefined;
  let comparison: ModelComparison | undefined;
  let comparisonError: string | undefined;
  try {
    comparison = await compareModels({ candidateDir: candidate.dir, active, scan });
  } catch (error) {
    comparisonError = error instanceof Error ? error.message : String(error);
  }
  const tested = Object.keys(candidate.metrics).length > 0;
  const decision = decideActivation(job.activate, comparison, pointer?.version, tested);
  if (decision.activate)
    await ctx.registry.activate(candidate.version, { expectedCurrent: pointer?.version ?? null });
  return {
    comparison,
    decision: comparisonError
      ? { ...decision, reason: `${decision.reason} (comparison failed: ${comparisonError})` }
      : decision,
  };
}

/** Runs the job and records its end; never throws for a failure of the job itself. */
export async function runTrainingJob(
  jobId: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TrainingJob> {
  const ctx = createJobContext(env);
  const job = await ctx.jobs.get(jobId);
  if (!job) throw new TrainingJobError(`No training job ${jobId}`);
  const work = await mkdtemp(join(tmpdir(), `ser-training-${jobId}-`));
  let data: Awaited<ReturnType<typeof fetchDataset>> | undefined;
  try {
    await ctx.jobs.update(jobId, {
      status: 'RUNNING',
      // No valAccuracy: nothing is measured until the first epoch ends.
      progress: { epoch: 0, epochs: job.epochs },
    });
    data = await fetchDataset(ctx, job, join(work, 'data'));
    await ctx.jobs.update(jobId, { datasetSummary: summarise(data, undefined) });
    const trained = await trainCandidate(ctx, job, data, work);
    const packageDir = join(work, 'package');
    const candidate = await publishCandidate(ctx, job, trained, packageDir);
    const { comparison, decision } = await judgeCandidate(
      ctx,
      job,
      { ...candidate, dir: packageDir },
      data.scan,
      work,
    );
    await ctx.jobs.update(jobId, {
      status: 'SUCCEEDED',
      modelVersion: candidate.version,
      metrics: candidate.metrics,
      datasetSummary: summarise(data, trained),
      ...(comparison ? { comparison } : {}),
      activated: decision.activate,
      activationReason: decision.reason,
    });
  } catch (error) {
    await ctx.jobs.recordFailure(jobId, error instanceof Error ? error.message : String(error));
  } finally {
    await ctx.jobs.releaseLock(jobId);
    await rm(work, { recursive: true, force: true });
  }
  return (await ctx.jobs.get(jobId))!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const given = JobIdSchema.safeParse(process.env.TRAINING_JOB_ID ?? process.argv[2]);
  if (!given.success) {
    process.stderr.write(
      'usage: TRAINING_JOB_ID=<id> tsx training/job.ts (an id: 1-64 letters, digits, _ or -)\n',
    );
    process.exit(2);
  }
  const jobId = given.data;
  const finished = await runTrainingJob(jobId);
  process.stdout.write(
    `training job ${jobId}: ${finished.status}${finished.error ? ` (${finished.error})` : ''}\n`,
  );
  process.exit(finished.status === 'SUCCEEDED' ? 0 : 1);
}
