import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { SnsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type Bucket, EventType } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { LambdaSubscription, SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEAD_LETTER_RETENTION_DAYS, EVENT_MAX_AGE_HOURS } from '../../lambdas/app/failure-path.ts';
import {
  INCOMING_PREFIX,
  PREDICTION_LEADING_KEYS,
  RESULTS_PREFIX,
  TRIGGER_PREFIXES,
  UPLOADS_PREFIX,
} from '../../lambdas/app/object-keys.ts';
import { BUNDLED_MODEL_FOLDER, modelRuntimeFiles } from '../../lambdas/core/model/location.ts';
import { INFERENCE_NODE_MODULES } from '../lambda-bundling.ts';
import { HANDLERS_DIR } from '../paths.ts';
import { faultAlarm } from './fault-alarm.ts';
import { bindPredictionEvents } from './prediction-event-bus.ts';
import { speakerFolderPrefixes, speakerPrefixesEnvironment } from './ser-api.ts';
import { SerFunction } from './ser-function.ts';
import { grantItems, TRAINING_AND_REGISTRY_KEYS } from './table-grants.ts';

export interface InferenceProps {
  readonly bucket: Bucket;
  readonly table: Table;
  /** The model package folder shipped in the asset. */
  readonly modelDir: string;
  /**
   * Chosen with `npm run bench`'s cost estimate (bin/bench-cost.ts, README "Cost on AWS"): the work per
   * event is single-threaded CPU and Lambda's CPU share grows with memory up to one vCPU at 1769 MB, so
   * GB-seconds per prediction come out about the same at 512, 1024 and 1769 MB while the time per event
   * falls ~3.5× from 512 to 1769 MB (and init, cold start included, runs on a full core). More than
   * 1769 MB buys nothing for one thread. Peak RSS stays far below (~210–320 MB). @default 1769
   */
  readonly memorySize?: number;
  /** Far above the slowest measured run (~2 s for 600 s of audio), so only a hang times out. @default 60 s */
  readonly timeout?: Duration;
  /**
   * Caps parallel invocations (and cost) under a burst of uploads. `null` reserves none: needed on a new
   * account whose concurrency quota is 10, where any reservation is refused.
   * @default DEFAULT_INFERENCE_RESERVED_CONCURRENCY
   */
  readonly reservedConcurrency?: number | null;
  readonly maxUploadBytes: number;
  readonly recordTtlDays: number;
  /** Days a speaker's statistics are kept after its last clip (SPEAKER_TTL_DAYS). */
  readonly speakerTtlDays: number;
  /** Drop-folder prefixes whose next folder names a speaker (`*`: every folder). @default none */
  readonly dropFolderSpeakerPrefixes?: readonly string[];
}

/** Parallel inference invocations unless deployed with `-c inferenceReservedConcurrency`. */
export const DEFAULT_INFERENCE_RESERVED_CONCURRENCY = 10;

/**
 * The asset: the bundle, the model package's run-time files (not its report or development runs),
 * fvad's wasm, onnxruntime's linux/x64 binary only and the
 * lazily loaded MP4/WebM decoder packages (lib/lambda-bundling.ts).
 */
const inferenceBundling = (modelDir: string): BundlingOptions => ({
  // Installed beside the bundle by npm, onnxruntime-node without its CUDA download (the install runs in
  // a temp folder that does not read our .npmrc).
  nodeModules: [...INFERENCE_NODE_MODULES],
  environment: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir, outputDir) => [
      `mkdir -p "${outputDir}/${BUNDLED_MODEL_FOLDER}"`,
      ...modelRuntimeFiles(modelDir).map(
        (file) => `cp "${modelDir}/${file}" "${outputDir}/${BUNDLED_MODEL_FOLDER}/"`,
      ),
      // fvad-wasm loads fvad.wasm relative to its module, which in the bundle is index.mjs.
      `cp "${inputDir}/node_modules/@echogarden/fvad-wasm/fvad.wasm" "${outputDir}/"`,
      // Lambda is linux/x64 only: drop the other platforms' binaries (~240 MB).
      `find "${outputDir}/node_modules/onnxruntime-node/bin" -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} +`,
      `find "${outputDir}/node_modules/onnxruntime-node/bin" -mindepth 3 -maxdepth 3 -type d ! -name x64 -exec rm -rf {} +`,
      `echo "[ser] inference asset unzipped: $(du -sm "${outputDir}" | cut -f1) MB (limit 60 MB)" >&2`,
    ],
  },
});

