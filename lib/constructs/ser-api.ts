import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKeySourceType,
  AuthorizationType,
  type IApiKey,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  Period,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  INCOMING_PREFIX,
  PREDICTION_LEADING_KEYS,
  RESULTS_PREFIX,
  UPLOADS_PREFIX,
} from '../../lambdas/app/object-keys.ts';
import { API_ROUTES, CORS_PREFLIGHT } from '../../lambdas/app/routes.ts';
import { speakerPrefixFolder } from '../../lambdas/app/speaker-context.ts';
import { SPEAKER_LEADING_KEYS } from '../../lambdas/app/speaker-repository.ts';
import { FUNCTION_LOG_RETENTION, logGroupWithRetention, REQUEST_LOG_RETENTION } from '../log-retention.ts';
import { HANDLERS_DIR } from '../paths.ts';
import { faultAlarm } from './fault-alarm.ts';
import { SerFunction } from './ser-function.ts';
import { grantItems, TRAINING_AND_REGISTRY_KEYS } from './table-grants.ts';

export interface SerApiProps {
  readonly bucket: Bucket;
  readonly table: Table;
  /** The origins CORS allows: the web page's first, then any a deployer added. */
  readonly allowedOrigins: readonly string[];
  /** The drop folder's speaker prefixes, whose statistics DELETE /drop-folder/speakers/{id} erases. */
  readonly dropFolderSpeakerPrefixes?: readonly string[];
  readonly modelVersion: string;
  readonly maxUploadBytes: number;
  readonly recordTtlDays: number;
  /** How long a presigned upload URL lives (UPLOAD_URL_TTL_SEC). */
  readonly uploadUrlTtlSec: number;
  /** Days a speaker's statistics are kept after its last clip (SPEAKER_TTL_DAYS). */
  readonly speakerTtlDays: number;
  /** Each API key's throttle and quota. @default DEFAULT_USAGE_PLAN */
  readonly usagePlan?: Partial<UsagePlanLimits>;
}

export interface UsagePlanLimits {
  /** Steady-state requests per second per API key. */
  readonly rateLimit: number;
  readonly burstLimit: number;
  /** Requests per API key per day. */
  readonly dailyQuota: number;
}

/** What one API key may do unless deployed with `-c apiRateLimit` etc.: it caps what one key can cost. */
export const DEFAULT_USAGE_PLAN: UsagePlanLimits = { rateLimit: 10, burstLimit: 20, dailyQuota: 10_000 };

/** The one stage, the last segment of the API's URL (`…/v1/`). */
const STAGE_NAME = 'v1';

/** The stage's throttle, for every key together: a key's own limits above it would never apply. */
export const STAGE_THROTTLE = { rateLimit: 50, burstLimit: 100 } as const;

/**
 * The object prefixes a speaker's erasure deletes under: the uploaded audio (`uploads/`) and, for each
 * drop-folder speaker prefix, its audio and result files (`incoming/<prefix>/`, `results/<prefix>/`;
 * `*`, every top-level folder: all of `incoming/` and `results/`). No speaker prefix: no drop-folder
 * object has a speaker, so none is erasable. The grant and its cdk-nag acknowledgement both read this.
 */
export function erasableObjectPrefixes(dropFolderSpeakerPrefixes: readonly string[] = []): string[] {
  return [
    UPLOADS_PREFIX,
    ...[INCOMING_PREFIX, RESULTS_PREFIX].flatMap((root) =>
      speakerFolderPrefixes(root, dropFolderSpeakerPrefixes),
    ),
  ];
}

/** The drop folder's speaker folders under `root` (`incoming/`, `results/`); `*`: all of it; none without prefixes. */
export function speakerFolderPrefixes(
  root: string,
  dropFolderSpeakerPrefixes: readonly string[] = [],
): string[] {
  const folders = new Set(dropFolderSpeakerPrefixes.map(speakerPrefixFolder));
  return (folders.has('') ? [''] : [...folders]).map((folder) => `${root}${folder}`);
}

