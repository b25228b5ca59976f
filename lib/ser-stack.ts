import { Annotations, Aspects, CfnOutput, type Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import {
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_RECORD_TTL_DAYS,
  DEFAULT_SPEAKER_TTL_DAYS,
  DEFAULT_UPLOAD_URL_TTL_SEC,
} from '../lambdas/app/config.ts';
import { checkedOrigins } from '../lambdas/app/cors.ts';
import { INCOMING_PREFIX, RESULTS_PREFIX, resultKey } from '../lambdas/app/object-keys.ts';
import { AlarmNotifications, type AlarmNotificationsProps } from './constructs/alarm-notifications.ts';
import { AudioStorage, DEFAULT_RAW_AUDIO_RETENTION_DAYS } from './constructs/audio-storage.ts';
import { CallbackDelivery } from './constructs/callback-delivery.ts';
import { Inference, type InferenceProps } from './constructs/inference.ts';
import { OperationsDashboard } from './constructs/operations-dashboard.ts';
import { SerApi, type SerApiProps, type UsagePlanLimits } from './constructs/ser-api.ts';
import { Training, type TrainingProps } from './constructs/training.ts';
import { WebSite } from './constructs/web-site.ts';
import { FunctionLogRetention } from './log-retention.ts';
import { acknowledgeNagFindings } from './nag-acknowledgments.ts';
import { DEFAULT_MODEL_DIR, readModelVersion } from './paths.ts';

export interface SerStackProps extends StackProps {
  /** @default the repository's models/ser-lstm */
  readonly modelDir?: string;
  /** @default 25 MB */
  readonly maxUploadBytes?: number;
  /** @default DEFAULT_RAW_AUDIO_RETENTION_DAYS */
  readonly rawAudioRetentionDays?: number;
  /**
   * Days prediction records (DynamoDB TTL) and drop-folder results are kept.
   * @default DEFAULT_RECORD_TTL_DAYS
   */
  readonly recordTtlDays?: number;
  /** Days a speaker's statistics are kept after its last clip. @default DEFAULT_SPEAKER_TTL_DAYS */
  readonly speakerTtlDays?: number;
  /** How long a presigned upload URL lives, 60–3600 s. @default DEFAULT_UPLOAD_URL_TTL_SEC */
  readonly uploadUrlTtlSec?: number;
  /**
   * How stale inference's view of the active model may be (0: read at every event).
   * @default DEFAULT_MODEL_REFRESH_SEC (the inference handler's own, lambdas/training/active-model-config.ts)
   */
  readonly modelRefreshSec?: number;
  /** Each API key's throttle and daily quota; unset limits keep DEFAULT_USAGE_PLAN's. */
  readonly usagePlan?: Partial<UsagePlanLimits>;
  readonly inferenceMemorySize?: number;
  readonly inferenceTimeout?: Duration;
  /**
   * `null`: no reservation, for callbacks either (accounts with the default quota of 10).
   * @default DEFAULT_INFERENCE_RESERVED_CONCURRENCY
   */
  readonly inferenceReservedConcurrency?: number | null;
  /**
   * Origins allowed by CORS beside the web page's (a front end of your own, a custom domain, a dev server:
   * `https://app.example.com`): the API, its preflights and gateway refusals, and the bucket's uploads.
   * @default none
   */
  readonly extraAllowedOrigins?: readonly string[];
  /** Drop-folder prefixes whose next folder names a speaker (`*`: every folder). @default none */
  readonly dropFolderSpeakerPrefixes?: readonly string[];
  /** On-demand training on EC2 (instance type, Spot, max run time). */
  readonly training?: Pick<TrainingProps, 'instanceType' | 'spot' | 'maxRunTime'>;
  /** Where every alarm goes (an email address, an existing SNS topic). @default nowhere, with a warning */
  readonly alarms?: AlarmNotificationsProps;
}

/** The product: storage, the S3-triggered inference, the REST API and the web page. */
export class SerStack extends Stack {
  readonly storage: AudioStorage;
  readonly inference: Inference;
  readonly api: SerApi;
  readonly web: WebSite;
  readonly training: Training;
  readonly callbacks: CallbackDelivery;
  /** Every alarm of the stack's constructs: each notifies `notifications`' topics. */
  readonly alarms: Alarm[];
  readonly notifications: AlarmNotifications;
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: SerStackProps = {}) {
    super(scope, id, props);
    const modelDir = props.modelDir ?? DEFAULT_MODEL_DIR;
    const maxUploadBytes = props.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
    const recordTtlDays = props.recordTtlDays ?? DEFAULT_RECORD_TTL_DAYS;
    const speakerTtlDays = props.speakerTtlDays ?? DEFAULT_SPEAKER_TTL_DAYS;

    this.web = new WebSite(this, 'Web');
    const allowedOrigins = [
      this.web.origin,
      ...checkedOrigins(props.extraAllowedOrigins ?? [], 'extraAllowedOrigins'),
    ];
    this.storage = new AudioStorage(this, 'Storage', {
      corsAllowedOrigins: allowedOrigins,
      rawAudioRetentionDays: props.rawAudioRetentionDays ?? DEFAULT_RAW_AUDIO_RETENTION_DAYS,
      resultRetentionDays: recordTtlDays,
    });
    const { bucket, table } = this.storage;
    this.inference = this.createInference(props, {
      bucket,
      table,
      modelDir,
      maxUploadBytes,
      recordTtlDays,
      speakerTtlDays,
    });
    this.api = this.createApi(props, {
      bucket,
      table,
      allowedOrigins,
      modelVersion: readModelVersion(modelDir),
      maxUploadBytes,
      recordTtlDays,
      speakerTtlDays,
    });
    this.web.deploy({ apiUrl: this.api.restApi.url, maxUploadBytes });
    this.training = new Training(this, 'Training', { bucket, table, modelDir, ...props.training });
    this.training.bindApi(this.api.function);
    this.training.bindInference(this.inference.function, { refreshSec: props.modelRefreshSec });
    this.callbacks = new CallbackDelivery(this, 'Callbacks', {
      apiKey: this.api.apiKey,
      // An account too small to reserve for inference cannot reserve for callbacks either.
      ...(props.inferenceReservedConcurrency === null ? { reservedConcurrency: null } : {}),
    });
    this.alarms = this.node.findAll().filter((construct) => construct instanceof Alarm);
    this.notifications = this.routeAlarms(this.alarms, props.alarms ?? {});
    this.dashboard = this.createDashboard();
    // aws-cdk-lib's own functions (bucket notifications, the page deployment, custom resources) too.
    Aspects.of(this).add(new FunctionLogRetention());
    acknowledgeNagFindings(this);

    this.addOutputs();
    this.addOperationsOutputs();
  }

  /** The REST API with the stack's optional settings; unset ones keep their defaults. */
  private createApi(
    props: SerStackProps,
    base: Omit<SerApiProps, 'dropFolderSpeakerPrefixes' | 'uploadUrlTtlSec' | 'usagePlan'>,
  ): SerApi {
    return new SerApi(this, 'Api', {
      ...base,
      ...(props.dropFolderSpeakerPrefixes
        ? { dropFolderSpeakerPrefixes: props.dropFolderSpeakerPrefixes }
        : {}),
      uploadUrlTtlSec: props.uploadUrlTtlSec ?? DEFAULT_UPLOAD_URL_TTL_SEC,
      ...(props.usagePlan ? { usagePlan: props.usagePlan } : {}),
    });
  }

  private createDashboard(): OperationsDashboard {
    return new OperationsDashboard(this, 'Operations', {
      inferenceFunction: this.inference.function,
      deadLetterQueue: this.inference.deadLetterQueue,
      callbackDeadLetterQueue: this.callbacks.deadLetterQueue,
      restApi: this.api.restApi,
      alarms: this.alarms,
    });
  }

  /** Every alarm, on ALARM and OK, to the deployer's topics; none given is allowed but said at synth. */
  private routeAlarms(alarms: Alarm[], props: AlarmNotificationsProps): AlarmNotifications {
    const notifications = new AlarmNotifications(this, 'AlarmNotifications', props);
    notifications.notify(alarms);
    if (notifications.topics.length === 0)
      Annotations.of(this).addWarningV2(
        'ser:alarmsNotifyNoOne',
        'The alarms notify no one: deploy with -c alarmEmail=<address> or -c alarmTopicArn=<SNS topic ARN>.',
      );
    return notifications;
  }

  /** The inference function with the stack's optional sizing; unset props keep the construct's defaults. */
  private createInference(
    props: SerStackProps,
    base: Pick<
      InferenceProps,
      'bucket' | 'table' | 'modelDir' | 'maxUploadBytes' | 'recordTtlDays' | 'speakerTtlDays'
    >,
  ): Inference {
    return new Inference(this, 'Inference', {
      ...base,
      ...(props.dropFolderSpeakerPrefixes
        ? { dropFolderSpeakerPrefixes: props.dropFolderSpeakerPrefixes }
        : {}),
      ...(props.inferenceMemorySize ? { memorySize: props.inferenceMemorySize } : {}),
      ...(props.inferenceTimeout ? { timeout: props.inferenceTimeout } : {}),
      ...(props.inferenceReservedConcurrency !== undefined
        ? { reservedConcurrency: props.inferenceReservedConcurrency }
        : {}),
    });
  }

  /** What an operator needs after a deploy: the bucket, ready-to-run commands, the DLQs. */
  private addOutputs(): void {
    const { bucket } = this.storage;
    // Outputs live on the stack, not in the constructs: a construct's output id gets its path and a hash
    // (ApiAdminPolicyArn98659656), and the docs name these.
    new CfnOutput(this, 'ApiUrl', { value: this.api.restApi.url });
    new CfnOutput(this, 'WebUrl', { value: this.web.origin });
    new CfnOutput(this, 'AdminPolicyArn', {
      description: 'Attach to operators: training jobs and model activation are IAM-authorised',
      value: this.api.adminPolicy.managedPolicyArn,
    });
    new CfnOutput(this, 'ApiKeyValueCommand', {
      description: 'Prints the value of the API key (header x-api-key)',
      value: `aws apigateway get-api-key --include-value --api-key ${this.api.apiKey.keyId} --query value --output text`,
    });
    new CfnOutput(this, 'TrainingLaunchTemplateId', {
      value: this.training.launchTemplate.launchTemplateId!,
    });
    new CfnOutput(this, 'AudioBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'PredictionsTableName', {
      description: 'The table of prediction records, speaker statistics, jobs and the model registry',
      value: this.storage.table.tableName,
    });
    new CfnOutput(this, 'DropFolderCommand', {
      description: `Any S3 client can drop audio here; the result appears under ${RESULTS_PREFIX}`,
      value: `aws s3 cp clip.wav s3://${bucket.bucketName}/${INCOMING_PREFIX}clip.wav && aws s3 cp s3://${bucket.bucketName}/${resultKey('clip.wav')} -`,
    });
    new CfnOutput(this, 'WebhookSecretCommand', {
      description: 'The secret that signs callbacks of uploads made with the default API key',
      value: `aws secretsmanager get-secret-value --secret-id ${this.callbacks.defaultKeySecret.secretName} --query SecretString --output text`,
    });
    new CfnOutput(this, 'CallbackDeadLetterQueueUrl', { value: this.callbacks.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.inference.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ReplayCommand', {
      description:
        'After fixing the cause of DLQ messages: re-invokes the function with each original S3 event',
      value: `npx ser replay --queue-url ${this.inference.deadLetterQueue.queueUrl} --function-name ${this.inference.function.functionName}`,
    });
    new CfnOutput(this, 'CallbackReplayCommand', {
      description:
        'After the receiver is fixed: delivers each dead-lettered callback once more (deleted once delivered)',
      value: `npx ser replay --queue-url ${this.callbacks.deadLetterQueue.queueUrl} --function-name ${this.callbacks.function.functionName}`,
    });
  }

  /** Where to look and what is watched: the dashboard, the alarms and the topic they notify. */
  private addOperationsOutputs(): void {
    const { dashboardName } = this.dashboard.dashboard;
    new CfnOutput(this, 'DashboardName', { value: dashboardName });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards/dashboard/${dashboardName}`,
    });
    const alarmNames = this.alarms.map((alarm) => alarm.alarmName).join(' ');
    new CfnOutput(this, 'AlarmsCommand', {
      description: "Prints each alarm's state (the same alarms as the dashboard's Alarms widget)",
      value: `aws cloudwatch describe-alarms --alarm-names ${alarmNames} --query 'MetricAlarms[].[AlarmName,StateValue]' --output table`,
    });
    const { topic } = this.notifications;
    if (topic)
      new CfnOutput(this, 'AlarmTopicArn', {
        description: 'Every alarm notifies it (ALARM and OK); subscribe more endpoints here',
        value: topic.topicArn,
      });
  }
}
