import type { UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { DomainError } from '../app/domain-error.ts';
import { isConditionalCheckFailed, newestFirstQuery, PREDICTIONS_TABLE } from '../app/table-definition.ts';
import {
  type DatasetSummarySchema,
  type JobStatusSchema,
  TERMINAL_JOB_STATUSES,
  type TrainingJobSchema,
} from '../app/training-schemas.ts';

/**
 * A job id: the service's UUID, or a test's name. Word characters and `-` only, since it is also a key
 * segment (`training-logs/<id>/`) and a shell variable in the training machine's user data. The pattern
 * reads the same as a JavaScript and a POSIX (bash `=~`) regular expression: the exit trap checks it too.
 */
export const JOB_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
export const JobIdSchema = z.string().regex(new RegExp(JOB_ID_PATTERN));

/** Training jobs share the predictions table, under their own key prefix and listing partition. */
export const JOB_KEY_PREFIX = 'TRAINING_JOB#';
const JOB_KEY = (id: string) => `${JOB_KEY_PREFIX}${id}`;
export const JOB_LIST_PARTITION = 'TRAINING_JOB';
/** One item whose `jobId` says which job runs: the conditional write on it is the one-at-a-time rule. */
const LOCK_KEY = 'TRAINING_LOCK';
/** The leading keys of job records and the lock, for IAM `dynamodb:LeadingKeys` conditions. */
export const TRAINING_LEADING_KEYS = [`${JOB_KEY_PREFIX}*`, LOCK_KEY];

export type JobStatus = z.infer<typeof JobStatusSchema>;
export const TERMINAL_STATUSES: readonly JobStatus[] = TERMINAL_JOB_STATUSES;
/** The terminal statuses as expression values (`:ended0`, …), for the condition that an ended job stays as it is. */
const ENDED_VALUES = Object.fromEntries(TERMINAL_STATUSES.map((status, i) => [`:ended${i}`, status]));
const NOT_ENDED = `NOT (#status IN (${Object.keys(ENDED_VALUES).join(', ')}))`;

/** A training job, as stored and as GET /training-jobs/{id} answers it: one shape, the API's. */
export type TrainingJob = z.infer<typeof TrainingJobSchema>;
export type DatasetSummary = z.infer<typeof DatasetSummarySchema>;

type UpdatableField =
  | 'status'
  | 'progress'
  | 'modelVersion'
  | 'metrics'
  | 'datasetSummary'
  | 'comparison'
  | 'activated'
  | 'activationReason'
  | 'error';

/** The one-job lock is held (409 JOB_RUNNING at the edge), as the repositories' refusals are: a DomainError. */
export class ConcurrentJobError extends DomainError {
  override readonly name = 'ConcurrentJobError';
  constructor(readonly runningJobId: string) {
    super('conflict', 'JOB_RUNNING', `Training job ${runningJobId} is still running; one job at a time`);
  }
}

/** A job without a deadline (created before deadlines were recorded) is dead after this much silence. */
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
        // `get` ends a job past its deadline, so a held lock of a dead machine is taken over here.
        const held = await this.get(holder);
        if (held && !TERMINAL_STATUSES.includes(held.status)) throw new ConcurrentJobError(holder);
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
        if (!isConditionalCheckFailed(error)) throw error;
        // Someone else took it between our read and write: read again, once.
      }
    }
    throw new ConcurrentJobError('another');
  }

  async releaseLock(jobId: string): Promise<void> {
    try {
      await this.client.send(new UpdateCommand(releaseLockRequest(this.config.tableName, jobId)));
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
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

  /** The job; one past its deadline that never recorded an end is recorded FAILED first. */
  async get(id: string, now = new Date()): Promise<TrainingJob | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.config.tableName, Key: { id: JOB_KEY(id) }, ConsistentRead: true }),
    );
    return Item ? this.expireIfPastDeadline(toJob(Item), now) : undefined;
  }

  /** Newest first, one page of `limit`. */
  async list(limit = 50, now = new Date()): Promise<TrainingJob[]> {
    const { Items = [] } = await this.client.send(
      new QueryCommand(newestFirstQuery(this.config.tableName, JOB_LIST_PARTITION, limit)),
    );
    return Promise.all(Items.map((item) => this.expireIfPastDeadline(toJob(item), now)));
  }

  /**
   * Records FAILED unless the job already recorded its end (then nothing changes): what the supervisor
   * does when the training process dies, and what a reader does past the deadline.
   */
  async recordFailure(id: string, error: string, now = new Date()): Promise<void> {
    try {
      await this.update(id, { status: 'FAILED', error }, now);
    } catch (failure) {
      if (!isConditionalCheckFailed(failure)) throw failure;
    }
  }

  private async expireIfPastDeadline(job: TrainingJob, now: Date): Promise<TrainingJob> {
    if (TERMINAL_STATUSES.includes(job.status)) return job;
    const deadline = job.deadline
      ? Date.parse(job.deadline)
      : Date.parse(job.updatedAt) + (this.config.staleAfterMs ?? DEFAULT_STALE_AFTER_MS);
    if (now.getTime() <= deadline) return job;
    const error = deadlinePassedMessage(new Date(deadline), job.machineLog);
    await this.recordFailure(job.id, error, now);
    return { ...job, status: 'FAILED', error, updatedAt: now.toISOString() };
  }

  /** Sets fields and `updatedAt`; a job that has ended is never changed again. */
  async update(
    id: string,
    fields: Partial<Pick<TrainingJob, UpdatableField>>,
    now = new Date(),
  ): Promise<void> {
    await this.client.send(
      new UpdateCommand(
        updateRequest(this.config.tableName, id, { ...fields, updatedAt: now.toISOString() }),
      ),
    );
  }
}

