import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../lambdas/app/config.ts';
import type { ProcessOutcome } from '../../lambdas/app/object-processor.ts';
import type { BundledModelPublished } from '../../lambdas/training/bundled-model.ts';
import { DEFAULT_MODEL_DIR } from '../../lib/paths.ts';
import { printable } from '../printable.ts';
import { type ApiHandler, startApiAdapter } from './api-adapter.ts';
import { startLocalCallbacks } from './callback-runner.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { DEFAULT_WEBHOOK_SECRET } from './defaults.ts';
import {
  ensurePredictionsTable,
  LOCAL_REGION,
  LOCAL_S3_CREDENTIALS,
  type LocalS3,
  registerBundledModel,
  type S3rverEvent,
  startLocalDynamoDb,
  startLocalS3,
} from './local-aws.ts';
import { createLocalEventBus } from './local-event-bus.ts';
import {
  createProcessingQueue,
  type ProcessHandler,
  type ProcessingQueueOptions,
} from './processing-queue.ts';
import { toNotification } from './s3-event-bridge.ts';
import { endOrphanedJobs, type LocalDatasetRoot, startLocalTraining } from './training-runner.ts';
import { requeueUnfinished } from './unfinished-uploads.ts';

export interface LocalStackOptions {
  host: string;
  port: number;
  s3Port: number;
  dynamoDbPort: number;
  bucket: string;
  apiKey: string;
  /**
   * The operators' credential for training jobs and the model registry (x-api-key on those routes).
   * @default a random key (nobody can call the admin routes)
   */
  adminKey?: string;
  dataDir: string;
  tableName?: string;
  /** Origins CORS allows beside the web page's (SER_CORS_ORIGINS), as `-c allowedOrigins` on AWS. */
  extraAllowedOrigins?: readonly string[];
  /** Signs callbacks (HMAC-SHA256); the local stack has one key, so one secret. @default DEFAULT_WEBHOOK_SECRET */
  webhookSecret?: string;
  log?: (line: string) => void;
  /** Every outcome of the inference handler (the load test counts processing per id with it). */
  onProcessed?: (outcome: ProcessOutcome) => void;
}

export interface LocalStack {
  apiUrl: string;
  webUrl: string;
  s3Endpoint: string;
  dynamoDbEndpoint: string;
  bucket: string;
  apiKey: string;
  adminKey: string;
  dataDir: string;
  /** The registry's active version when the stack started: the model that answers. */
  modelVersion: string;
  /** The bundled package (`SER_MODEL_DIR`, else models/ser-lstm): where it was stored, what became active and why. */
  bundledModel: BundledModelPublished;
  /** Where events that failed every retry are written, in Lambda's on-failure destination format. */
  deadLetterDir: string;
  /** The default bus's stand-in: one EventBridge event per line, for every terminal prediction. */
  eventsFile: string;
  webhookSecret: string;
  /** The folder training jobs' datasets are seeded from (SER_DATASET_DIR), as found at start-up. */
  datasetRoot: LocalDatasetRoot;
  /** Resolves when every S3 event so far has been processed and its callback delivered or dead-lettered. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface DataPaths {
  dataDir: string;
  deadLetterDir: string;
  eventsFile: string;
  /** The bundled version the last start registered: the local stand-in for OldResourceProperties. */
  bundledModelFile: string;
  /** The table's items while a start rebuilds it for a new index; there only if that start crashed. */
  tableDumpFile: string;
}

/** The data folder: S3's and DynamoDB's files, the dead letters and the events file live under it. */
export function dataPaths(dir: string): DataPaths {
  const dataDir = resolve(dir);
  return {
    dataDir,
    deadLetterDir: join(dataDir, 'dlq'),
    eventsFile: join(dataDir, 'events.jsonl'),
    bundledModelFile: join(dataDir, 'bundled-model.json'),
    tableDumpFile: join(dataDir, 'table-upgrade-dump.json'),
  };
}

