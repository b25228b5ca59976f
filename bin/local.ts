import * as z from 'zod';
import { checkedOrigins, parseOrigins } from '../lambdas/app/cors.ts';
import { ModelError } from '../lambdas/core/errors.ts';
import { ModelVersionConflictError } from '../lambdas/training/model-registry.ts';
import { DataDirInUseError } from './local/data-dir-lock.ts';
import { DEFAULT_DATA_DIR, DEFAULT_WEBHOOK_SECRET } from './local/defaults.ts';
import { startLocalStack } from './local/stack.ts';
import {
  DATASET_ROOT_SETTING,
  LOCAL_DATASET_PREFIX,
  type LocalDatasetRoot,
} from './local/training-runner.ts';

/** `npm start`: the whole product on this machine. Every default can be overridden by environment. */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  S3_PORT: z.coerce.number().int().min(0).max(65_535).default(4569),
  DYNAMODB_PORT: z.coerce.number().int().min(0).max(65_535).default(4567),
  BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')
    .default('ser-audio'),
  SER_API_KEY: z.string().min(8).default('local-dev-key'),
  /** Training jobs and model activation: not for upload users (sent as x-api-key on those routes). */
  SER_ADMIN_KEY: z.string().min(8).default('local-admin-key'),
  SER_DATA_DIR: z.string().min(1).default(DEFAULT_DATA_DIR),
  HOST: z.string().default('127.0.0.1'),
  SER_WEBHOOK_SECRET: z.string().min(16).default(DEFAULT_WEBHOOK_SECRET),
  /** Front ends beside the web page that may call the API and upload (CORS), comma-separated. */
  SER_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return checkedOrigins(parseOrigins(value), 'SER_CORS_ORIGINS');
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
});

const parsed = EnvSchema.safeParse(process.env);
if (!parsed.success) {
  console.error(`Invalid settings:\n${z.prettifyError(parsed.error)}`);
  process.exit(2);
}
const env = parsed.data;
const time = () => new Date().toISOString().slice(11, 19);

/** The stack, or exit 1 with the reason when the bundled package cannot be registered (as a deploy fails). */
async function start() {
  try {
    return await startLocalStack({
      host: env.HOST,
      port: env.PORT,
      s3Port: env.S3_PORT,
      dynamoDbPort: env.DYNAMODB_PORT,
      bucket: env.BUCKET,
      apiKey: env.SER_API_KEY,
      adminKey: env.SER_ADMIN_KEY,
      dataDir: env.SER_DATA_DIR,
      webhookSecret: env.SER_WEBHOOK_SECRET,
      extraAllowedOrigins: env.SER_CORS_ORIGINS,
      log: (line) => console.log(`${time()} ${line}`),
    });
  } catch (error) {
    console.error(`Not started: ${whyNotStarted(error)}`);
    process.exit(1);
  }
}

/** The one line a start that failed for a known reason prints; anything else is a bug: its stack. */
function whyNotStarted(error: unknown): string {
  if (error instanceof ModelVersionConflictError || error instanceof ModelError) return error.message;
  if (error instanceof DataDirInUseError) return error.message;
  const { code, port, address } = error as { code?: string; port?: number; address?: string };
  if (code === 'EADDRINUSE')
    return `port ${port} on ${address} is in use (another local stack?): set PORT, S3_PORT or DYNAMODB_PORT`;
  throw error;
}

/** A missing dataset root seeds nothing: said at start, not only when a job is refused. */
function missingDatasetRoot({ datasetRoot, bucket }: { datasetRoot: LocalDatasetRoot; bucket: string }) {
  if (datasetRoot.exists) return [];
  return [
    `Datasets: ${datasetRoot.dir} does not exist, so no training job is seeded from it: set ${DATASET_ROOT_SETTING} to a folder of corpora (tess/, ravdess/, …) or upload clips to s3://${bucket}/datasets/`,
  ];
}

const stack = await start();
const { bundledModel } = stack;
console.log(
  [
    `SER local stack — model ${stack.modelVersion}, data in ${stack.dataDir}`,
    `Bundled:  ${bundledModel.version} in ${bundledModel.location}  (${bundledModel.activation.reason})`,
    `API:      ${stack.apiUrl}  (OpenAPI at ${stack.apiUrl}/openapi.json)`,
    `Web page: ${stack.webUrl}`,
    `S3:       ${stack.s3Endpoint}  bucket ${stack.bucket}  (access key S3RVER, secret S3RVER)`,
    `API key:  ${stack.apiKey}  (header x-api-key)`,
    `Admin key: ${stack.adminKey}  (header x-api-key, or npx ser admin --admin-key; the admin routes only: training, models, drop-folder speakers; SER_ADMIN_KEY)`,
    `DynamoDB: ${stack.dynamoDbEndpoint}`,
    `Events:   ${stack.eventsFile}  (one EventBridge event per finished prediction)`,
    `Callbacks: signed with SER_WEBHOOK_SECRET=${stack.webhookSecret}  (POST /uploads {"callbackUrl": …})`,
    `Drop folder: AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${stack.s3Endpoint} s3 cp clip.wav s3://${stack.bucket}/incoming/clip.wav`,
    `Training: npx ser admin train --api ${stack.apiUrl} --admin-key ${stack.adminKey}  (dataset s3://${stack.bucket}/${LOCAL_DATASET_PREFIX}, seeded before each job from the dataset root ${DATASET_ROOT_SETTING}, default ../shared/datasets, now ${stack.datasetRoot.dir}: tess/ → datasets/tess/, ravdess/ → datasets/ravdess/)`,
    ...missingDatasetRoot(stack),
    'Ctrl-C stops everything.',
  ].join('\n'),
);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${time()} ${signal}: stopping…`);
  await stack.close();
  console.log(`${time()} stopped`);
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
// The terminal closed: stop as for Ctrl-C, so a training job under way is recorded FAILED.
process.on('SIGHUP', () => void stop('SIGHUP'));
