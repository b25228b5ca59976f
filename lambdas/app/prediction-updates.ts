/**
 * The conditional writes that take an object for processing (`claimUpdate`) or end its record FAILED
 * (`failUpdate`), and the pieces they share: what makes a record describe its object, which records a
 * write may take, and which result fields it drops. Pure functions returning the UpdateItem input; the
 * repository (prediction-repository.ts) sends it.
 */
import type { UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Prediction, PredictionSource } from './api-schemas.ts';
import type { RecordError } from './processing-errors.ts';
import { type SpeakerRef, speakerItemId } from './speaker-repository.ts';
import { PREDICTIONS_TABLE } from './table-definition.ts';

/** The object a claim or a failure is about, as its S3 event (or a replay, or the dead-letter recorder) names it. */
export interface ObjectClaim {
  id: string;
  source: PredictionSource;
  fileName: string;
  bucket: string;
  key: string;
  /** The object's versionId or ETag: which bytes this claim is about. */
  objectVersion: string;
  /**
   * The object's S3 versionId, when known (the versioned bucket on AWS; s3rver has none): stored as the
   * record's `objectVersionId`, so that a speaker's erasure deletes exactly that version, not the key.
   */
  versionId?: string;
  /** The S3 event's sequencer: orders the events of one key (a later upload has a greater one). */
  sequencer?: string;
  /**
   * When the object was created (the S3 event's time): a PENDING upload takes it if it came by the
   * upload's deadline, however late the event is processed. Unknown: the time of the write.
   */
  arrivedAt?: string;
  /** A drop-folder object's speaker (its folder): written on the record it creates or claims. */
  speaker?: SpeakerRef;
}

/** `markFailed`'s limits: only a dead-lettered record; never a record that does not exist. */
export interface FailOptions {
  onlyDeadLettered?: boolean | undefined;
  onlyExisting?: boolean | undefined;
}

/** Where and when a claim's write happens: the table, the time (`:now`), and the record's expiry from then. */
export interface ClaimWrite {
  tableName: string;
  now: Date;
  /** Epoch seconds, the table's TTL attribute. */
  expiresAt: number;
}

/** The attributes that put a record in its speaker's context and in the `bySpeaker` index. */
export const speakerAttributes = (ref: SpeakerRef) => ({
  speakerId: ref.speakerId,
  speakerScope: ref.scope,
  speakerKey: speakerItemId(ref),
});

/**
 * A sequencer in a form DynamoDB compares in S3's order: S3's rule is to right-pad the shorter hex
 * string with zeros, then compare as strings.
 */
export const comparableSequencer = (sequencer: string): string => sequencer.toUpperCase().padEnd(32, '0');

/** The fields a finished prediction carries: all dropped when an object is processed again. */
const RESULT_FIELDS = [
  'emotion',
  'confidence',
  'probabilities',
  'segments',
  'durationSec',
  'modelVersion',
  'adaptation',
  'lowConfidence',
  'error',
] as const satisfies readonly (keyof Prediction)[];

/** `REMOVE` clause (and its name placeholders) for the result fields absent from `keep`. */
export const removeResultFields = (keep: Partial<Prediction> = {}) => {
  const names = RESULT_FIELDS.filter((field) => keep[field] === undefined);
  return {
    clause: names.map((name) => `#r_${name}`).join(', '),
    names: Object.fromEntries(names.map((name) => [`#r_${name}`, name])),
  };
};

/**
 * The condition under which a PENDING upload's record may take an object: it has no deadline (a file
 * came before), or the object came by it (`:arrivedSec`, see `arrivalSec`).
 */
const PENDING_IN_TIME =
  '(#status = :pending AND (attribute_not_exists(uploadDeadline) OR uploadDeadline >= :arrivedSec))';

/** A record some object was claimed or failed for: not an upload ended by a read (`PredictionRepository`). */
const CLAIMED_ONCE = 'attribute_exists(objectVersion)';

