import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { ProcessOutcome } from '../../lambdas/app/object-processor.ts';
import { matchRoute } from '../../lambdas/app/routes.ts';
import { DEFAULT_MODEL_DIR, readModelVersion, WEB_DIR } from '../../lib/paths.ts';
import { webPageConfig } from '../../lib/web-page-config.ts';
import { deadLetterRecord } from '../replay.ts';
import { toProxyEvent } from './api-gateway-event.ts';
import { startLocalCallbacks } from './callback-runner.ts';
import { lambdaContext } from './lambda-context.ts';
import {
  ensurePredictionsTable,
  LOCAL_REGION,
  LOCAL_S3_CREDENTIALS,
  registerBundledModel,
  type S3rverEvent,
  startLocalDynamoDb,
  startLocalS3,
} from './local-aws.ts';
import { createLocalEventBus } from './local-event-bus.ts';
import { createEventQueue, toNotification } from './s3-event-bridge.ts';
import { readStaticFile } from './static-files.ts';
import { startLocalTraining } from './training-runner.ts';

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
  /** Signs callbacks (HMAC-SHA256); the local stack has one key, so one secret. @default local-webhook-secret */
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
  modelVersion: string;
  /** Where events that failed every retry are written, in Lambda's on-failure destination format. */
  deadLetterDir: string;
  /** The default bus's stand-in: one EventBridge event per line, for every terminal prediction. */
  eventsFile: string;
  webhookSecret: string;
  /** Resolves when every S3 event so far has been processed and its callback delivered or dead-lettered. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
type ProcessHandler = (event: unknown, context: Context) => Promise<unknown>;

const MAX_BODY_BYTES = 1024 * 1024;
const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares keys in constant time (over fixed-length digests, so the length leaks nothing either). */
const apiKeyMatches = (given: string | undefined, expected: string): boolean =>
  given !== undefined && timingSafeEqual(digest(given), digest(expected));