/**
 * The S3-triggered inference function: ObjectCreated under uploads/ and incoming/ (never results/,
 * where it writes, so it cannot trigger itself), two async retries, then the event goes to a DLQ with
 * an alarm. Its grants are only the prefixes it reads and writes and the two table calls it makes.
 */
export class Inference extends Construct {
  readonly function: SerFunction;
  readonly deadLetterQueue: Queue;
  readonly deadLetterAlarm: Alarm;
  /** The recorder failed every try: its records stay PENDING or PROCESSING until their events are replayed. */
  readonly recorderErrorsAlarm: Alarm;
  /** The function threw (an infrastructure fault): before the retries and the DLQ, the first sign. */
  readonly errorsAlarm: Alarm;
  /** Events wait for a free instance (reserved concurrency) for a quarter of an hour: predictions come late. */
  readonly throttlesAlarm: Alarm;
  /** The inference function's on-failure destination: fans out to the DLQ and the dead-letter recorder. */
  readonly failureTopic: Topic;
  /** Ends the records of a dead-lettered event FAILED (PROCESSING_FAILED). */
  readonly deadLetterRecorder: SerFunction;
  /**
   * The drop folder's speaker folders under incoming/, where both functions delete an erased speaker's
   * objects whose events come after the erasure (`bindDropFolderSpeakers`); what cdk-nag's acknowledgement names.
   */
  readonly speakerObjectPrefixes: readonly string[];
  /** The speaker folders' result files (`results/<prefix>/`): the recorder's to delete. */
  readonly speakerResultPrefixes: readonly string[];

  constructor(scope: Construct, id: string, props: InferenceProps) {
    super(scope, id);
    this.speakerObjectPrefixes = speakerFolderPrefixes(INCOMING_PREFIX, props.dropFolderSpeakerPrefixes);
    this.speakerResultPrefixes = speakerFolderPrefixes(RESULTS_PREFIX, props.dropFolderSpeakerPrefixes);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    // Encrypted at rest with the AWS-managed SNS key: its key policy lets principals of this account use it
    // through SNS only, so the publisher (the inference role) needs no KMS permission and no key policy is
    // ours to get wrong; a customer-managed key would add kms:GenerateDataKey/Decrypt grants and $1/month.
    this.failureTopic = new Topic(this, 'ProcessingFailures', {
      enforceSSL: true,
      masterKey: Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
    });
    this.deadLetterRecorder = this.createFailurePath(props);
    this.function = this.createProcessFunction(props);
    this.subscribeToObjects(props);
    this.deadLetterAlarm = this.createDeadLetterAlarm();
    [this.errorsAlarm, this.throttlesAlarm] = this.createFunctionAlarms();
    this.recorderErrorsAlarm = faultAlarm(this, 'DeadLetterRecorderErrors', {
      description:
        'The dead-letter recorder failed to end records FAILED (PROCESSING_FAILED): they stay PENDING or ' +
        'PROCESSING. Runbook: read its log, fix the cause, then replay the DLQ (stack output ReplayCommand), ' +
        'which ends each record one way or the other.',
      metric: this.deadLetterRecorder.metricErrors({ period: Duration.minutes(5) }),
    });
  }