/** The claim's arrival time in epoch seconds, or `now`'s when the event did not say. */
const arrivalSec = (claim: ObjectClaim, now: Date): number => {
  const arrived = claim.arrivedAt ? Date.parse(claim.arrivedAt) : Number.NaN;
  return Math.floor((Number.isNaN(arrived) ? now.getTime() : arrived) / 1000);
};

/**
 * The condition clause that lets a write create the record it does not find: only a drop-folder object's
 * (its record is derived from the object). An API upload's record is written before its URL is issued,
 * so one that is gone was erased (DELETE /speakers/{id}) or expired: its object is not taken, and no
 * record naming it comes back.
 */
const createsRecord = (claim: ObjectClaim): string =>
  claim.source === 'drop-folder' ? 'attribute_not_exists(id) OR ' : '';

/**
 * The SET clauses that make a record describe its object, whether the record exists (an API upload) or
 * not (the drop folder): where the object is (with its versionId, `objectVersionId`, when known; removed
 * when not, so it never names other bytes than `objectVersion`), and what only a new record gets (source,
 * file name, creation time, its place in the listing). Both writers set `:now`; `remove` goes into their
 * REMOVE clause.
 */
function objectFields(claim: ObjectClaim, { now, expiresAt }: ClaimWrite) {
  const sequencer = claim.sequencer ? comparableSequencer(claim.sequencer) : undefined;
  const speaker = claim.speaker ? speakerAttributes(claim.speaker) : undefined;
  return {
    set: [
      '#bucket = :bucket, #key = :key,',
      claim.versionId ? 'objectVersionId = :versionId,' : '',
      '#source = if_not_exists(#source, :source), fileName = if_not_exists(fileName, :fileName),',
      // The retention clock restarts from the object's claim.
      'createdAt = if_not_exists(createdAt, :now), expiresAt = :expiresAt,',
      'gsi1pk = if_not_exists(gsi1pk, :gsi1pk), gsi1sk = if_not_exists(gsi1sk, :gsi1sk)',
      sequencer ? ', objectSequencer = :sequencer' : '',
      speaker ? ', speakerId = :speakerId, speakerScope = :speakerScope, speakerKey = :speakerKey' : '',
    ].join(' '),
    remove: claim.versionId ? '' : ', objectVersionId',
    // Without a sequencer (a hand-made event) the order cannot be known: the newest claim wins.
    newerClause: sequencer
      ? ' AND (attribute_not_exists(objectSequencer) OR objectSequencer < :sequencer)'
      : '',
    names: { '#key': 'key', '#source': 'source', '#bucket': 'bucket' },
    values: {
      ...(sequencer ? { ':sequencer': sequencer } : {}),
      ...(claim.versionId ? { ':versionId': claim.versionId } : {}),
      ':bucket': claim.bucket,
      ':key': claim.key,
      ':source': claim.source,
      ':fileName': claim.fileName,
      ':expiresAt': expiresAt,
      ':gsi1pk': PREDICTIONS_TABLE.listPartition,
      ':gsi1sk': `${now.toISOString()}#${claim.id}`,
      ...(speaker
        ? {
            ':speakerId': speaker.speakerId,
            ':speakerScope': speaker.speakerScope,
            ':speakerKey': speaker.speakerKey,
          }
        : {}),
    },
  };
}

/**
 * `PredictionRepository.claim`'s write: the record moves to PROCESSING with a lease of
 * `processingLeaseSec`, if no one holds it and it is not finished for these bytes.
 */
