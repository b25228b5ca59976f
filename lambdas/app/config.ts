import * as z from 'zod';
import { DEFAULT_MAX_DURATION_SEC } from '../core/audio/limits.ts';
import { parseOrigins } from './cors.ts';

const MB = 1024 * 1024;
/** Largest upload accepted (the API, the presigned URL and the processor's check of GetObject's headers). */
export const DEFAULT_MAX_UPLOAD_BYTES = 25 * MB;
/** Short-lived on purpose: a leaked URL is useful for minutes, and an unused upload's record soon ends (UPLOAD_EXPIRED). */
export const DEFAULT_UPLOAD_URL_TTL_SEC = 300;
/** Days a prediction record is kept (its DynamoDB TTL); the stack keeps drop-folder results as long. */
export const DEFAULT_RECORD_TTL_DAYS = 30;
/** Days a speaker's statistics are kept after its last clip. */
export const DEFAULT_SPEAKER_TTL_DAYS = 30;

/** What the handlers and the stack's deploy settings (lib/deploy-settings.ts) both accept. */
export const UploadUrlTtlSecSchema = z.coerce.number().int().min(60).max(3600);
export const TtlDaysSchema = z.coerce.number().int().positive();

/** Variables more than one function reads, defined once. */
const SHARED_ENV = {
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** Only the local stack sets it: callbacks may then be plain http to 127.0.0.1/localhost. */
  CALLBACK_ALLOW_HTTP_LOOPBACK: z.stringbool().default(false),
};

/**
 * A drop-folder speaker prefix: `*` (every top-level folder) or folder names under `incoming/`. `*` and
 * `?` inside a name are refused: the stack writes each prefix into an IAM resource (the API's erase
 * grant), where they would be wildcards and grant more than the folder. An empty name (`calls//x`) is
 * refused too: no object key the drop folder is given would be meant by it.
 */
export const isSpeakerPrefix = (prefix: string): boolean =>
  prefix === '*' ||
  (!/[*?]/.test(prefix) &&
    !prefix
      .replace(/^\/+|\/+$/g, '')
      .split('/')
      .includes(''));
export const SPEAKER_PREFIX_RULE =
  'each prefix is * or folder names without * or ? and without an empty folder name (calls//x)';

/**
 * Drop-folder speaker prefixes as one comma-separated string, as `DROP_FOLDER_SPEAKER_PREFIXES` and
 * `ser backfill-speakers --drop-folder-speaker-prefixes` give them.
 */
export const SpeakerPrefixListSchema = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  )
  .refine((prefixes) => prefixes.every(isSpeakerPrefix), SPEAKER_PREFIX_RULE);

const EnvSchema = z.object({
  BUCKET_NAME: z.string().min(3),
  TABLE_NAME: z.string().min(3),
  AWS_REGION: SHARED_ENV.AWS_REGION,
  /** Set only off AWS (the local stack): s3rver and dynalite endpoints. */
  S3_ENDPOINT: z.url().optional(),
  DYNAMODB_ENDPOINT: z.url().optional(),
  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(DEFAULT_MAX_UPLOAD_BYTES),
  UPLOAD_URL_TTL_SEC: UploadUrlTtlSecSchema.default(DEFAULT_UPLOAD_URL_TTL_SEC),
  /** Prediction records (and their TTL) outlive the raw audio, which the bucket lifecycle expires. */
  RECORD_TTL_DAYS: TtlDaysSchema.default(DEFAULT_RECORD_TTL_DAYS),
  MAX_DURATION_SEC: z.coerce.number().positive().default(DEFAULT_MAX_DURATION_SEC),
  /** How long a PROCESSING claim blocks duplicates; past it a retry may take over (≥ the Lambda timeout). */
  PROCESSING_LEASE_SEC: z.coerce.number().int().positive().default(900),
  /** The web page's origin, then any others a deployer allows (comma-separated), for CORS on API responses. */
  CORS_ALLOW_ORIGIN: z.string().min(1).default('*').transform(parseOrigins),
  /** Where terminal predictions are announced (the CDK stack sets `default`); unset: no events. */
  EVENT_BUS_NAME: z.string().min(1).optional(),
  CALLBACK_ALLOW_HTTP_LOOPBACK: SHARED_ENV.CALLBACK_ALLOW_HTTP_LOOPBACK,
  /** The model package; default: the one beside the bundle (Lambda) or in the repository. */
  SER_MODEL_DIR: z.string().min(1).optional(),
  /** A speaker's statistics are deleted this long after its last clip (and at once by DELETE /speakers/{id}). */
  SPEAKER_TTL_DAYS: TtlDaysSchema.default(DEFAULT_SPEAKER_TTL_DAYS),
  /**
   * Drop-folder prefixes (under `incoming/`, comma-separated; `*`: every folder) whose next folder names a
   * speaker: `incoming/<prefix>/<speakerId>/<file>`. Empty (the default): the drop folder has no speakers.
   */
  DROP_FOLDER_SPEAKER_PREFIXES: z.string().default('').pipe(SpeakerPrefixListSchema),
});