/**
 * DELETE /speakers/{id} (and the drop folder's): a speaker's statistics and prediction records are the
 * items this function deletes (never a training or registry item, whatever its key looks like), and the
 * objects those records name (`erasableObjectPrefixes`). The records are found with a Query on the
 * `bySpeaker` index (the table's Query grant covers its indexes). DeleteObjectVersion under the drop
 * folder's speaker folders of incoming/ only: a record's audio is deleted by the version it stores, since
 * a delete marker would hide the same file name dropped again after the erasure (speaker-erasure.ts).
 */
function grantSpeakerErasure(fn: SerFunction, props: SerApiProps, objectPrefixes: readonly string[]): void {
  grantItems(fn, props.table, ['dynamodb:DeleteItem'], {
    only: [...SPEAKER_LEADING_KEYS, ...PREDICTION_LEADING_KEYS],
    except: TRAINING_AND_REGISTRY_KEYS,
  });
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['s3:DeleteObject'],
      resources: objectPrefixes.map((p) => props.bucket.arnForObjects(`${p}*`)),
    }),
  );
  const speakerAudio = speakerFolderPrefixes(INCOMING_PREFIX, props.dropFolderSpeakerPrefixes);
  if (speakerAudio.length === 0) return;
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['s3:DeleteObjectVersion'],
      resources: speakerAudio.map((p) => props.bucket.arnForObjects(`${p}*`)),
    }),
  );
}

/** `DROP_FOLDER_SPEAKER_PREFIXES` for a function's environment, when the drop folder has speaker prefixes. */
export const speakerPrefixesEnvironment = (
  prefixes: readonly string[] | undefined,
): Record<string, string> => (prefixes?.length ? { DROP_FOLDER_SPEAKER_PREFIXES: prefixes.join(',') } : {});

/**
 * The routes the admin policy lets operators call, each as its execute-api ARN names it: method and
 * path, every path parameter (`{id}`, `{version}`) a `*`. The policy and its cdk-nag acknowledgement
 * (lib/nag-acknowledgments.ts) both read this list.
 */
export const ADMIN_ROUTE_PATHS = API_ROUTES.filter((r) => r.access === 'admin').map((r) => ({
  method: r.method,
  path: r.resource.replace(/\{[^}]+\}/g, '*'),
}));

/** API Gateway errors in the API's own `{ error: { code, message } }` shape. */
const GATEWAY_ERRORS: [ResponseType, string, string][] = [
  [ResponseType.API_CONFIGURATION_ERROR, '500', 'INTERNAL_ERROR'],
  [ResponseType.INVALID_API_KEY, '403', 'FORBIDDEN'],
  // API Gateway's answer both to an unknown path or method and to an admin (IAM) route called without a
  // SigV4 signature, such as with the user API key: the docs promise 403 for the latter, so 403 it is.
  [ResponseType.MISSING_AUTHENTICATION_TOKEN, '403', 'FORBIDDEN'],
  [ResponseType.REQUEST_TOO_LARGE, '413', 'PAYLOAD_TOO_LARGE'],
  [ResponseType.THROTTLED, '429', 'THROTTLED'],
  [ResponseType.QUOTA_EXCEEDED, '429', 'QUOTA_EXCEEDED'],
  [ResponseType.DEFAULT_4XX, '', 'REQUEST_REFUSED'],
  [ResponseType.DEFAULT_5XX, '', 'INTERNAL_ERROR'],
];

/**
 * The public REST API: one function behind every route of `API_ROUTES`, the user API key on the upload
 * and prediction routes (a usage plan throttles and caps each key), IAM auth on the admin routes,
 * nothing on /health and /openapi.json; JSON access logs.
 */
