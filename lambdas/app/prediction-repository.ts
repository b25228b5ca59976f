import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { PredictionResult } from '../core/types.ts';
import type { Prediction, PredictionPage, PredictionSource, PredictionStatus } from './api-schemas.ts';
import { DEFAULT_UPLOAD_URL_TTL_SEC } from './config.ts';
import { ERASURE_MARKER_TTL_SEC, EVENT_MAX_AGE_HOURS } from './failure-path.ts';
import { isPredictionId } from './object-keys.ts';
import {
  decodeCursor,
  encodeCursor,
  type IndexPartition,
  LISTING,
  type Listing,
  mergePages,
  type Position,
  speakerPartition,
  speakersListing,
  startKeyAt,
} from './prediction-listing.ts';
import {
  type ClaimWrite,
  claimUpdate,
  type FailOptions,
  failUpdate,
  type ObjectClaim,
  removeResultFields,
  speakerAttributes,
} from './prediction-updates.ts';
import type { RecordError } from './processing-errors.ts';
import { erasureMarkerId, type SpeakerRef, speakerItemId } from './speaker-repository.ts';
import { isConditionalCheckFailed, newestFirstQuery, PREDICTIONS_TABLE } from './table-definition.ts';

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
  /** The object's S3 versionId, when the claim or failure that wrote the record knew it (`ObjectClaim`). */
  objectVersionId?: string;
  leaseExpiresAt?: number;
  /** PENDING only: past this (epoch seconds) no file can still arrive in time (see `#present`). */
  uploadDeadline?: number;
  callback?: CallbackTarget;
  expiresAt: number;
  gsi1pk: string;
  gsi1sk: string;
  /** Who owns `speakerId` (the API key): with it, the speaker's statistics item (speaker-repository.ts). */
  speakerScope?: string;
  /** The `bySpeaker` index's partition: the speaker's statistics item id (`speakerItemId`). */
  speakerKey?: string;
}

export interface NewUpload {
  id: string;
  fileName: string;
  bucket: string;
  key: string;
  speaker?: SpeakerRef | undefined;
  callback?: CallbackTarget;
}

/** A record as an erasure sees it: what it is, where its object is, and whether it is being processed. */
export interface SpeakerRecord {
  id: string;
  status: PredictionStatus;
  source: PredictionSource;
  bucket: string;
  key: string;
  /**
   * The S3 versionId of the object the record describes, when its writer knew it (the versioned bucket on
   * AWS; not s3rver, nor records written before it was stored): the erasure deletes that version.
   */
  objectVersionId?: string;
  /** When the record was first written (an upload's creation, a drop-folder object's first claim). */
  createdAt: string;
  /** PROCESSING with a live lease: a processor holds it. (One whose lease ran out was abandoned.) */
  beingProcessed: boolean;
}

/**
 * A prediction record written before the `bySpeaker` index (an older deployment): it names a speaker
 * but has no `speakerKey`, so its speaker's listing and erasure do not see it. Older API uploads carry
 * their `speakerScope`; older drop-folder records do not (their speaker is their folder: `key`). With
 * `withoutSpeaker`, also a drop-folder record with no `speakerId` at all (made before its folder's prefix
 * was configured).
 */
export interface UnindexedSpeakerRecord {
  id: string;
  speakerId?: string;
  speakerScope?: string;
  source: PredictionSource;
  key: string;
}

/** One page of `unindexedSpeakerRecords`: the items it read, those that matched, where to go on. */
export interface UnindexedSpeakerPage {
  scanned: number;
  records: UnindexedSpeakerRecord[];
  nextKey?: Record<string, unknown>;
}

/**
 * A prediction record, not another item of the table (speaker statistics, erasure markers, the model
 * registry, training jobs and their lock): a prediction id, in the listing's partition.
 */
const isPredictionRecord = (item: Record<string, unknown>): boolean =>
  typeof item.id === 'string' && isPredictionId(item.id) && item.gsi1pk === PREDICTIONS_TABLE.listPartition;

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
  'lowConfidence',
  'probabilities',
  'segments',
  'durationSec',
  'modelVersion',
  'error',
  'speakerId',
  'adaptation',
] as const satisfies readonly (keyof Prediction)[];