export function claimUpdate(
  claim: ObjectClaim,
  write: ClaimWrite,
  processingLeaseSec: number,
): UpdateCommandInput {
  const { now } = write;
  const nowIso = now.toISOString();
  const nowSec = Math.floor(now.getTime() / 1000);
  const removal = removeResultFields();
  const object = objectFields(claim, write);
  return {
    TableName: write.tableName,
    Key: { id: claim.id },
    ReturnValues: 'ALL_NEW',
    UpdateExpression: [
      'SET #status = :processing, objectVersion = :version, leaseExpiresAt = :lease, updatedAt = :now,',
      object.set,
      // A file arrived: the upload's deadline no longer applies (`release` sets one again).
      `REMOVE ${removal.clause}, uploadDeadline${object.remove}`,
    ].join(' '),
    // An expired record counts as gone (TTL may not have deleted it yet): the object is processed afresh.
    // A PENDING upload takes only a file that came by its deadline (UPLOAD_EXPIRED otherwise).
    ConditionExpression: [
      `${createsRecord(claim)}expiresAt <= :nowSec OR ${PENDING_IN_TIME}`,
      'OR (#status = :processing AND leaseExpiresAt < :nowSec)',
      // New bytes under the same key (an upload URL used twice): the record follows the object, and
      // never goes back to older bytes whose event came late. An upload ended by a read (no objectVersion:
      // UPLOAD_EXPIRED, or its event never came) is final: neither this nor a replay takes it.
      `OR (#status IN (:succeeded, :failed) AND ${CLAIMED_ONCE} AND objectVersion <> :version${object.newerClause})`,
      // Dead-lettered: `ser replay` may finish it.
      `OR (#status = :failed AND #r_error.#code = :processingFailed AND ${CLAIMED_ONCE})`,
    ].join(' '),
    ExpressionAttributeNames: { '#status': 'status', '#code': 'code', ...object.names, ...removal.names },
    ExpressionAttributeValues: {
      ':processing': 'PROCESSING',
      ':pending': 'PENDING',
      ':succeeded': 'SUCCEEDED',
      ':failed': 'FAILED',
      ':processingFailed': 'PROCESSING_FAILED',
      ':version': claim.objectVersion,
      ':lease': nowSec + processingLeaseSec,
      ':now': nowIso,
      ':nowSec': nowSec,
      ':arrivedSec': arrivalSec(claim, now),
      ...object.values,
    },
  };
}

/** `PredictionRepository.markFailed`'s write: the record ends FAILED with `error`, within `options`' limits. */
export function failUpdate(
  claim: ObjectClaim,
  error: RecordError,
  { onlyDeadLettered, onlyExisting }: FailOptions,
  write: ClaimWrite,
): UpdateCommandInput {
  const { now } = write;
  const removal = removeResultFields({ error });
  const object = objectFields(claim, write);
  // PROCESSING_FAILED over PROCESSING_FAILED would only restart the record's retention.
  const deadLettered =
    error.code === 'PROCESSING_FAILED'
      ? []
      : ['(#status = :failed AND #error.#code = :processingFailed AND objectVersion = :version)'];
  const unfinished = onlyDeadLettered
    ? []
    : [`${onlyExisting ? '' : createsRecord(claim)}#status = :processing OR ${PENDING_IN_TIME}`];
  return {
    TableName: write.tableName,
    Key: { id: claim.id },
    ReturnValues: 'ALL_NEW',
    UpdateExpression: [
      'SET #status = :failed, #error = :error, updatedAt = :now, objectVersion = :version,',
      object.set,
      `REMOVE leaseExpiresAt${removal.clause ? `, ${removal.clause}` : ''}${object.remove}`,
    ].join(' '),
    // (Never empty: onlyDeadLettered is for OBJECT_DELETED and OBJECT_REPLACED.)
    ConditionExpression: [...unfinished, ...deadLettered].join(' OR '),
    ExpressionAttributeNames: {
      '#status': 'status',
      '#error': 'error',
      ...(deadLettered.length ? { '#code': 'code' } : {}),
      ...object.names,
      ...removal.names,
    },
    ExpressionAttributeValues: {
      ':failed': 'FAILED',
      ...(unfinished.length
        ? { ':pending': 'PENDING', ':processing': 'PROCESSING', ':arrivedSec': arrivalSec(claim, now) }
        : {}),
      ...(deadLettered.length ? { ':processingFailed': 'PROCESSING_FAILED' } : {}),
      ':error': error,
      ':now': now.toISOString(),
      ':version': claim.objectVersion,
      ...object.values,
    },
  };
}