async function prepareDataDir(dir: string): Promise<DataPaths> {
  const paths = dataPaths(dir);
  await mkdir(join(paths.dataDir, 's3'), { recursive: true });
  await mkdir(join(paths.dataDir, 'dynamodb'), { recursive: true });
  return paths;
}

/**
 * dynalite with the predictions table, s3rver allowing the page's origin, and the bundled model stored and
 * registered as the stack's deployment does on AWS. If the registration refuses (a version registered
 * with another sha256), both servers are closed again and the error says why.
 */
async function startLocalAws(
  options: LocalStackOptions,
  paths: DataPaths,
  tableName: string,
  apiUrl: string,
) {
  const dynamo = await startLocalDynamoDb({
    directory: join(paths.dataDir, 'dynamodb'),
    host: options.host,
    port: options.dynamoDbPort,
  });
  await ensurePredictionsTable(dynamo.endpoint, tableName, paths.tableDumpFile);
  const s3 = await startLocalS3({
    directory: join(paths.dataDir, 's3'),
    bucket: options.bucket,
    host: options.host,
    port: options.s3Port,
    corsOrigins: [apiUrl, apiUrl.replace('127.0.0.1', 'localhost'), ...(options.extraAllowedOrigins ?? [])],
  });
  const modelDir = DEFAULT_MODEL_DIR;
  try {
    const bundled = await registerBundledModel({
      dynamoDbEndpoint: dynamo.endpoint,
      s3Endpoint: s3.endpoint,
      bucket: options.bucket,
      tableName,
      modelDir,
      previousFile: paths.bundledModelFile,
    });
    return { dynamo, s3, bundled };
  } catch (error) {
    await s3.close();
    await dynamo.close();
    throw error;
  }
}

/**
 * The handlers' environment, as the CDK stack sets it, pointed at the local servers (a local `ser replay`
 * sets the same; it has no API origin).
 */
export function setHandlerEnvironment(
  env: { bucket: string; tableName: string; modelVersion: string; webhookSecret: string },
  endpoints: { s3: string; dynamoDb: string; api?: string; extraOrigins?: readonly string[] },
): void {
  Object.assign(process.env, {
    BUCKET_NAME: env.bucket,
    TABLE_NAME: env.tableName,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    S3_ENDPOINT: endpoints.s3,
    DYNAMODB_ENDPOINT: endpoints.dynamoDb,
    MODEL_VERSION: env.modelVersion,
    ...(endpoints.api
      ? { CORS_ALLOW_ORIGIN: [endpoints.api, ...(endpoints.extraOrigins ?? [])].join(',') }
      : {}),
    // Locally a new activation is followed at the next event (a GetItem on dynalite is cheap).
    MODEL_REFRESH_SEC: process.env.MODEL_REFRESH_SEC ?? '0',
    // The stack prints its own one-line logs; the handlers' JSON logs and EMF metrics stay quiet.
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    // Callbacks: to this machine over plain http is fine here (never on AWS); retries scaled down.
    CALLBACK_ALLOW_HTTP_LOOPBACK: 'true',
    WEBHOOK_SECRET: env.webhookSecret,
    CALLBACK_BACKOFF_MS: process.env.CALLBACK_BACKOFF_MS ?? '250',
  });
}

/**
 * EventBridge's stand-in: terminal predictions appended to the events file, and the callback rule to the
 * delivery handler (whose dead letters go to `<dead-letter dir>/callbacks/`). Reads the environment.
 */
export async function startLocalAnnouncements(options: {
  deadLetterDir: string;
  eventsFile: string;
  log: (line: string) => void;
}) {
  const callbacks = await startLocalCallbacks({
    deadLetterDir: join(options.deadLetterDir, 'callbacks'),
    log: options.log,
  });
  return { bus: createLocalEventBus({ file: options.eventsFile, onEvent: callbacks.route }), callbacks };
}

/**
 * The same Lambda handlers as on AWS, imported after the environment is set (they read it at import),
 * with the local stand-ins plugged in: EventBridge (events to a file, the callback rule to the delivery
 * handler) and EC2 (training jobs as child processes of this stack, one at a time).
 */