/** `update`'s request: the fields set, unless the job has ended (or does not exist). */
function updateRequest(tableName: string, id: string, fields: Record<string, unknown>): UpdateCommandInput {
  const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
  return {
    TableName: tableName,
    Key: { id: JOB_KEY(id) },
    UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
    ConditionExpression: `attribute_exists(id) AND ${NOT_ENDED}`,
    ExpressionAttributeNames: {
      '#status': 'status',
      ...Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k])),
    },
    ExpressionAttributeValues: {
      ...ENDED_VALUES,
      ...Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
    },
  };
}

/** `releaseLock`'s request: the lock's holder removed, only if it is `jobId`. */
function releaseLockRequest(tableName: string, jobId: string): UpdateCommandInput {
  return {
    TableName: tableName,
    Key: { id: LOCK_KEY },
    UpdateExpression: 'REMOVE jobId',
    ConditionExpression: 'jobId = :job',
    ExpressionAttributeValues: { ':job': jobId },
  };
}

/**
 * `recordFailure` then `releaseLock` (the supervisor's `markFailed`) as DynamoDB's own JSON, for a machine
 * that cannot run this code: the training machine's exit trap sends them with
 * `aws dynamodb update-item --cli-input-json` when `npm ci` never installed the project. The same
 * conditions: an ended job stays as it is, and a lock another job holds stays held. Every value is a
 * string, so the shell can fill in placeholders for what only the machine knows.
 */
export function failureRequestDocuments(
  tableName: string,
  jobId: string,
  error: string,
  updatedAt: string,
): UpdateItemCommandInput[] {
  return [
    updateRequest(tableName, jobId, { status: 'FAILED', error, updatedAt }),
    releaseLockRequest(tableName, jobId),
  ].map(({ Key, ExpressionAttributeValues, ...request }) => ({
    ...request,
    Key: stringAttributes(Key!),
    ExpressionAttributeValues: stringAttributes(ExpressionAttributeValues!),
  }));
}

function stringAttributes(values: Record<string, unknown>): Record<string, { S: string }> {
  return Object.fromEntries(
    Object.entries(values).map(([name, value]) => {
      if (typeof value !== 'string') throw new TypeError(`${name} is not a string`);
      return [name, { S: value }];
    }),
  );
}

/** Why a job ended when its machine's start-up script exited before the job recorded its end. */
export function machineExitMessage(exitCode: number | string, machineLog: string): string {
  return (
    `Training stopped: the training machine's start-up script exited with code ${exitCode} before the job ` +
    `recorded its end (installing the project, or the supervisor itself); its log: ${machineLog}`
  );
}

/** A job whose machine never recorded its end: gone, and its own log (when it has one) says why. */
export function deadlinePassedMessage(deadline: Date, machineLog: string | undefined): string {
  const gone = `The training machine's hard limit (${deadline.toISOString()}) passed before the job recorded its end: the machine is gone`;
  return machineLog ? `${gone}; its log, if it got as far as uploading it: ${machineLog}` : gone;
}

function toJob(item: Record<string, unknown>): TrainingJob {
  const { id: _key, jobId, gsi1pk: _pk, gsi1sk: _sk, ...rest } = item;
  return { ...(rest as Omit<TrainingJob, 'id'>), id: jobId as string };
}
