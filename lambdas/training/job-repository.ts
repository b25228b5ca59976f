import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { newestFirstQuery, PREDICTIONS_TABLE } from '../app/table-definition.ts';
import type { ActivationMode } from './activation-policy.ts';

/** Training jobs share the predictions table, under their own key prefix and listing partition. */
export const JOB_KEY_PREFIX = 'TRAINING_JOB#';
const JOB_KEY = (id: string) => `${JOB_KEY_PREFIX}${id}`;
export const JOB_LIST_PARTITION = 'TRAINING_JOB';
/** One item whose `jobId` says which job runs: the conditional write on it is the one-at-a-time rule. */
const LOCK_KEY = 'TRAINING_LOCK';

export type JobStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
export const TERMINAL_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED'];

export interface TrainingJobRequest {
  /** S3 prefix of the dataset, e.g. `datasets/tess/`. */
  dataset: string;
  epochs: number;
  augment: boolean;
  activate: ActivationMode;
}

export interface TrainingJob extends TrainingJobRequest {
  id: string;
  status: JobStatus;
  progress?: { epoch: number; epochs: number; valAccuracy: number };
  modelVersion?: string;
  metrics?: Record<string, unknown>;
  activated?: boolean;
  activationReason?: string;
  error?: string;
  createdAt: string;
  updatedAt: string;
}

export class ConcurrentJobError extends Error {
  override readonly name = 'ConcurrentJobError';
  constructor(readonly runningJobId: string) {
    super(`Training job ${runningJobId} is still running; one job at a time`);
  }
}

const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

/** A job silent for longer than this is dead (its machine is gone): past the EC2 maximum run time. */
const DEFAULT_STALE_AFTER_MS = 3 * 60 * 60 * 1000;

export class TrainingJobRepository {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly config: { tableName: string; staleAfterMs?: number },
  ) {}

  /** Takes the lock for `jobId`; a lock held by a job that has ended is taken over. */
  async acquireLock(jobId: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.config.tableName, Key: { id: LOCK_KEY }, ConsistentRead: true }),
      );
      const holder = Item?.jobId as string | undefined;
      if (holder) {
        const held = await this.get(holder);
        if (held && !TERMINAL_STATUSES.includes(held.status)) {
          const silentMs = Date.now() - Date.parse(held.updatedAt);
          if (silentMs < (this.config.staleAfterMs ?? DEFAULT_STALE_AFTER_MS))
            throw new ConcurrentJobError(holder);
          await this.update(holder, {
            status: 'FAILED',
            error: `No news from the training machine for ${Math.round(silentMs / 60_000)} min: it is gone`,
          }).catch((error) => {
            if (!isConditionFailure(error)) throw error;
          });
        }
      }
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.config.tableName,
            Item: { id: LOCK_KEY, jobId },
            ConditionExpression: holder ? 'jobId = :holder' : 'attribute_not_exists(jobId)',
            ...(holder ? { ExpressionAttributeValues: { ':holder': holder } } : {}),
          }),
        );
        return;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // Someone else took it between our read and write: read again, once.
      }
    }
    throw new ConcurrentJobError('another');
  }

  async releaseLock(jobId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.config.tableName,
          Key: { id: LOCK_KEY },
          UpdateExpression: 'REMOVE jobId',
          ConditionExpression: 'jobId = :job',
          ExpressionAttributeValues: { ':job': jobId },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async create(job: TrainingJob): Promise<void> {
    const { partitionKey, listIndex } = PREDICTIONS_TABLE;
    await this.client.send(
      new PutCommand({
        TableName: this.config.tableName,
        Item: {
          ...job,
          [partitionKey]: JOB_KEY(job.id),
          jobId: job.id,
          [listIndex.partitionKey]: JOB_LIST_PARTITION,
          [listIndex.sortKey]: `${job.createdAt}#${job.id}`,
        },
        ConditionExpression: `attribute_not_exists(${partitionKey})`,
      }),
    );
  }

  async get(id: string): Promise<TrainingJob | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.config.tableName, Key: { id: JOB_KEY(id) }, ConsistentRead: true }),
    );
    return Item ? toJob(Item) : undefined;
  }

  /** Newest first, one page of `limit`. */
  async list(limit = 50): Promise<TrainingJob[]> {
    const { Items = [] } = await this.client.send(
      new QueryCommand(newestFirstQuery(this.config.tableName, JOB_LIST_PARTITION, limit)),
    );
    return Items.map(toJob);
  }

  /** Sets fields and `updatedAt`; a job that has ended is never changed again. */
  async update(
    id: string,
    fields: Partial<
      Pick<
        TrainingJob,
        'status' | 'progress' | 'modelVersion' | 'metrics' | 'activated' | 'activationReason' | 'error'
      >
    >,
    now = new Date(),
  ): Promise<void> {
    const entries = Object.entries({ ...fields, updatedAt: now.toISOString() }).filter(
      ([, v]) => v !== undefined,
    );
    await this.client.send(
      new UpdateCommand({
        TableName: this.config.tableName,
        Key: { id: JOB_KEY(id) },
        UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
        ConditionExpression: 'attribute_exists(id) AND NOT (#status IN (:succeeded, :failed))',
        ExpressionAttributeNames: {
          '#status': 'status',
          ...Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k])),
        },
        ExpressionAttributeValues: {
          ':succeeded': 'SUCCEEDED',
          ':failed': 'FAILED',
          ...Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
        },
      }),
    );
  }
}

function toJob(item: Record<string, unknown>): TrainingJob {
  const { id: _key, jobId, gsi1pk: _pk, gsi1sk: _sk, ...rest } = item;
  return { ...(rest as Omit<TrainingJob, 'id'>), id: jobId as string };
}