async function loadHandlers(options: {
  deadLetterDir: string;
  eventsFile: string;
  s3Endpoint: string;
  bucket: string;
  log: (line: string) => void;
}) {
  const { log } = options;
  const processModule = await import('../../lambdas/handlers/process-object.ts');
  const { bus, callbacks } = await startLocalAnnouncements(options);
  processModule.usePredictionEvents(bus);
  const deadLetterModule = await import('../../lambdas/handlers/dead-letter.ts');
  deadLetterModule.usePredictionEvents(bus);
  const deadLetter = deadLetterModule.handler as unknown as ProcessHandler;
  const apiModule = await import('../../lambdas/handlers/api.ts');
  await endOrphanedJobs(log);
  const training = startLocalTraining({ s3Endpoint: options.s3Endpoint, bucket: options.bucket, log });
  apiModule.useTrainingLauncher(training);
  const processObject: ProcessHandler = processModule.handler;
  const api: ApiHandler = apiModule.handler;
  return { processObject, deadLetter, api, callbacks, training };
}

/** `ser replay` of a dead-letter file into this stack; it announces in this data folder, with this secret. */
function replayCommand(dataDir: string, webhookSecret: string, target: string) {
  const secret = webhookSecret === DEFAULT_WEBHOOK_SECRET ? '' : ` SER_WEBHOOK_SECRET=${webhookSecret}`;
  return (file: string) => `SER_DATA_DIR=${dataDir}${secret} npx ser replay ${file} ${target}`;
}

/** S3's events → the inference handler, retried and dead-lettered as Lambda's asynchronous invocations are. */
function processS3Events(
  s3: LocalS3['server'],
  handlers: { processObject: ProcessHandler; deadLetter: ProcessHandler },
  options: Omit<ProcessingQueueOptions, 'processHandler' | 'deadLetterHandler'>,
) {
  const queue = createProcessingQueue({
    ...options,
    processHandler: handlers.processObject,
    deadLetterHandler: handlers.deadLetter,
  });
  // The keys of live events: the start-up reconciliation leaves them to their own event.
  const queued = new Set<string>();
  s3.on('event', (event: S3rverEvent) => {
    const notification = toNotification(event);
    for (const record of event.Records) queued.add(record.s3.object.key);
    if (notification) queue.push(notification);
  });
  return { ...queue, queued };
}

/**
 * The data folder claimed (data-dir-lock.ts), then the API adapter, dynalite and s3rver: what started is
 * stopped again, and the folder released, when a later step fails.
 */
async function startServers(
  options: LocalStackOptions,
  paths: DataPaths,
  tableName: string,
  adminKey: string,
  log: (line: string) => void,
) {
  const unlock = await lockDataDir(paths.dataDir, log);
  // The API adapter listens first (answering 503 until ready) so that its origin is known for S3's CORS.
  const adapter = await startApiAdapter({ ...options, adminKey, log }).catch(async (error: unknown) => {
    await unlock();
    throw error;
  });
  const aws = await startLocalAws(options, paths, tableName, adapter.apiUrl).catch(async (error: unknown) => {
    await adapter.close();
    await unlock();
    throw error;
  });
  return { unlock, adapter, ...aws };
}

/**
 * The handlers' environment set from the started servers (they read it at import, as in Lambda), the
 * handlers loaded, and the API handed to the adapter with the configuration they parsed.
 */
async function serveHandlers(
  options: LocalStackOptions,
  paths: DataPaths,
  servers: Awaited<ReturnType<typeof startServers>>,
  settings: { tableName: string; webhookSecret: string; log: (line: string) => void },
) {
  const { adapter, dynamo, s3, bundled } = servers;
  setHandlerEnvironment(
    {
      bucket: options.bucket,
      tableName: settings.tableName,
      modelVersion: bundled.version,
      webhookSecret: settings.webhookSecret,
    },
    {
      s3: s3.endpoint,
      dynamoDb: dynamo.endpoint,
      api: adapter.apiUrl,
      extraOrigins: options.extraAllowedOrigins,
    },
  );
  const handlers = await loadHandlers({
    ...paths,
    s3Endpoint: s3.endpoint,
    bucket: options.bucket,
    log: settings.log,
  });
  adapter.serve(handlers.api, loadConfig(), s3.endpoint);
  return handlers;
}

