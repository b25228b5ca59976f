import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { type Bucket, EventType } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { RESULTS_PREFIX, TRIGGER_PREFIXES } from '../../lambdas/app/object-keys.ts';
import { HANDLERS_DIR } from '../paths.ts';
import { SerFunction } from './ser-function.ts';

export interface InferenceProps {
  readonly bucket: Bucket;
  readonly table: Table;
  /** The model package folder shipped in the asset. */
  readonly modelDir: string;
  /**
   * From `npm run bench` (model 1.0.0): a TESS clip takes 3.7 ms (WAV) / 15 ms (FLAC) on one full core,
   * peak RSS 194 MB, cold start 0.33 s; a 599 s, 18 MB WAV (near the TOO_LONG limit) took 1.0 s at
   * 317 MB RSS. The work is single-threaded CPU, so memory buys CPU share: 1024 MB (~0.6 vCPU) keeps the
   * longest clip at ~2 s with 3× memory headroom; more memory would cost about the same per clip and only
   * shave milliseconds off typical ones. @default 1024
   */
  readonly memorySize?: number;
  /** Far above the slowest measured run (~2 s for 600 s of audio), so only a hang times out. @default 60 s */
  readonly timeout?: Duration;
  /**
   * Caps parallel invocations (and cost) under a burst of uploads. `null` reserves none: needed on a new
   * account whose concurrency quota is 10, where any reservation is refused. @default 10
   */
  readonly reservedConcurrency?: number | null;
  readonly maxUploadBytes: number;
  readonly recordTtlDays: number;
  /** Drop-folder prefixes whose next folder names a speaker (`*`: every folder). @default none */
  readonly dropFolderSpeakerPrefixes?: readonly string[];
}

/**
 * The S3-triggered inference function: ObjectCreated under uploads/ and incoming/ (never results/,
 * where it writes, so it cannot trigger itself), two async retries, then the event goes to a DLQ with
 * an alarm. Its grants are only the prefixes it reads and writes and the two table calls it makes.
 */
export class Inference extends Construct {
  readonly function: SerFunction;
  readonly deadLetterQueue: Queue;
  readonly deadLetterAlarm: Alarm;

  constructor(scope: Construct, id: string, props: InferenceProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.seconds(60);
    const modelDir = props.modelDir.replace(/\/$/, '');

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.function = new SerFunction(this, 'ProcessObject', {
      entry: `${HANDLERS_DIR}process-object.ts`,
      description: 'Speech emotion recognition for audio objects created under uploads/ and incoming/',
      memorySize: props.memorySize ?? 1024,
      timeout,
      ...(props.reservedConcurrency === null
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency ?? 10 }),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetterQueue),
      environment: {
        BUCKET_NAME: props.bucket.bucketName,
        TABLE_NAME: props.table.tableName,
        MAX_UPLOAD_BYTES: String(props.maxUploadBytes),
        RECORD_TTL_DAYS: String(props.recordTtlDays),
        // A claim outlives one attempt, so only a crashed attempt's retry can take it over.
        PROCESSING_LEASE_SEC: String(timeout.toSeconds() + 60),
        ...(props.dropFolderSpeakerPrefixes?.length
          ? { DROP_FOLDER_SPEAKER_PREFIXES: props.dropFolderSpeakerPrefixes.join(',') }
          : {}),
      },
      bundling: {
        // Native binaries cannot be bundled: install the package beside the bundle, without its CUDA
        // download (the install runs in a temp folder that does not read our .npmrc).
        nodeModules: ['onnxruntime-node'],
        environment: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => [
            `mkdir -p "${outputDir}/models" && cp -R "${modelDir}" "${outputDir}/models/ser-lstm"`,
            // fvad-wasm loads fvad.wasm relative to its module, which in the bundle is index.mjs.
            `cp "${inputDir}/node_modules/@echogarden/fvad-wasm/fvad.wasm" "${outputDir}/"`,
            // Lambda is linux/x64 only: drop the other platforms' binaries (~240 MB).
            `find "${outputDir}/node_modules/onnxruntime-node/bin" -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} +`,
            `find "${outputDir}/node_modules/onnxruntime-node/bin" -mindepth 3 -maxdepth 3 -type d ! -name x64 -exec rm -rf {} +`,
            `echo "[ser] inference asset unzipped: $(du -sm "${outputDir}" | cut -f1) MB (limit 60 MB)" >&2`,
          ],
        },
      },
    });

    const fn = this.function;
    for (const prefix of TRIGGER_PREFIXES) {
      props.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(fn), { prefix });
    }
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: TRIGGER_PREFIXES.map((prefix) => props.bucket.arnForObjects(`${prefix}*`)),
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [props.bucket.arnForObjects(`${RESULTS_PREFIX}*`)],
      }),
    );
    props.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');

    this.deadLetterAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmDescription:
        'Audio objects failed processing after retries (infrastructure fault). Runbook: read the message in the ' +
        'DLQ (responsePayload says why), fix the cause, then run the stack output ReplayCommand ' +
        '(npx ser replay --queue-url <DLQ> --function-name <function>): each original S3 event is re-invoked ' +
        'and its message deleted once it succeeds.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