export class SerApi extends Construct {
  readonly restApi: RestApi;
  readonly function: SerFunction;
  /** Where its role may delete objects (`erasableObjectPrefixes`): what cdk-nag's acknowledgement names. */
  readonly erasableObjectPrefixes: readonly string[];
  readonly apiKey: IApiKey;
  /** Attach to the operators' IAM users or roles: it lets them call the admin routes (SigV4). */
  readonly adminPolicy: ManagedPolicy;
  /** API Gateway answered 5xx: the function failed, timed out or answered its own 500. */
  readonly serverErrorsAlarm: Alarm;

  constructor(scope: Construct, id: string, props: SerApiProps) {
    super(scope, id);
    this.erasableObjectPrefixes = erasableObjectPrefixes(props.dropFolderSpeakerPrefixes);
    this.function = this.createFunction(props);
    this.restApi = this.createRestApi(props);
    this.adminPolicy = this.addRoutes();
    this.addGatewayResponses(props.allowedOrigins);
    this.apiKey = this.addUsagePlan(props);
    this.serverErrorsAlarm = faultAlarm(this, 'ServerErrorsAlarm', {
      description:
        'The API answered 5xx: the API function failed or timed out (502, 504) or answered 500 (bad requests ' +
        "are 4xx, throttling 429, so each one is a fault). Runbook: find the requests in the API's access log " +
        "(status, requestId), then the API function's log lines of the same requestId.",
      metric: this.restApi.metricServerError({ period: Duration.minutes(5) }),
    });
  }

