import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { PredictionResult } from '../core/types.ts';
import type { Prediction, PredictionPage, PredictionSource, PredictionStatus } from './api-schemas.ts';
import { DEFAULT_UPLOAD_URL_TTL_SEC } from './config.ts';
import { badRequest } from './http-error.ts';
import type { SpeakerRef } from './speaker-repository.ts';
import { newestFirstQuery, PREDICTIONS_TABLE } from './table-definition.ts';

export type { Prediction, PredictionPage, PredictionSource, PredictionStatus };

/** Where the terminal result is POSTed, and whose webhook secret signs it. Stored, never returned. */
export interface CallbackTarget {
  url: string;
  apiKeyId?: string | undefined;
}

/** The stored item: the public fields plus where the audio is, the claim and the index/TTL attributes. */
interface PredictionItem extends Prediction {
  bucket: string;
  key: string;
  objectVersion?: string;
  leaseExpiresAt?: number;
  callback?: CallbackTarget;
  expiresAt: number;
  gsi1pk: string;
  gsi1sk: string;
  /** Who owns `speakerId` (the API key): with it, the speaker's statistics item (speaker-repository.ts). */
  speakerScope?: string;
}

export interface NewUpload {
  id: string;
  fileName: string;
  bucket: string;
  key: string;
  speaker?: SpeakerRef | undefined;
  callback?: CallbackTarget;
}

export interface ObjectClaim {
  id: string;
  source: PredictionSource;
  fileName: string;
  bucket: string;
  key: string;
  /** The object's versionId or ETag: which bytes this claim is about. */
  objectVersion: string;
}

export type ClaimResult =
  | { claimed: true; prediction: Prediction; callback?: CallbackTarget; speaker?: SpeakerRef }
  | { claimed: false; existing: Prediction | undefined };

const PUBLIC_FIELDS = [
  'id',
  'status',
  'source',
  'fileName',
  'createdAt',
  'updatedAt',
  'emotion',
  'confidence',
  'probabilities',
  'segments',
  'durationSec',
  'modelVersion',
  'error',
  'speakerId',
  'adaptation',
] as const satisfies readonly (keyof Prediction)[];

export function toPrediction(item: Record<string, unknown>): Prediction {
  return Object.fromEntries(
    PUBLIC_FIELDS.filter((field) => item[field] !== undefined).map((field) => [field, item[field]]),
  ) as unknown as Prediction;
}

/** The speaker context an API upload was created with (kept on its record until processing). */
function speakerOf(item: Record<string, unknown> | undefined): { speaker?: SpeakerRef } {
  const { speakerScope, speakerId } = item ?? {};
  return typeof speakerScope === 'string' && typeof speakerId === 'string'
    ? { speaker: { scope: speakerScope, speakerId } }
    : {};
}

const CursorSchema = z.object({ id: z.string(), gsi1pk: z.string(), gsi1sk: z.string() }).strict();

const encodeCursor = (key: Record<string, unknown>): string =>
  Buffer.from(JSON.stringify(key)).toString('base64url');

function decodeCursor(cursor: string): Record<string, unknown> {
  try {
    return CursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw badRequest('INVALID_CURSOR', 'cursor is not one this API returned');
  }
}

export interface PredictionRepositoryOptions {
  tableName: string;
  recordTtlDays: number;
  processingLeaseSec: number;
  /** A PENDING record lives as long as its upload URL plus a grace, then reads treat it as gone. */
  uploadUrlTtlSec?: number;
  now?: () => Date;
}

/** Room for an upload that started just before its URL expired to finish and be noticed. */
const PENDING_GRACE_SEC = 3600;

/**
 * Prediction records in DynamoDB. The record is also the idempotency record for S3 events: `claim` is
 * one conditional write keyed by the prediction id (derived from the object) and the object's
 * version/ETag, so a duplicate event sees SUCCEEDED/FAILED (or a live PROCESSING lease) and does nothing.
 */
export class PredictionRepository {
  readonly #doc: DynamoDBDocumentClient;
  readonly #options: PredictionRepositoryOptions;