export type AppConfig = Readonly<{
  bucketName: string;
  tableName: string;
  region: string;
  s3Endpoint: string | undefined;
  dynamoDbEndpoint: string | undefined;
  maxUploadBytes: number;
  uploadUrlTtlSec: number;
  recordTtlDays: number;
  maxDurationSec: number;
  processingLeaseSec: number;
  corsAllowOrigins: readonly string[];
  modelDir: string | undefined;
  speakerTtlDays: number;
  speakerFolders: readonly string[];
  callbackUrls: { allowHttpLoopback: boolean };
  eventBusName: string | undefined;
}>;

/** The API function's variables: the app's, and the version of the model its stack bundles. */
const ApiEnvSchema = EnvSchema.extend({
  /**
   * The bundled model's version (read from its package by the CDK stack and the local stack): what
   * GET /health reports while the registry has no active version, and the one version activation accepts
   * without a package in the bucket. The API function does not ship the model.
   */
  MODEL_VERSION: z.string().min(1),
});

export type ApiConfig = AppConfig & Readonly<{ modelVersion: string }>;

/** Parses a function's variables with `schema`: a missing or malformed one fails fast, by name. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid configuration: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

/** Parses the environment once (at cold start): a missing or malformed variable fails fast, by name. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): AppConfig =>
  toAppConfig(parseEnv(EnvSchema, env));

/** The API function's configuration, parsed once at its cold start: no MODEL_VERSION, no start. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const e = parseEnv(ApiEnvSchema, env);
  return Object.freeze({ ...toAppConfig(e), modelVersion: e.MODEL_VERSION });
}

function toAppConfig(e: z.output<typeof EnvSchema>): AppConfig {
  return Object.freeze({
    bucketName: e.BUCKET_NAME,
    tableName: e.TABLE_NAME,
    region: e.AWS_REGION,
    s3Endpoint: e.S3_ENDPOINT,
    dynamoDbEndpoint: e.DYNAMODB_ENDPOINT,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    uploadUrlTtlSec: e.UPLOAD_URL_TTL_SEC,
    recordTtlDays: e.RECORD_TTL_DAYS,
    maxDurationSec: e.MAX_DURATION_SEC,
    processingLeaseSec: e.PROCESSING_LEASE_SEC,
    corsAllowOrigins: Object.freeze(e.CORS_ALLOW_ORIGIN),
    modelDir: e.SER_MODEL_DIR,
    speakerTtlDays: e.SPEAKER_TTL_DAYS,
    speakerFolders: Object.freeze(e.DROP_FOLDER_SPEAKER_PREFIXES),
    callbackUrls: Object.freeze({ allowHttpLoopback: e.CALLBACK_ALLOW_HTTP_LOOPBACK }),
    eventBusName: e.EVENT_BUS_NAME,
  });
}

const CallbackEnvSchema = z
  .object({
    AWS_REGION: SHARED_ENV.AWS_REGION,
    /** On AWS: secrets are `<prefix><API key id>` in Secrets Manager (set by the CallbackDelivery construct). */
    WEBHOOK_SECRET_PREFIX: z.string().min(1).optional(),
    /** Off AWS only (the local stack): one secret for its one key. */
    WEBHOOK_SECRET: z.string().min(16).optional(),
    CALLBACK_ALLOW_HTTP_LOOPBACK: SHARED_ENV.CALLBACK_ALLOW_HTTP_LOOPBACK,
    /** Tries per invocation; the platform retries the invocation on top. */
    CALLBACK_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
    CALLBACK_BACKOFF_MS: z.coerce.number().int().min(0).default(1000),
  })
  .refine((e) => e.WEBHOOK_SECRET_PREFIX || e.WEBHOOK_SECRET, {
    message: 'set WEBHOOK_SECRET_PREFIX (AWS) or WEBHOOK_SECRET (local)',
  });

export type CallbackConfig = Readonly<{
  region: string;
  secretPrefix: string | undefined;
  staticSecret: string | undefined;
  allowHttpLoopback: boolean;
  attempts: number;
  backoffMs: number;
}>;

/** The callback deliverer's configuration, parsed once at cold start. */
export function loadCallbackConfig(env: NodeJS.ProcessEnv = process.env): CallbackConfig {
  const e = parseEnv(CallbackEnvSchema, env);
  return Object.freeze({
    region: e.AWS_REGION,
    secretPrefix: e.WEBHOOK_SECRET_PREFIX,
    staticSecret: e.WEBHOOK_SECRET,
    allowHttpLoopback: e.CALLBACK_ALLOW_HTTP_LOOPBACK,
    attempts: e.CALLBACK_ATTEMPTS,
    backoffMs: e.CALLBACK_BACKOFF_MS,
  });
}