/**
 * The whole product on this machine: dynalite (on disk) and s3rver (on disk, SigV4-checked) under the
 * data folder, the same Lambda handlers as in AWS fed with the same event shapes, an API Gateway-like
 * adapter that enforces x-api-key, and the web page. The handlers read their configuration from the
 * environment at import, exactly as in Lambda, so the environment is set before they are imported.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const sink = options.log ?? ((line: string) => console.log(line));
  // Lines quote file names, keys and URLs the clients chose: their control characters are shown escaped.
  const log = (line: string) => sink(printable(line));
  const tableName = options.tableName ?? 'predictions';
  const adminKey = options.adminKey ?? randomUUID();
  const webhookSecret = options.webhookSecret ?? DEFAULT_WEBHOOK_SECRET;
  const paths = await prepareDataDir(options.dataDir);
  const servers = await startServers(options, paths, tableName, adminKey, log);
  const { unlock, adapter, dynamo, s3 } = servers;
  const handlers = await serveHandlers(options, paths, servers, { tableName, webhookSecret, log }).catch(
    async (error: unknown) => {
      // Started, then failed: nothing may keep running, or keep the data folder.
      await adapter.close();
      await s3.close();
      await dynamo.close();
      await unlock();
      throw error;
    },
  );

  const queue = processS3Events(s3.server, handlers, {
    deadLetterDir: paths.deadLetterDir,
    replayCommand: replayCommand(
      paths.dataDir,
      webhookSecret,
      `--s3-endpoint ${s3.endpoint} --dynamodb-endpoint ${dynamo.endpoint} --bucket ${options.bucket} --table ${tableName}`,
    ),
    log,
    onProcessed: options.onProcessed,
  });
  // The last stack's queue was in memory only: what it left undone (killed) is fed to this one.
  await requeueUnfinished({ bucket: options.bucket, push: queue.push, queued: queue.queued, log });

  const { idle, close } = lifecycle({ adapter, handlers, queue, s3, dynamo, unlock });
  return {
    apiUrl: adapter.apiUrl,
    webUrl: `${adapter.apiUrl}/`,
    s3Endpoint: s3.endpoint,
    dynamoDbEndpoint: dynamo.endpoint,
    bucket: options.bucket,
    apiKey: options.apiKey,
    adminKey,
    ...paths,
    modelVersion: servers.bundled.activation.active,
    bundledModel: servers.bundled,
    webhookSecret,
    datasetRoot: handlers.training.datasetRoot,
    idle,
    close,
  };
}

/** Idle: nothing processing, no callback in flight. Close (once, however often called): in dependency order. */
function lifecycle(parts: {
  adapter: { close(): Promise<void> };
  handlers: { training: { close(): Promise<void> }; callbacks: { idle(): Promise<void> } };
  queue: { idle(): Promise<void> };
  s3: { close(): Promise<void> };
  dynamo: { close(): Promise<void> };
  /** Releases the data folder (data-dir-lock.ts), last. */
  unlock(): Promise<void>;
}) {
  const idle = async () => {
    await parts.queue.idle();
    await parts.handlers.callbacks.idle();
  };
  const closeAll = async () => {
    await parts.adapter.close();
    await parts.handlers.training.close();
    // Files being processed still need S3: closing it first dead-lettered an upload caught by Ctrl-C.
    await parts.queue.idle();
    await parts.s3.close();
    await idle();
    await parts.dynamo.close();
    await parts.unlock();
  };
  let closing: Promise<void> | undefined;
  return {
    idle,
    close: () => {
      closing ??= closeAll();
      return closing;
    },
  };
}