  /** The one function behind every route, allowed to presign only under uploads/. */
  private createFunction(props: SerApiProps): SerFunction {
    const fn = new SerFunction(this, 'ApiHandler', {
      entry: `${HANDLERS_DIR}api.ts`,
      description: 'SER REST API: presigned uploads and predictions',
      memorySize: 512,
      timeout: Duration.seconds(10),
      environment: {
        BUCKET_NAME: props.bucket.bucketName,
        TABLE_NAME: props.table.tableName,
        MAX_UPLOAD_BYTES: String(props.maxUploadBytes),
        RECORD_TTL_DAYS: String(props.recordTtlDays),
        UPLOAD_URL_TTL_SEC: String(props.uploadUrlTtlSec),
        SPEAKER_TTL_DAYS: String(props.speakerTtlDays),
        CORS_ALLOW_ORIGIN: props.allowedOrigins.join(','),
        ...speakerPrefixesEnvironment(props.dropFolderSpeakerPrefixes),
        MODEL_VERSION: props.modelVersion,
      },
    });
    // Presigned URLs carry the signer's permissions: this role may only put under uploads/.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [props.bucket.arnForObjects(`${UPLOADS_PREFIX}*`)],
      }),
    );
    // HEAD of an upload's file (never the audio's bytes are read): a PENDING upload past its deadline is
    // ended by whether its file came in time (prediction-repository.ts). No s3:ListBucket: a missing file
    // answers 403, which the repository reads as missing.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [props.bucket.arnForObjects(`${UPLOADS_PREFIX}*`)],
      }),
    );
    props.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:Query');
    // Prediction records; training jobs, the lock and the active pointer are Training.bindApi's to grant,
    // and a model version's record (the package the inference function loads) no API grant reaches.
    grantItems(fn, props.table, ['dynamodb:PutItem'], { except: TRAINING_AND_REGISTRY_KEYS });
    grantSpeakerErasure(fn, props, this.erasableObjectPrefixes);
    return fn;
  }

  /** Stage v1 with X-Ray, errors in the execution log, JSON access logs, and CORS for the web page only. */
  private createRestApi(props: SerApiProps): RestApi {
    const accessLogs = logGroupWithRetention(this, 'AccessLogs', REQUEST_LOG_RETENTION);
    const api = new RestApi(this, 'RestApi', {
      // API Gateway's metrics (the 5xx alarm's) are per API name: the stack's own, not one every copy shares.
      restApiName: Stack.of(this).stackName,
      description: 'Speech emotion recognition API',
      apiKeySourceType: ApiKeySourceType.HEADER,
      deployOptions: {
        stageName: STAGE_NAME,
        tracingEnabled: true,
        metricsEnabled: true,
        // Errors of every method in the stage's execution log (request bodies stay out: no data trace).
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: STAGE_THROTTLE.rateLimit,
        throttlingBurstLimit: STAGE_THROTTLE.burstLimit,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
      },
      defaultCorsPreflightOptions: {
        allowOrigins: [...props.allowedOrigins],
        allowMethods: [...CORS_PREFLIGHT.allowMethods],
        allowHeaders: [...CORS_PREFLIGHT.allowHeaders],
        maxAge: Duration.seconds(CORS_PREFLIGHT.maxAgeSeconds),
      },
    });
    this.addExecutionLogGroup(api);
    return api;
  }

  /**
   * API Gateway writes the stage's execution log (errors) to a group named after the API and stage that it
   * creates itself, without a retention. Created here before the stage, that group is this one: with one.
   */
  private addExecutionLogGroup(api: RestApi): void {
    const executionLogs = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${STAGE_NAME}`,
      retention: FUNCTION_LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    api.deploymentStage.node.addDependency(executionLogs);
  }

  /**
   * User routes take the API key; admin routes (training, registry) take IAM auth, which no API key
   * satisfies, so an upload user cannot start jobs or switch the live model.
   */
  private addRoutes(): ManagedPolicy {
    const integration = new LambdaIntegration(this.function);
    for (const route of API_ROUTES) {
      this.restApi.root.resourceForPath(route.resource).addMethod(route.method, integration, {
        apiKeyRequired: route.access === 'user',
        ...(route.access === 'admin' ? { authorizationType: AuthorizationType.IAM } : {}),
      });
    }
    return new ManagedPolicy(this, 'AdminPolicy', {
      description: 'SER operators: call the training-job and model routes of the API (SigV4)',
      statements: [
        new PolicyStatement({
          actions: ['execute-api:Invoke'],
          resources: ADMIN_ROUTE_PATHS.map((r) =>
            this.restApi.arnForExecuteApi(r.method, r.path, this.restApi.deploymentStage.stageName),
          ),
        }),
      ],
    });
  }

  /** API Gateway's own refusals (bad key, throttled, unknown path) in the API's error shape, with CORS. */
  private addGatewayResponses(origins: readonly string[]): void {
    // A gateway response cannot choose among origins: with several allowed it names the caller's own.
    // These answers are refusals (bad key, throttled, unknown path) and hold nothing worth hiding.
    const allowOrigin = origins.length === 1 ? `'${origins[0]}'` : 'method.request.header.origin';
    for (const [type, statusCode, code] of GATEWAY_ERRORS) {
      this.restApi.addGatewayResponse(`Gateway${type.responseType}`, {
        type,
        ...(statusCode ? { statusCode } : {}),
        responseHeaders: { 'Access-Control-Allow-Origin': allowOrigin },
        templates: {
          'application/json': `{"error":{"code":"${code}","message":$context.error.messageString}}`,
        },
      });
    }
  }

  /** The usage plan's throttle and quota, with the one key of the web page and the CLI. */
  private addUsagePlan(props: SerApiProps): IApiKey {
    const limit = (name: keyof UsagePlanLimits) => props.usagePlan?.[name] ?? DEFAULT_USAGE_PLAN[name];
    const plan = this.restApi.addUsagePlan('UsagePlan', {
      description: 'Per-key throttle and daily quota',
      throttle: { rateLimit: limit('rateLimit'), burstLimit: limit('burstLimit') },
      quota: { limit: limit('dailyQuota'), period: Period.DAY },
      apiStages: [{ api: this.restApi, stage: this.restApi.deploymentStage }],
    });
    const apiKey = this.restApi.addApiKey('DefaultApiKey', { description: 'Key for the web page and CLI' });
    plan.addApiKey(apiKey);
    return apiKey;
  }
}
