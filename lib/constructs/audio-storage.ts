import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  HttpMethods,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DEFAULT_RECORD_TTL_DAYS } from '../../lambdas/app/config.ts';
import {
  INCOMING_PREFIX,
  RESULTS_PREFIX,
  TRAINING_LOGS_PREFIX,
  UPLOADS_PREFIX,
} from '../../lambdas/app/object-keys.ts';
import { PREDICTIONS_TABLE, SECONDARY_INDEXES } from '../../lambdas/app/table-definition.ts';
import { FUNCTION_LOG_RETENTION } from '../log-retention.ts';

export interface AudioStorageProps {
  /** Origins whose pages may upload to presigned URLs from a browser (the web page). */
  readonly corsAllowedOrigins: string[];
  /** Days before raw audio (uploads/ and incoming/) is deleted. @default DEFAULT_RAW_AUDIO_RETENTION_DAYS */
  readonly rawAudioRetentionDays?: number;
  /** Days before drop-folder results (results/) are deleted. @default DEFAULT_RECORD_TTL_DAYS */
  readonly resultRetentionDays?: number;
  /** @default RemovalPolicy.RETAIN — recordings and predictions outlive a stack deletion by default */
  readonly removalPolicy?: RemovalPolicy;
  /** Days a replaced or deleted object's previous version is kept (bucket versioning). @default 7 */
  readonly noncurrentVersionDays?: number;
}

/** Days raw audio (uploads/ and incoming/) is kept unless deployed with `-c rawAudioRetentionDays`. */
export const DEFAULT_RAW_AUDIO_RETENTION_DAYS = 7;

/** How long replaced or expired raw audio stays as a noncurrent version (1 is S3's minimum). */
export const RAW_AUDIO_NONCURRENT_DAYS = 1;

/**
 * The audio bucket and the predictions table. Secure by default: no public access, S3-managed
 * encryption, TLS-only bucket policy, raw audio expiring after a week (and its noncurrent versions a day later); the table on demand with
 * point-in-time recovery and a TTL attribute, keyed from the same definition the local stack uses.
 */
export class AudioStorage extends Construct {
  readonly bucket: Bucket;
  readonly table: Table;

  constructor(scope: Construct, id: string, props: AudioStorageProps) {
    super(scope, id);
    const rawDays = props.rawAudioRetentionDays ?? DEFAULT_RAW_AUDIO_RETENTION_DAYS;
    const resultDays = props.resultRetentionDays ?? DEFAULT_RECORD_TTL_DAYS;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.bucket = this.createBucket(props, rawDays, resultDays, removalPolicy);
    this.table = this.createTable(removalPolicy);
  }

  private createBucket(
    props: AudioStorageProps,
    rawDays: number,
    resultDays: number,
    removalPolicy: RemovalPolicy,
  ): Bucket {
    return new Bucket(this, 'AudioBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      // A replaced or deleted object stays recoverable for a while, and every upload has its own
      // versionId (which the processor uses as the object's identity).
      versioned: true,
      cors: [
        {
          // The page PUTs (or form-POSTs) the file to a presigned URL; nothing else crosses origins.
          allowedOrigins: props.corsAllowedOrigins,
          allowedMethods: [HttpMethods.PUT, HttpMethods.POST],
          allowedHeaders: ['content-type'],
          exposedHeaders: ['ETag'],
          maxAge: 3000,
        },
      ],
      lifecycleRules: [
        // Expiring a current version only adds a delete marker: the audio itself is the noncurrent version,
        // gone a day later here (the shorter of two overlapping expirations wins), not after the week below.
        ...[UPLOADS_PREFIX, INCOMING_PREFIX].map((prefix) => ({
          id: `expire-${prefix.replace('/', '')}`,
          prefix,
          expiration: Duration.days(rawDays),
          noncurrentVersionExpiration: Duration.days(RAW_AUDIO_NONCURRENT_DAYS),
        })),
        { id: 'expire-results', prefix: RESULTS_PREFIX, expiration: Duration.days(resultDays) },
        // Training machines' logs are kept as long as the functions' logs.
        {
          id: 'expire-training-logs',
          prefix: TRAINING_LOGS_PREFIX,
          expiration: Duration.days(FUNCTION_LOG_RETENTION),
        },
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays ?? 7),
          expiredObjectDeleteMarker: true,
        },
      ],
    });
  }

  /** On demand, point-in-time recovery, TTL, the newest-first listing index and the speaker index. */
  private createTable(removalPolicy: RemovalPolicy): Table {
    const { partitionKey, ttlAttribute } = PREDICTIONS_TABLE;
    const table = new Table(this, 'Predictions', {
      partitionKey: { name: partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: ttlAttribute,
      removalPolicy,
      deletionProtection: true,
    });
    // On a deployed table `bySpeaker` is the update's one new GSI (CloudFormation creates at most one per
    // update); DynamoDB fills it from the items that already have `speakerKey`.
    for (const index of SECONDARY_INDEXES) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }
    return table;
  }
}