function sendJson(res: ServerResponse, statusCode: number, body: unknown): void {
  res.writeHead(statusCode, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The body as text, or `null` when it is over the limit (API Gateway refuses those too). */
async function readBody(req: IncomingMessage): Promise<string | undefined | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : undefined;
}

/**
 * The whole product on this machine: dynalite (on disk) and s3rver (on disk, SigV4-checked) under the
 * data folder, the same Lambda handlers as in AWS fed with the same event shapes, an API Gateway-like
 * adapter that enforces x-api-key, and the web page. The handlers read their configuration from the
 * environment at import, exactly as in Lambda, so the environment is set before they are imported.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const tableName = options.tableName ?? 'predictions';
  const adminKey = options.adminKey ?? randomUUID();
  const dataDir = resolve(options.dataDir);
  await mkdir(join(dataDir, 's3'), { recursive: true });
  await mkdir(join(dataDir, 'dynamodb'), { recursive: true });
  const deadLetterDir = join(dataDir, 'dlq');
  const eventsFile = join(dataDir, 'events.jsonl');
  const webhookSecret = options.webhookSecret ?? 'local-webhook-secret';

  // The API server listens first (answering 503 until ready) so that its origin is known for S3's CORS.
  let apiHandler: ApiHandler | undefined;
  const server = createServer((req, res) => {
    handleHttp(req, res).catch((error) => {
      log(`API adapter error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent)
        sendJson(res, 500, { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } });
      else res.destroy();
    });
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const apiUrl = `http://${options.host}:${(server.address() as AddressInfo).port}`;

  const dynamo = await startLocalDynamoDb({
    directory: join(dataDir, 'dynamodb'),
    host: options.host,
    port: options.dynamoDbPort,
  });
  await ensurePredictionsTable(dynamo.endpoint, tableName);
  const s3 = await startLocalS3({
    directory: join(dataDir, 's3'),
    bucket: options.bucket,
    host: options.host,
    port: options.s3Port,
    corsOrigins: [apiUrl, apiUrl.replace('127.0.0.1', 'localhost')],
  });

  const modelDir = process.env.SER_MODEL_DIR ?? DEFAULT_MODEL_DIR;
  const modelVersion = readModelVersion(modelDir);
  // What the stack's deploy-time registration does on AWS: the bundled model is the first version.
  await registerBundledModel({ endpoint: dynamo.endpoint, tableName, modelDir });
  Object.assign(process.env, {
    BUCKET_NAME: options.bucket,
    TABLE_NAME: tableName,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    S3_ENDPOINT: s3.endpoint,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    MODEL_VERSION: modelVersion,
    CORS_ALLOW_ORIGIN: apiUrl,
    // Locally a new activation is followed at the next event (a GetItem on dynalite is cheap).
    MODEL_REFRESH_SEC: process.env.MODEL_REFRESH_SEC ?? '0',
    // The stack prints its own one-line logs; the handlers' JSON logs and EMF metrics stay quiet.
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    // Callbacks: to this machine over plain http is fine here (never on AWS); retries scaled down.
    CALLBACK_ALLOW_HTTP_LOOPBACK: 'true',
    WEBHOOK_SECRET: webhookSecret,
    CALLBACK_BACKOFF_MS: process.env.CALLBACK_BACKOFF_MS ?? '250',
  });
  const processModule = await import('../../lambdas/handlers/process-object.ts');
  const processHandler: ProcessHandler = processModule.handler;
  // EventBridge's stand-in: events to a file, and the callback rule to the same delivery handler.
  const callbacks = await startLocalCallbacks({ deadLetterDir: join(deadLetterDir, 'callbacks'), log });
  processModule.usePredictionEvents(createLocalEventBus({ file: eventsFile, onEvent: callbacks.route }));
  const apiModule = await import('../../lambdas/handlers/api.ts');
  // EC2's stand-in: training jobs run as child processes of this stack, one at a time.
  const training = startLocalTraining({ s3Endpoint: s3.endpoint, bucket: options.bucket, log });
  apiModule.useTrainingLauncher(training);
  apiHandler = apiModule.handler;

  const queue = createEventQueue((event) => processHandler(event, lambdaContext('process-object')), {
    onDelivered: (_event, outcomes) => {
      for (const outcome of outcomes as ProcessOutcome[]) options.onProcessed?.(outcome);
      for (const o of outcomes as {
        outcome: string;
        id?: string;
        prediction?: Record<string, unknown>;
        reason?: string;
      }[]) {
        const p = o.prediction;
        const detail = p
          ? p.status === 'SUCCEEDED'
            ? `${p.emotion} (${Number(p.confidence).toFixed(2)})`
            : `${(p.error as { code: string }).code}`
          : (o.reason ?? '');
        log(
          `processed ${p?.fileName ?? ''} → ${o.outcome.toUpperCase()} ${detail} [${o.id ?? ''}]`.replace(
            /\s+/g,
            ' ',
          ),
        );
      }
    },
    onFailed: (_event, error, attempt) =>
      log(
        `processing failed (attempt ${attempt}/3): ${error instanceof Error ? error.message : String(error)}`,
      ),
    // As Lambda's on-failure destination: the event is kept for `ser replay`, never dropped.
    onExhausted: async (event, error, attempts) => {
      await mkdir(deadLetterDir, { recursive: true });
      const file = join(
        deadLetterDir,
        `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.json`,
      );
      await writeFile(file, JSON.stringify(deadLetterRecord(event, error, attempts), null, 2));
      log(
        `dead-lettered after ${attempts} attempts → ${file} (fix the cause, then: npx ser replay ${file} --s3-endpoint ${s3.endpoint} --dynamodb-endpoint ${dynamo.endpoint} --bucket ${options.bucket} --table ${tableName})`,
      );
    },
  });
  s3.server.on('event', (event: S3rverEvent) => {
    const notification = toNotification(event);
    if (notification) queue.push(notification);
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', apiUrl);
    res.on('finish', () =>
      log(
        `${method} ${url.pathname}${url.search} ${res.statusCode} ${(performance.now() - started).toFixed(0)} ms`,
      ),
    );

    // A GET that is not an API route is a file of the web page (CloudFront's part on AWS).
    if (method === 'GET' && !matchRoute(method, url.pathname).route) {
      if (url.pathname === '/config.json') return sendJson(res, 200, webPageConfig(''));
      const file = await readStaticFile(WEB_DIR, url.pathname);
      if (file) {
        res.writeHead(200, { 'Content-Type': file.type, 'Cache-Control': 'no-cache' });
        res.end(file.body);
        return;
      }
    }
    if (!apiHandler)
      return sendJson(res, 503, { error: { code: 'STARTING', message: 'The stack is starting' } });

    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
    if (body === null) {
      return sendJson(res, 413, {
        error: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is over 1 MB' },
      });
    }
    const built = toProxyEvent({
      method,
      url: req.url ?? '/',
      headers: req.headers,
      body,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    });
    if (!built.ok)
      return sendJson(res, built.statusCode, { error: { code: built.code, message: built.message } });
    // The same routes and credentials API Gateway is built from (lambdas/app/routes.ts): each route takes
    // its own credential only, as on AWS (a user key, or admin IAM auth), 403 otherwise.
    const access = built.route.access;
    const expected = access === 'admin' ? adminKey : options.apiKey;
    if (access !== 'public' && !apiKeyMatches(built.event.headers['x-api-key'], expected)) {
      return sendJson(res, 403, {
        error: {
          code: 'FORBIDDEN',
          message:
            access === 'admin'
              ? 'Forbidden: this route needs the admin credential (x-api-key: SER_ADMIN_KEY locally)'
              : 'Forbidden: missing or invalid x-api-key',
        },
      });
    }
    const result = await apiHandler(built.event, lambdaContext('api'));
    res.writeHead(result.statusCode, result.headers as Record<string, string>);
    res.end(result.body);
  }

  let closing: Promise<void> | undefined;
  return {
    apiUrl,
    webUrl: `${apiUrl}/`,
    s3Endpoint: s3.endpoint,
    dynamoDbEndpoint: dynamo.endpoint,
    bucket: options.bucket,
    apiKey: options.apiKey,
    adminKey,
    dataDir,
    modelVersion,
    deadLetterDir,
    eventsFile,
    webhookSecret,
    idle: async () => {
      await queue.idle();
      await callbacks.idle();
    },
    close() {
      closing ??= (async () => {
        const closed = once(server, 'close');
        server.close();
        server.closeAllConnections();
        await closed;
        await training.close();
        await s3.close();
        await queue.idle();
        await callbacks.idle();
        await dynamo.close();
      })();
      return closing;
    },
  };
}