  constructor(doc: DynamoDBDocumentClient, options: PredictionRepositoryOptions) {
    this.#doc = doc;
    this.#options = options;
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date();
  }

  #expiresAt(now: Date): number {
    return Math.floor(now.getTime() / 1000) + this.#options.recordTtlDays * 86_400;
  }

  /**
   * DynamoDB's TTL deletes lazily (up to days late) and dynalite never does: an item whose `expiresAt`
   * has passed is treated as gone by every read, whether or not it was deleted yet.
   */
  #isExpired(item: Record<string, unknown>): boolean {
    return typeof item.expiresAt === 'number' && item.expiresAt <= Math.floor(this.#now().getTime() / 1000);
  }

  /** The PENDING record written before an upload URL is issued. */
  async createPending(upload: NewUpload): Promise<Prediction> {
    const now = this.#now();
    const createdAt = now.toISOString();
    const item: PredictionItem = {
      id: upload.id,
      status: 'PENDING',
      source: 'api',
      fileName: upload.fileName,
      createdAt,
      updatedAt: createdAt,
      bucket: upload.bucket,
      key: upload.key,
      ...(upload.callback ? { callback: upload.callback } : {}),
      // An upload URL that is never used must not leave a PENDING record for the full retention period.
      expiresAt:
        Math.floor(now.getTime() / 1000) +
        (this.#options.uploadUrlTtlSec ?? DEFAULT_UPLOAD_URL_TTL_SEC) +
        PENDING_GRACE_SEC,
      gsi1pk: PREDICTIONS_TABLE.listPartition,
      gsi1sk: `${createdAt}#${upload.id}`,
      ...(upload.speaker ? { speakerId: upload.speaker.speakerId, speakerScope: upload.speaker.scope } : {}),
    };
    await this.#doc.send(
      new PutCommand({
        TableName: this.#options.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(id)',
      }),
    );
    return toPrediction(item as unknown as Record<string, unknown>);
  }

  async get(id: string): Promise<Prediction | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#options.tableName, Key: { id }, ConsistentRead: true }),
    );
    return Item && !this.#isExpired(Item) ? toPrediction(Item) : undefined;
  }

  /** Newest first, from the `byCreatedAt` index (a Query, never a Scan). */
  async list({ limit, cursor }: { limit: number; cursor?: string | undefined }): Promise<PredictionPage> {
    const result = await this.#doc.send(
      new QueryCommand(
        newestFirstQuery(
          this.#options.tableName,
          PREDICTIONS_TABLE.listPartition,
          limit,
          cursor ? decodeCursor(cursor) : undefined,
        ),
      ),
    );
    const items = (result.Items ?? []).filter((item) => !this.#isExpired(item)).map(toPrediction);
    return result.LastEvaluatedKey ? { items, nextCursor: encodeCursor(result.LastEvaluatedKey) } : { items };
  }

  /**
   * Takes the object for processing: creates the record (drop folder) or moves it from PENDING to
   * PROCESSING (API upload), or takes over a PROCESSING claim whose lease ran out (a crashed attempt).
   */
  async claim(claim: ObjectClaim): Promise<ClaimResult> {
    const now = this.#now();
    const nowIso = now.toISOString();
    const nowSec = Math.floor(now.getTime() / 1000);
    try {
      const { Attributes } = await this.#doc.send(
        new UpdateCommand({
          TableName: this.#options.tableName,
          Key: { id: claim.id },
          ReturnValues: 'ALL_NEW',
          UpdateExpression: [
            'SET #status = :processing, objectVersion = :version, leaseExpiresAt = :lease, updatedAt = :now,',
            '#bucket = :bucket, #key = :key,',
            '#source = if_not_exists(#source, :source), fileName = if_not_exists(fileName, :fileName),',
            // The claim restarts the retention clock: a PENDING record's short expiry no longer applies.
            'createdAt = if_not_exists(createdAt, :now), expiresAt = :expiresAt,',
            'gsi1pk = if_not_exists(gsi1pk, :gsi1pk), gsi1sk = if_not_exists(gsi1sk, :gsi1sk)',
          ].join(' '),
          // An expired record counts as gone (TTL may not have deleted it yet): the object is processed afresh.
          ConditionExpression: [
            'attribute_not_exists(id) OR #status = :pending OR expiresAt <= :nowSec',
            'OR (#status = :processing AND leaseExpiresAt < :nowSec)',
            // New bytes under the same key (an upload URL used twice): the record follows the object.
            'OR (#status IN (:succeeded, :failed) AND objectVersion <> :version)',
          ].join(' '),
          ExpressionAttributeNames: {
            '#status': 'status',
            '#key': 'key',
            '#source': 'source',
            '#bucket': 'bucket',
          },
          ExpressionAttributeValues: {
            ':processing': 'PROCESSING',
            ':pending': 'PENDING',
            ':succeeded': 'SUCCEEDED',
            ':failed': 'FAILED',
            ':version': claim.objectVersion,
            ':lease': nowSec + this.#options.processingLeaseSec,
            ':now': nowIso,
            ':nowSec': nowSec,
            ':bucket': claim.bucket,
            ':key': claim.key,
            ':source': claim.source,
            ':fileName': claim.fileName,
            ':expiresAt': this.#expiresAt(now),
            ':gsi1pk': PREDICTIONS_TABLE.listPartition,
            ':gsi1sk': `${nowIso}#${claim.id}`,
          },
        }),
      );
      const callback = Attributes?.callback as CallbackTarget | undefined;
      return {
        claimed: true,
        prediction: toPrediction(Attributes ?? {}),
        ...(callback ? { callback } : {}),
        ...speakerOf(Attributes),
      };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { claimed: false, existing: await this.get(claim.id) };
    }
  }

  /**
   * The prediction as it will be stored once finished, without writing it: the processor writes the
   * drop-folder result file first and commits the record last, so a crash in between is retried.
   */
  finished(
    current: Prediction,
    outcome: { result: PredictionResult } | { error: NonNullable<Prediction['error']> },
  ): Prediction {
    const updatedAt = this.#now().toISOString();
    if ('error' in outcome) return { ...current, status: 'FAILED', updatedAt, error: outcome.error };
    const { emotion, confidence, probabilities, segments, durationSec, modelVersion, adaptation } =
      outcome.result;
    return {
      ...(adaptation ? { adaptation } : {}),
      ...current,
      status: 'SUCCEEDED',
      updatedAt,
      emotion,
      confidence,
      probabilities,
      segments,
      durationSec,
      modelVersion,
    };
  }

  /** Commits a finished prediction, only if this claim (same object version) still holds it. */
  async commit(prediction: Prediction, objectVersion: string): Promise<void> {
    const fields = Object.entries(prediction).filter(
      ([name]) => !['id', 'source', 'fileName', 'createdAt'].includes(name),
    );
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.#options.tableName,
        Key: { id: prediction.id },
        UpdateExpression: `SET ${fields.map((_, i) => `#f${i} = :f${i}`).join(', ')} REMOVE leaseExpiresAt`,
        ConditionExpression: '#status = :processing AND objectVersion = :version',
        ExpressionAttributeNames: {
          '#status': 'status',
          ...Object.fromEntries(fields.map(([name], i) => [`#f${i}`, name])),
        },
        ExpressionAttributeValues: {
          ':processing': 'PROCESSING',
          ':version': objectVersion,
          ...Object.fromEntries(fields.map(([, value], i) => [`:f${i}`, value])),
        },
      }),
    );
  }

  /** Gives a claim back after an infrastructure failure, so the retry of this event can take it. */
  async release(id: string, objectVersion: string): Promise<void> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#options.tableName,
          Key: { id },
          UpdateExpression: 'SET #status = :pending, updatedAt = :now REMOVE leaseExpiresAt',
          ConditionExpression: '#status = :processing AND objectVersion = :version',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':pending': 'PENDING',
            ':processing': 'PROCESSING',
            ':version': objectVersion,
            ':now': this.#now().toISOString(),
          },
        }),
      );
    } catch (error) {
      // Someone else finished or took over: nothing of ours to give back.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