/** A stored record as the processor announces it: the prediction and, when asked for, its callback. */
function withCallback(item: Record<string, unknown>): { prediction: Prediction; callback?: CallbackTarget } {
  const callback = item.callback as CallbackTarget | undefined;
  return { prediction: toPrediction(item), ...(callback ? { callback } : {}) };
}

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

export interface PredictionRepositoryOptions {
  tableName: string;
  recordTtlDays: number;
  processingLeaseSec: number;
  /** A PENDING record waits for its file as long as its upload URL plus a grace (its `uploadDeadline`). */
  uploadUrlTtlSec?: number;
  now?: () => Date;
}

/**
 * Room for an upload that started just before its URL expired to finish and be noticed (S3 checks the
 * signature when a request starts): 25 MB in 15 minutes is a 230 kbit/s link.
 */
const PENDING_GRACE_SEC = 900;

/**
 * How long past its deadline an upload whose file came in time still reads PENDING: its S3 event may be
 * retried for `EVENT_MAX_AGE_HOURS` (then dead-lettered, which ends the record), plus the last attempt's
 * run and the dead-letter recorder's write. Locally events wait in one queue, as long as a batch takes.
 */
const EVENT_WAIT_SEC = EVENT_MAX_AGE_HOURS * 3600 + 2700;

/** The terminal state of an upload whose URL expired with no file: nothing can arrive any more. */
const uploadExpired = (deadline: number): Pick<Prediction, 'updatedAt' | 'error'> => ({
  updatedAt: new Date(deadline * 1000).toISOString(),
  error: {
    code: 'UPLOAD_EXPIRED',
    message: 'No file arrived before the upload URL expired; ask for a new upload (POST /uploads)',
  },
});

/** The terminal state of an upload whose file came in time but whose event never got it processed. */
const neverProcessed = (deadline: number): Pick<Prediction, 'updatedAt' | 'error'> => ({
  updatedAt: new Date((deadline + EVENT_WAIT_SEC) * 1000).toISOString(),
  error: {
    code: 'PROCESSING_FAILED',
    message: `The file arrived but was not processed within ${EVENT_MAX_AGE_HOURS} hours; upload it again (POST /uploads)`,
  },
});

/** The terminal state of a claim given back after a failed attempt whose retry never came. */
const neverRetried = (deadline: number): Pick<Prediction, 'updatedAt' | 'error'> => ({
  updatedAt: new Date((deadline + EVENT_WAIT_SEC) * 1000).toISOString(),
  error: {
    code: 'PROCESSING_FAILED',
    message: 'Processing of the file failed and was never retried; send the file again',
  },
});

/** S3's answer to a HEAD of a missing key: 404, or 403 to a role without s3:ListBucket (the API's). */
const isMissingObject = (error: unknown): boolean => {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 404 || status === 403;
};

/**
 * Prediction records in DynamoDB. The record is also the idempotency record for S3 events: `claim` is
 * one conditional write keyed by the prediction id (derived from the object) and the object's
 * version/ETag, so a duplicate event sees SUCCEEDED/FAILED (or a live PROCESSING lease) and does nothing.
 * In order: a record's life (createPending, get, claim, markFailed, finished, commit, dropClaim,
 * release), the listings (prediction-listing.ts pages them), then a speaker's records (the erasure's and
 * the backfill's reads and writes, the erasure marker). The claim's and the failure's writes are built in
 * prediction-updates.ts.
 */
export class PredictionRepository {
  readonly #doc: DynamoDBDocumentClient;
  readonly #options: PredictionRepositoryOptions;

  readonly #uploads: S3Client | undefined;

  /**
   * `uploads`: the S3 client that looks for an upload's file once its deadline has passed (one HEAD per
   * record, which then ends for good). Without it (writers that never read an upload: the dead-letter
   * recorder, the backfill) such a record reads PENDING.
   */
  constructor(doc: DynamoDBDocumentClient, options: PredictionRepositoryOptions, uploads?: S3Client) {
    this.#doc = doc;
    this.#options = options;
    this.#uploads = uploads;
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date();
  }