  /**
   * After the last retry the event goes to a topic, not straight to the queue: the queue keeps it for
   * `ser replay` (raw delivery: the same record Lambda would have put there), and a small function ends
   * its records FAILED, so no upload stays PROCESSING whatever killed the function.
   */
  private createFailurePath(props: InferenceProps): SerFunction {
    this.failureTopic.addSubscription(
      new SqsSubscription(this.deadLetterQueue, { rawMessageDelivery: true }),
    );
    const recorder = new SerFunction(this, 'DeadLetterRecorder', {
      entry: `${HANDLERS_DIR}dead-letter.ts`,
      description: 'Ends the prediction records of dead-lettered S3 events FAILED (PROCESSING_FAILED)',
      memorySize: 256,
      timeout: Duration.seconds(30),
      environment: {
        BUCKET_NAME: props.bucket.bucketName,
        TABLE_NAME: props.table.tableName,
      },
    });
    // The records it ends carry their speaker (a drop-folder speaker's folder), as the processor's do.
    this.bindDropFolderSpeakers(recorder, props);
    // UpdateItem creates an item it does not find: never one of the registry's or the training side's.
    // GetItem on the same items (what UpdateItem's return values show anyway): markFailed reads a record
    // whose condition refused the update (it had already ended), and the speakers' erasure markers.
    grantItems(recorder, props.table, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], {
      except: TRAINING_AND_REGISTRY_KEYS,
    });
    // A drop-folder object's FAILED result file, where the folder's readers wait for it.
    recorder.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [props.bucket.arnForObjects(`${RESULTS_PREFIX}*`)],
      }),
    );
    if (this.speakerObjectPrefixes.length > 0) {
      // Whether the key still holds the event's bytes (HeadObject needs GetObject; ListBucket makes a gone
      // object 404, not 403), under the speaker folders only.
      recorder.addToRolePolicy(
        new PolicyStatement({
          actions: ['s3:GetObject'],
          resources: this.speakerObjectPrefixes.map((p) => props.bucket.arnForObjects(`${p}*`)),
        }),
      );
      recorder.addToRolePolicy(
        new PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.bucket.bucketArn] }),
      );
      // The result file it wrote for a clip whose speaker was erased meanwhile (`undoIfErasedMeanwhile`).
      recorder.addToRolePolicy(
        new PolicyStatement({
          actions: ['s3:DeleteObject'],
          resources: this.speakerResultPrefixes.map((p) => props.bucket.arnForObjects(`${p}*`)),
        }),
      );
    }
    // It announces the records it ends FAILED, as the processor does.
    bindPredictionEvents(this, 'RecorderBus', recorder);
    this.failureTopic.addSubscription(new LambdaSubscription(recorder));
    return recorder;
  }

  private createProcessFunction(props: InferenceProps): SerFunction {
    const timeout = props.timeout ?? Duration.seconds(60);
    const fn = new SerFunction(this, 'ProcessObject', {
      entry: `${HANDLERS_DIR}process-object.ts`,
      description: 'Speech emotion recognition for audio objects created under uploads/ and incoming/',
      memorySize: props.memorySize ?? 1769,
      timeout,
      ...(props.reservedConcurrency === null
        ? {}
        : {
            reservedConcurrentExecutions: props.reservedConcurrency ?? DEFAULT_INFERENCE_RESERVED_CONCURRENCY,
          }),
      retryAttempts: 2,
      maxEventAge: Duration.hours(EVENT_MAX_AGE_HOURS),
      onFailure: new SnsDestination(this.failureTopic),
      environment: {
        BUCKET_NAME: props.bucket.bucketName,
        TABLE_NAME: props.table.tableName,
        MAX_UPLOAD_BYTES: String(props.maxUploadBytes),
        RECORD_TTL_DAYS: String(props.recordTtlDays),
        SPEAKER_TTL_DAYS: String(props.speakerTtlDays),
        // A claim outlives one attempt, so only a crashed attempt's retry can take it over.
        PROCESSING_LEASE_SEC: String(timeout.toSeconds() + 60),
      },
      bundling: inferenceBundling(props.modelDir.replace(/\/$/, '')),
    });
    // Its records carry their speaker; it reads the erasure markers with its table-wide GetItem.
    this.bindDropFolderSpeakers(fn, props);
    return fn;
  }

  /**
   * A function that reads the drop folder's speaker folders: the prefixes in its environment and, with
   * them, DeleteObject and DeleteObjectVersion under those folders of incoming/ only, for an erased
   * speaker's object whose event comes after the erasure (it gets no record: lambdas/app/object-processor.ts,
   * dead-letter.ts). DeleteObjectVersion because the version judged is deleted, not the key: a delete
   * marker would hide the same file dropped again after the erasure (`deleteErasedObject`). And DeleteItem
   * on prediction records: a record written for such an object (claimed, or ended FAILED) before the
   * marker was seen is deleted again (`dropClaim`, `deleteSpeakerRecord` in dead-letter.ts).
   */
  private bindDropFolderSpeakers(fn: SerFunction, props: InferenceProps): void {
    for (const [name, value] of Object.entries(speakerPrefixesEnvironment(props.dropFolderSpeakerPrefixes))) {
      fn.addEnvironment(name, value);
    }
    if (this.speakerObjectPrefixes.length === 0) return;
    grantItems(fn, props.table, ['dynamodb:DeleteItem'], {
      only: PREDICTION_LEADING_KEYS,
      except: TRAINING_AND_REGISTRY_KEYS,
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
        resources: this.speakerObjectPrefixes.map((p) => props.bucket.arnForObjects(`${p}*`)),
      }),
    );
  }

  /** The notifications that trigger the function, and only the grants its work needs. */
  private subscribeToObjects(props: InferenceProps): void {
    const fn = this.function;
    for (const prefix of TRIGGER_PREFIXES) {
      props.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(fn), { prefix });
    }
    // The processor reads only the key's current object (an event for another version is superseded),
    // so GetObject without GetObjectVersion. ListBucket makes S3 answer 404 rather than 403 for an
    // object that is gone.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: TRIGGER_PREFIXES.map((prefix) => props.bucket.arnForObjects(`${prefix}*`)),
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.bucket.bucketArn] }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [props.bucket.arnForObjects(`${RESULTS_PREFIX}*`)],
      }),
    );
    // A file sent to an erased upload's URL (still valid for minutes) is deleted: no record names it;
    // so is a result file written by a processor past its lease whose record was erased before its commit.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:DeleteObject'],
        resources: [
          props.bucket.arnForObjects(`${UPLOADS_PREFIX}*`),
          props.bucket.arnForObjects(`${RESULTS_PREFIX}*`),
        ],
      }),
    );
    // GetItem reads records, speakers and the active model pointer (BatchGetItem: an adapting clip's
    // statistics and erasure marker in one request); UpdateItem (which creates what it does
    // not find) writes records and speaker statistics, never the registry's or the training side's items.
    props.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:BatchGetItem');
    grantItems(fn, props.table, ['dynamodb:UpdateItem'], { except: TRAINING_AND_REGISTRY_KEYS });
    bindPredictionEvents(this, 'DefaultBus', fn);
  }

  /**
   * Bad audio ends FAILED without an error, so any error is a fault (S3, DynamoDB, a model that does not
   * load). Throttling is the reserved concurrency doing its job under a burst, so only a lasting one counts.
   */
  private createFunctionAlarms(): [Alarm, Alarm] {
    const period = Duration.minutes(5);
    const errors = faultAlarm(this, 'ErrorsAlarm', {
      description:
        'The inference function threw: an infrastructure fault (bad audio ends FAILED without an error). ' +
        'Lambda retries each event twice; events that fail those too are dead-lettered (DeadLetterAlarm). ' +
        "Runbook: read the function's ERROR log lines, fix the cause; the retries or the ReplayCommand output " +
        'finish the records.',
      metric: this.function.metricErrors({ period }),
    });
    const throttles = faultAlarm(this, 'ThrottlesAlarm', {
      description:
        'For 15 minutes S3 events have come faster than the reserved concurrency of the inference function ' +
        "runs them: they wait in Lambda's queue and predictions come late; one still waiting after 6 hours is " +
        'dead-lettered. Runbook: if the load is expected to last, redeploy with a higher ' +
        '-c inferenceReservedConcurrency (the account keeps 100 unreserved), else let the backlog drain.',
      metric: this.function.metricThrottles({ period }),
      evaluationPeriods: 3,
    });
    return [errors, throttles];
  }

  private createDeadLetterAlarm(): Alarm {
    return faultAlarm(this, 'DeadLetterAlarm', {
      description:
        'Audio objects failed processing after retries (infrastructure fault). Runbook: read the message in the ' +
        'DLQ (responsePayload says why), fix the cause, then run the stack output ReplayCommand ' +
        '(npx ser replay --queue-url <DLQ> --function-name <function>): each original S3 event is re-invoked ' +
        'and its message deleted once it succeeds.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
    });
  }
}