  /** Epoch seconds, as the table's TTL and leases count them. */
  #nowSec(): number {
    return Math.floor(this.#now().getTime() / 1000);
  }

  #expiresAt(now: Date): number {
    return Math.floor(now.getTime() / 1000) + this.#options.recordTtlDays * 86_400;
  }

  /** A claim's write now (prediction-updates.ts): this table, and the record's retention from now. */
  #claimWrite(): ClaimWrite {
    const now = this.#now();
    return { tableName: this.#options.tableName, now, expiresAt: this.#expiresAt(now) };
  }

  /**
   * DynamoDB's TTL deletes lazily (up to days late) and dynalite never does: an item whose `expiresAt`
   * has passed is treated as gone by every read, whether or not it was deleted yet.
   */
  #isExpired(item: Record<string, unknown>): boolean {
    return typeof item.expiresAt === 'number' && item.expiresAt <= this.#nowSec();
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
      // An upload URL that is never used must not leave the record PENDING: past this it reads FAILED.
      uploadDeadline:
        Math.floor(now.getTime() / 1000) +
        (this.#options.uploadUrlTtlSec ?? DEFAULT_UPLOAD_URL_TTL_SEC) +
        PENDING_GRACE_SEC,
      expiresAt: this.#expiresAt(now),
      gsi1pk: PREDICTIONS_TABLE.listPartition,
      gsi1sk: `${createdAt}#${upload.id}`,
      ...(upload.speaker ? speakerAttributes(upload.speaker) : {}),
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
    if (!isPredictionId(id)) return undefined;
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#options.tableName, Key: { id }, ConsistentRead: true }),
    );
    return Item && isPredictionRecord(Item) && !this.#isExpired(Item) ? await this.#present(Item) : undefined;
  }

  /**
   * A stored record as readers see it. A PENDING upload past its deadline is ended for good: with no file
   * that came in time, UPLOAD_EXPIRED; with one, once its event can no longer come, PROCESSING_FAILED.
   */
  async #present(item: Record<string, unknown>): Promise<Prediction> {
    const deadline = item.uploadDeadline;
    const nowSec = this.#nowSec();
    if (item.status !== 'PENDING' || typeof deadline !== 'number' || deadline >= nowSec) {
      return toPrediction(item);
    }
    // A claim given back (`release`) names the object it took: its file came, only a retry can still come.
    if (item.objectVersion !== undefined) {
      if (nowSec < deadline + EVENT_WAIT_SEC) return toPrediction(item);
      return this.#endPending(item, deadline, neverRetried(deadline));
    }
    if (!this.#uploads) return toPrediction(item);
    const arrived = await this.#arrival(item.bucket as string, item.key as string);
    const inTime = arrived !== undefined && Math.floor(arrived.getTime() / 1000) <= deadline;
    if (inTime && nowSec < deadline + EVENT_WAIT_SEC) return toPrediction(item);
    return this.#endPending(item, deadline, inTime ? neverProcessed(deadline) : uploadExpired(deadline));
  }

  /** When the upload's file was written (S3's LastModified), or undefined when there is none. */
  async #arrival(bucket: string, key: string): Promise<Date | undefined> {
    try {
      const head = await this.#uploads!.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      // S3 always sends it; without it the arrival is unknown, and waiting is the answer that can't be wrong.
      return head.LastModified ?? new Date(0);
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
  }

  /**
   * Stores a PENDING upload's end, if it is still the PENDING record read (a claim removes its deadline),
   * so that it never reads otherwise again; the claim refuses a record that never had an object
   * (`claimUpdate`). Lost to a claim or a release: the record as that write left it.
   */
  async #endPending(
    item: Record<string, unknown>,
    deadline: number,
    end: Pick<Prediction, 'updatedAt' | 'error'>,
  ): Promise<Prediction> {
    const { uploadDeadline: _, ...rest } = item;
    const ended = { ...rest, status: 'FAILED', ...end };
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#options.tableName,
          Item: ended,
          ConditionExpression: '#status = :pending AND uploadDeadline = :deadline',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'PENDING', ':deadline': deadline },
        }),
      );
      return toPrediction(ended);
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const { Item } = await this.#doc.send(
        new GetCommand({ TableName: this.#options.tableName, Key: { id: item.id }, ConsistentRead: true }),
      );
      return toPrediction(Item ?? ended);
    }
  }

  /**
   * Takes the object for processing: creates the record (drop folder) or moves it from PENDING to
   * PROCESSING (API upload), or takes over a PROCESSING claim whose lease ran out (a crashed attempt), a
   * record whose processing was dead-lettered (a replay), or one finished for other bytes (a re-upload).
   * Every previous result field is removed: a record is replaced, never merged.
   */
  async claim(claim: ObjectClaim): Promise<ClaimResult> {
    try {
      const { Attributes } = await this.#doc.send(
        new UpdateCommand(claimUpdate(claim, this.#claimWrite(), this.#options.processingLeaseSec)),
      );
      const callback = Attributes?.callback as CallbackTarget | undefined;
      return {
        claimed: true,
        prediction: toPrediction(Attributes ?? {}),
        ...(callback ? { callback } : {}),
        ...speakerOf(Attributes),
      };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      return { claimed: false, existing: await this.get(claim.id) };
    }
  }

  /**
   * Ends a record FAILED with `error` unless it is already finished: the object was deleted or replaced
   * before it was read, or its event was dead-lettered (PROCESSING_FAILED; `ser replay` may still finish
   * it). A dead-lettered record of the same bytes is finished too (its replay found the object gone or
   * replaced); with `onlyDeadLettered`, nothing else is. Creates the record when there is none (a
   * drop-folder object whose processing never got to claim it), unless `onlyExisting` (an object that is
   * gone: a missing record may have been erased, and must stay so). Returns the record it wrote, or one that
   * already ended with this failure of these bytes, unchanged (a retry whose first attempt wrote but could
   * not announce it announces it: the event id is the same); otherwise undefined.
   */
  async markFailed(
    claim: ObjectClaim,
    error: RecordError,
    options: FailOptions = {},
  ): Promise<{ prediction: Prediction; callback?: CallbackTarget } | undefined> {
    try {
      const { Attributes } = await this.#doc.send(
        new UpdateCommand(failUpdate(claim, error, options, this.#claimWrite())),
      );
      return withCallback(Attributes ?? {});
    } catch (failure) {
      if (!isConditionalCheckFailed(failure)) throw failure;
      const { Item } = await this.#doc.send(
        new GetCommand({ TableName: this.#options.tableName, Key: { id: claim.id }, ConsistentRead: true }),
      );
      const sameFailure =
        Item?.status === 'FAILED' &&
        Item.objectVersion === claim.objectVersion &&
        (Item.error as RecordError | undefined)?.code === error.code;
      return sameFailure ? withCallback(Item) : undefined;
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
    const {
      emotion,
      confidence,
      lowConfidence,
      probabilities,
      segments,
      durationSec,
      modelVersion,
      adaptation,
    } = outcome.result;
    return {
      ...(adaptation ? { adaptation } : {}),
      ...current,
      status: 'SUCCEEDED',
      updatedAt,
      emotion,
      confidence,
      ...(lowConfidence === undefined ? {} : { lowConfidence }),
      probabilities,
      segments,
      durationSec,
      modelVersion,
    };
  }

  /** Commits a finished prediction, only if this claim (same object version) still holds it. */
  async commit(prediction: Prediction, objectVersion: string): Promise<void> {
    const fields = Object.entries(prediction).filter(
      ([name, value]) => value !== undefined && !['id', 'source', 'fileName', 'createdAt'].includes(name),
    );
    // Fields of another outcome (an error after a success, or the reverse) must not survive.
    const removal = removeResultFields(prediction);
    const remove = ['leaseExpiresAt', ...(removal.clause ? [removal.clause] : [])].join(', ');
    await this.#doc.send(
      new UpdateCommand({
        TableName: this.#options.tableName,
        Key: { id: prediction.id },
        UpdateExpression: `SET ${fields.map((_, i) => `#f${i} = :f${i}`).join(', ')} REMOVE ${remove}`,
        ConditionExpression: '#status = :processing AND objectVersion = :version',
        ExpressionAttributeNames: {
          '#status': 'status',
          ...removal.names,
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

  /**
   * Deletes a record this claim (same object version) created or took and still holds: a drop-folder
   * object found, once claimed, to belong to a speaker erased since it came. Held by nobody else then,
   * or no longer ours: left.
   */
  async dropClaim(id: string, objectVersion: string): Promise<void> {
    try {
      await this.#doc.send(
        new DeleteCommand({
          TableName: this.#options.tableName,
          Key: { id },
          ConditionExpression: '#status = :processing AND objectVersion = :version',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':processing': 'PROCESSING', ':version': objectVersion },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /**
   * Gives a claim back after an infrastructure failure, so the retry of this event can take it. The claim
   * removed the upload's deadline; it gets one again, now plus the grace (its file came before; the grace
   * covers S3's clock running ahead of ours): a retry still takes the file, and a record no retry or
   * dead letter ever finishes ends FAILED PROCESSING_FAILED (`neverRetried`) instead of PENDING for good.
   */
  async release(id: string, objectVersion: string): Promise<void> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#options.tableName,
          Key: { id },
          UpdateExpression:
            'SET #status = :pending, updatedAt = :now, uploadDeadline = :deadline REMOVE leaseExpiresAt',
          ConditionExpression: '#status = :processing AND objectVersion = :version',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':pending': 'PENDING',
            ':processing': 'PROCESSING',
            ':version': objectVersion,
            ':now': this.#now().toISOString(),
            ':deadline': this.#nowSec() + PENDING_GRACE_SEC,
          },
        }),
      );
    } catch (error) {
      // Someone else finished or took over: nothing of ours to give back.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  /** Newest first, from the `byCreatedAt` index (a Query, never a Scan). */
  async list({ limit, cursor }: { limit: number; cursor?: string | undefined }): Promise<PredictionPage> {
    return this.#listPage(LISTING, limit, cursor);
  }

  /**
   * One speaker's records (of its scopes, never another's), newest first, from the `bySpeaker` index.
   * Several scopes (a drop-folder speaker under each speaker prefix) are one listing: their records
   * merged newest first, paged by one cursor; none, an empty one.
   */
  async listBySpeaker(
    refs: SpeakerRef | readonly SpeakerRef[],
    { limit, cursor }: { limit: number; cursor?: string | undefined },
  ): Promise<PredictionPage> {
    return this.#listPage(speakersListing([refs].flat()), limit, cursor);
  }

  async #listPage(listing: Listing, limit: number, cursor: string | undefined): Promise<PredictionPage> {
    const position = cursor ? decodeCursor(cursor, listing) : undefined;
    const { page, more } = await this.#mergedPage(listing, limit, position);
    const items = await Promise.all(
      page.filter((item) => !this.#isExpired(item)).map((item) => this.#present(item)),
    );
    const last = page.at(-1);
    return more && last ? { items, nextCursor: encodeCursor(last, listing) } : { items };
  }

  /** The `limit` newest items of a listing's partitions after `position`, and whether there are more. */
  async #mergedPage(listing: Listing, limit: number, position: Position | undefined) {
    const pages = await Promise.all(
      listing.values.map((value) => {
        const partition = { index: listing.index, value };
        return this.#query(partition, limit, position && startKeyAt(position, partition));
      }),
    );
    return mergePages(listing, pages, limit);
  }

  /**
   * Up to `limit` items of one index partition, newest first, and the key to go on from when there are
   * more. One item more than asked: a next key only when there is a next page (DynamoDB's
   * LastEvaluatedKey is also set when the page merely ended at the last item, which gave clients an
   * empty last page).
   */
  async #query(partition: IndexPartition, limit: number, startKey?: Record<string, unknown>) {
    const { index, value } = partition;
    const result = await this.#doc.send(
      new QueryCommand(newestFirstQuery(this.#options.tableName, value, limit + 1, startKey, index)),
    );
    const found = result.Items ?? [];
    const page = found.slice(0, limit);
    const last = page.at(-1);
    const { partitionKey } = PREDICTIONS_TABLE;
    const nextKey =
      found.length > limit && last
        ? {
            [partitionKey]: last[partitionKey],
            [index.partitionKey]: last[index.partitionKey],
            [index.sortKey]: last[index.sortKey],
          }
        : result.LastEvaluatedKey;
    return { page, nextKey };
  }

  /**
   * The speaker's `limit` newest records, expired ones included (they still name the speaker until TTL
   * deletes them), for an erasure; `more` when it has others.
   */
  async speakerRecords(ref: SpeakerRef, limit: number): Promise<{ records: SpeakerRecord[]; more: boolean }> {
    const { page, nextKey } = await this.#query(speakerPartition(ref), limit);
    const nowSec = this.#nowSec();
    const records = page.map(
      ({ id, status, source, bucket, key, objectVersionId, createdAt, leaseExpiresAt }) => ({
        id,
        status,
        source,
        bucket,
        key,
        ...(typeof objectVersionId === 'string' ? { objectVersionId } : {}),
        createdAt,
        // As the claim sees it: a lease that ran out (a crashed or stopped processor) is taken over.
        beingProcessed:
          status === 'PROCESSING' && !(typeof leaseExpiresAt === 'number' && leaseExpiresAt < nowSec),
      }),
    );
    return { records: records as SpeakerRecord[], more: nextKey !== undefined };
  }

  /**
   * One page of a Scan for records that name a speaker but are not in the `bySpeaker` index (written by
   * an older deployment): the one-off backfill's read (`ser backfill-speakers`), never a request path's.
   * `pageSize`: items read per page (DynamoDB's default: up to 1 MB). `withoutSpeaker`: drop-folder
   * records without a `speakerId` too.
   */
  async unindexedSpeakerRecords(
    startKey?: Record<string, unknown>,
    pageSize?: number,
    withoutSpeaker = false,
  ): Promise<UnindexedSpeakerPage> {
    const named = withoutSpeaker
      ? '(attribute_exists(speakerId) OR #source = :dropFolder)'
      : 'attribute_exists(speakerId)';
    const page = await this.#doc.send(
      new ScanCommand({
        TableName: this.#options.tableName,
        FilterExpression: `gsi1pk = :listing AND ${named} AND attribute_not_exists(speakerKey)`,
        ExpressionAttributeValues: {
          ':listing': PREDICTIONS_TABLE.listPartition,
          ...(withoutSpeaker ? { ':dropFolder': 'drop-folder' } : {}),
        },
        ProjectionExpression: 'id, gsi1pk, speakerId, speakerScope, #source, #key',
        ExpressionAttributeNames: { '#source': 'source', '#key': 'key' },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        ...(pageSize ? { Limit: pageSize } : {}),
      }),
    );
    const records = (page.Items ?? [])
      .filter((item) => isPredictionRecord(item))
      .map(({ id, speakerId, speakerScope, source, key }) => ({
        id,
        ...(typeof speakerId === 'string' ? { speakerId } : {}),
        ...(typeof speakerScope === 'string' ? { speakerScope } : {}),
        source,
        key,
      })) as UnindexedSpeakerRecord[];
    return {
      scanned: page.ScannedCount ?? 0,
      records,
      ...(page.LastEvaluatedKey ? { nextKey: page.LastEvaluatedKey } : {}),
    };
  }

  /**
   * Puts a record written before the `bySpeaker` index into it, with the speaker attributes a new record
   * gets. Only if it still names this speaker (or, `assign`, no speaker: it is given this one), with this
   * scope or none, and is not indexed yet: safe to
   * run twice, or beside the processor and the erasure (a record deleted meanwhile is not recreated).
   * Whether it was written (false: indexed, changed or deleted meanwhile).
   */
  async indexSpeakerRecord(id: string, ref: SpeakerRef, assign = false): Promise<boolean> {
    const { speakerId, speakerScope, speakerKey } = speakerAttributes(ref);
    const named = assign ? 'attribute_not_exists(speakerId)' : 'speakerId = :speakerId';
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#options.tableName,
          Key: { id },
          UpdateExpression:
            'SET speakerId = :speakerId, speakerScope = :speakerScope, speakerKey = :speakerKey',
          ConditionExpression:
            `attribute_exists(id) AND attribute_not_exists(speakerKey) AND ${named} AND ` +
            '(attribute_not_exists(speakerScope) OR speakerScope = :speakerScope)',
          ExpressionAttributeValues: {
            ':speakerId': speakerId,
            ':speakerScope': speakerScope,
            ':speakerKey': speakerKey,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Deletes one of the speaker's records unless it is being processed (PROCESSING with a live lease: its
   * processor is reading the object and will write the outcome; the erasure comes back for it). One whose
   * lease ran out is deleted: its processor is gone (or, if merely slow, its commit then fails and the
   * retry finds the object gone and writes nothing; a result file it wrote before its commit is deleted
   * by the processor once it finds the record gone). Whether it was deleted (false: held, or already gone).
   */
  async deleteSpeakerRecord(id: string, ref: SpeakerRef): Promise<boolean> {
    try {
      await this.#doc.send(
        new DeleteCommand({
          TableName: this.#options.tableName,
          Key: { id },
          ConditionExpression:
            'speakerKey = :speakerKey AND (#status <> :processing OR leaseExpiresAt < :nowSec)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':speakerKey': speakerItemId(ref),
            ':processing': 'PROCESSING',
            ':nowSec': this.#nowSec(),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Marks the speaker erased now (before its records are deleted): an object of it that came by now and
   * whose event is still retried, dead-lettered or replayed, or the file of an upload created by now, must
   * not bring a record back (`erasedAfter`).
   * The marker holds the time only, and lives as long as such an event can (`ERASURE_MARKER_TTL_SEC`);
   * a later erasure moves it on. Its time (`erasedAt`).
   */
  async markErased(ref: SpeakerRef): Promise<string> {
    const now = this.#now();
    await this.#doc.send(
      new PutCommand({
        TableName: this.#options.tableName,
        Item: {
          id: erasureMarkerId(ref),
          erasedAt: now.toISOString(),
          expiresAt: Math.floor(now.getTime() / 1000) + ERASURE_MARKER_TTL_SEC,
        },
      }),
    );
    return now.toISOString();
  }

  /**
   * Whether the speaker was erased when, or after, an object of it arrived (`arrivedAt`: the S3 event's
   * time, or the object's LastModified): such an object was erased with the speaker, and gets no record.
   * An arrival that is not known counts as before an erasure that is. One GetItem.
   */
  async erasedAfter(ref: SpeakerRef, arrivedAt: string | Date | undefined): Promise<boolean> {
    return this.markerCovers(await this.erasureMarker(ref), arrivedAt);
  }

  /** The speaker's erasure marker as stored (read consistently), or undefined. One GetItem. */
  async erasureMarker(ref: SpeakerRef): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#options.tableName,
        Key: { id: erasureMarkerId(ref) },
        ConsistentRead: true,
      }),
    );
    return Item;
  }

  /** `erasedAfter` for a marker already read (`erasureMarker`, or with the statistics: speaker-repository.ts). */
  markerCovers(marker: Record<string, unknown> | undefined, arrivedAt: string | Date | undefined): boolean {
    if (!marker || this.#isExpired(marker)) return false;
    const arrived = arrivedAt === undefined ? Number.NaN : new Date(arrivedAt).getTime();
    return Number.isNaN(arrived) || arrived <= Date.parse(marker.erasedAt as string);
  }
}
