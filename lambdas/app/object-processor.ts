import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { fileSizeProblem } from '../core/audio/limits.ts';
import { isSerError, type SerError } from '../core/errors.ts';
import { adaptationKey } from '../core/features/speaker-normalization.ts';
import { isTerminalStatus } from './api-schemas.ts';
import {
  classifyKey,
  dropFolderId,
  dropFolderKeyProblem,
  type ObjectOrigin,
  resultKey,
} from './object-keys.ts';
import { type PredictionEventPublisher, predictionEvent } from './prediction-events.ts';
import type {
  CallbackTarget,
  ClaimResult,
  Prediction,
  PredictionRepository,
} from './prediction-repository.ts';
import type { FailOptions, ObjectClaim } from './prediction-updates.ts';
import type { RecordError } from './processing-errors.ts';
import type { S3ObjectRef } from './s3-event.ts';
import {
  type AdaptingPredictor,
  dropFolderSpeaker,
  dropFolderSpeakerProblem,
  type KnownStatistics,
  predictForSpeaker,
  type SpeakerPrediction,
} from './speaker-context.ts';
import type { SpeakerRef, SpeakerRepository } from './speaker-repository.ts';
import { isConditionalCheckFailed } from './table-definition.ts';

/** The slice of the core's `Predictor` the processor needs. */
export interface AudioPredictor extends AdaptingPredictor {
  readonly modelVersion: string;
}

export interface ObjectProcessorDeps {
  s3: S3Client;
  repository: PredictionRepository;
  predictor: AudioPredictor;
  maxUploadBytes: number;
  maxDurationSec: number;
  /** Speaker statistics; without it a `speakerId` only labels the prediction. */
  speakers?: SpeakerRepository;
  /** Drop-folder prefixes whose next folder is a speaker (`DROP_FOLDER_SPEAKER_PREFIXES`). */
  speakerFolders?: readonly string[];
  /** Announces each terminal prediction (EventBridge on AWS); none: no events. */
  events?: PredictionEventPublisher;
}

export type ProcessOutcome =
  | { outcome: 'ignored'; reason: string }
  /** An object of a speaker erased since it came: no record, and the object deleted (`erasedWithSpeaker`). */
  | { outcome: 'erased'; reason: string }
  | { outcome: 'duplicate'; id: string; status: string | undefined }
  | {
      outcome: 'succeeded' | 'failed';
      id: string;
      prediction: Prediction;
      resultKey?: string;
      /** Something the operator should hear of, though the object was processed (logged by the handler). */
      warning?: string;
    };

/** A processed object's outcome: its prediction (SUCCEEDED, or FAILED with the audio's code). */
type Processed = Extract<ProcessOutcome, { prediction: Prediction }>;

const isNotFound = (error: unknown): boolean =>
  error instanceof Error && (error.name === 'NotFound' || error.name === 'NoSuchKey');

/** An ETag as S3 events carry it: without the quotes the HTTP header has. */
export const plainETag = (eTag: string | undefined): string => (eTag ?? '').replaceAll('"', '');

/**
 * Another attempt holds a live claim on this object (a concurrent duplicate event, or a crashed attempt
 * whose lease has not run out). Thrown so that Lambda retries the event later, and after the last retry
 * the DLQ keeps it: returning would drop the event while nothing guarantees the holder ever finishes.
 */
export class ClaimHeldError extends Error {
  override readonly name = 'ClaimHeldError';
}

/**
 * The bytes under the key are no longer those the event is about: a later upload replaced them, and its
 * own event finishes the key's record. Only a record these bytes' event dead-lettered (and `ser replay`
 * now brings back) is ended here, OBJECT_REPLACED: no other event will come for it.
 */
async function endSuperseded(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  origin: ObjectOrigin,
): Promise<ProcessOutcome> {
  const reason = `superseded by a newer object: ${ref.key}`;
  if (!ref.eTag) return { outcome: 'ignored', reason };
  const error: RecordError = {
    code: 'OBJECT_REPLACED',
    message: `The object ${ref.key} was replaced before it could be read; the newer bytes are processed by their own event`,
  };
  const claim = objectClaim(ref, origin, plainETag(ref.eTag), { speakerFolders: deps.speakerFolders });
  await endFailed(deps, ref, claim, error, {
    onlyDeadLettered: true,
  });
  return { outcome: 'ignored', reason };
}

/** The object a result file is about, as S3 named it when it was written (ETag without quotes). */
const resultObject = (ref: S3ObjectRef, eTag: string) => ({
  key: ref.key,
  eTag,
  ...(ref.versionId ? { versionId: ref.versionId } : {}),
});

/** The event names other bytes than the key's current object: another version, or (unversioned) ETag. */
export function isSuperseded(ref: S3ObjectRef, current: Head): boolean {
  if (ref.versionId && current.VersionId) return ref.versionId !== current.VersionId;
  return !ref.versionId && ref.eTag !== undefined && plainETag(ref.eTag) !== plainETag(current.ETag);
}

/** The model, not the audio, is at fault: retried like any infrastructure fault, never stored as FAILED. */
const isInputError = (error: unknown): error is SerError =>
  isSerError(error) && error.code !== 'MODEL_INVALID';

/**
 * Which bytes an event is about: the versionId on a versioned bucket; otherwise the ETag plus the event's
 * sequencer, so the same bytes uploaded again after different ones (sad → angry → sad) are a new version
 * while a duplicate delivery of one event is not.
 */
export const objectVersionOf = (ref: S3ObjectRef, eTag: string, headVersionId?: string): string =>
  ref.versionId ?? headVersionId ?? (ref.sequencer ? `${eTag}@${ref.sequencer}` : eTag);

/**
 * The record a created object maps to: the API upload's own id, or one derived from the drop-folder
 * object, with the speaker its folder names (`speakerFolders`, DROP_FOLDER_SPEAKER_PREFIXES), if any.
 */
export function objectClaim(
  ref: S3ObjectRef,
  origin: ObjectOrigin,
  eTag: string,
  { headVersionId, speakerFolders }: { headVersionId?: string; speakerFolders?: readonly string[] } = {},
): ObjectClaim {
  const objectVersion = objectVersionOf(ref, eTag, headVersionId);
  const versionId = ref.versionId ?? headVersionId;
  const speaker =
    origin.source === 'drop-folder' ? dropFolderSpeaker(origin.relativePath, speakerFolders) : undefined;
  return {
    id: origin.source === 'api' ? origin.id : dropFolderId(ref.bucket, ref.key, objectVersion),
    source: origin.source,
    fileName: origin.fileName,
    bucket: ref.bucket,
    key: ref.key,
    objectVersion,
    ...(versionId ? { versionId } : {}),
    ...(ref.sequencer ? { sequencer: ref.sequencer } : {}),
    ...(ref.eventTime ? { arrivedAt: ref.eventTime } : {}),
    ...(speaker ? { speaker } : {}),
  };
}

type Head = Pick<GetObjectCommandOutput, 'ContentLength' | 'ETag' | 'VersionId'>;

/**
 * GetObject of the key's current object, its headers read and its body not yet (not the event's version:
 * whether that is still the latest is the question, and when it is, these are its bytes), or `undefined`
 * when the key is gone. One request where HeadObject and then GetObject were two: on AWS a saved S3 round
 * trip per event. The caller reads or discards the body (`discardBody`).
 */
async function openObject(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
): Promise<GetObjectCommandOutput | undefined> {
  try {
    return await deps.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Closes an opened object's body that was not (or not wholly) read, so its connection is not held. */
const discardBody = (object: GetObjectCommandOutput): void => {
  if (object.Body instanceof Readable) object.Body.destroy();
};

const deletedError = (key: string): RecordError => ({
  code: 'OBJECT_DELETED',
  message: `The object ${key} was deleted before it could be read`,
});

/**
 * Ends a record FAILED outside the normal path (a deleted object, a dead-lettered or failed replay)
 * unless it is already finished, and announces it like every terminal record, so a callback does not
 * wait forever. Returns the record it ended (or found ended so, to announce again), or undefined.
 */
async function endFailed(
  deps: {
    repository: Pick<PredictionRepository, 'markFailed'>;
    events?: PredictionEventPublisher | undefined;
  },
  ref: S3ObjectRef,
  claim: ObjectClaim,
  error: RecordError,
  options: FailOptions = {},
): Promise<Prediction | undefined> {
  const marked = await deps.repository.markFailed(claim, error, options);
  if (!marked) return undefined;
  await announceEnded(deps.events, ref, claim, marked);
  return marked.prediction;
}

/** Announces a record ended outside the normal path, like every terminal record (its event and callback). */
export async function announceEnded(
  events: PredictionEventPublisher | undefined,
  ref: S3ObjectRef,
  claim: ObjectClaim,
  ended: { prediction: Prediction; callback?: CallbackTarget | undefined },
): Promise<void> {
  const context = { bucket: ref.bucket, key: ref.key, objectVersion: claim.objectVersion };
  await events?.publish(predictionEvent(ended.prediction, { ...context, callback: ended.callback }));
}

/**
 * Deleted before we got to it: the record (if the event says which one) ends FAILED, not PENDING. Only a
 * record that exists: an object that is gone and has no record needs none, and a record erased with its
 * object (DELETE /speakers/{id}) must not come back when a retry or a replay of its event finds it gone.
 */
async function endDeleted(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  origin: ObjectOrigin,
): Promise<ProcessOutcome> {
  if (origin.source === 'drop-folder' && !ref.eTag)
    return { outcome: 'ignored', reason: `object is gone: ${ref.key}` };
  const claim = objectClaim(ref, origin, plainETag(ref.eTag), { speakerFolders: deps.speakerFolders });
  await endFailed(deps, ref, claim, deletedError(ref.key), { onlyExisting: true });
  return { outcome: 'ignored', reason: `object is gone: ${ref.key}` };
}

/**
 * Turns one created S3 object into a finished prediction. Bad audio (a `SerError` from the core, or
 * a size over the limit), a key that cannot have a result, or an object replaced or deleted while being
 * read ends as a FAILED record with its code and is not retried; anything else is an infrastructure
 * fault: the claim is released and the error rethrown, so Lambda's retries and then the on-failure
 * destination take the event (which ends the record PROCESSING_FAILED, see dead-letter.ts). The object
 * is never moved, and deleted only when it is an API upload whose record was erased (`notClaimed`) or
 * created before its speaker's erasure (`erasedUpload`).
 */
export async function processObject(deps: ObjectProcessorDeps, ref: S3ObjectRef): Promise<ProcessOutcome> {
  const origin = classifyKey(ref.key);
  if (!origin) {
    // A console's "create folder" writes an empty object whose key ends in "/": not a file.
    const why = ref.key.endsWith('/') ? 'a folder marker, not a file' : 'key outside uploads/ and incoming/';
    return { outcome: 'ignored', reason: `${why}: ${ref.key}` };
  }
  const object = await openObject(deps, ref);
  if (!object) return endDeleted(deps, ref, origin);
  try {
    // An event for bytes the key no longer holds (late or out of order): the newer object's own event
    // finishes the record, and this one must not overwrite it with the older bytes' prediction.
    if (isSuperseded(ref, object)) return await endSuperseded(deps, ref, origin);
    return await processCurrent(deps, ref, origin, object);
  } finally {
    discardBody(object);
  }
}

/** Claims the record of the event's object, which is the key's current one (`object`), and finishes it. */
async function processCurrent(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  origin: ObjectOrigin,
  object: GetObjectCommandOutput,
): Promise<ProcessOutcome> {
  const eTag = plainETag(ref.eTag ?? object.ETag);
  const claimed = objectClaim(ref, origin, eTag, {
    headVersionId: object.VersionId,
    speakerFolders: deps.speakerFolders,
  });
  const claim = await deps.repository.claim(claimed);
  if (!claim.claimed) return notClaimed(deps, ref, origin, claimed.id, claim.existing?.status);
  const warning =
    origin.source === 'drop-folder'
      ? dropFolderSpeakerProblem(origin.relativePath, deps.speakerFolders)
      : undefined;
  try {
    // The claimed record carries its speaker: the upload's, or the drop-folder object's (the claim's).
    const speaker = await readSpeaker(deps, claimed.speaker ?? claim.speaker);
    const erased =
      (await erasedWithSpeaker(deps, ref, claimed, object, speaker?.marker)) ??
      (await erasedUpload(deps, ref, claimed, claim, speaker?.marker));
    if (erased) return erased;
    const withStatistics = { ...claim, known: speaker?.known };
    const opened = { response: object, eTag };
    const outcome = await finish(deps, ref, origin, withStatistics, claimed.objectVersion, opened);
    return warning ? { ...outcome, warning } : outcome;
  } catch (error) {
    await deps.repository.release(claimed.id, claimed.objectVersion);
    throw error;
  }
}

/** A claimed clip's speaker as read after the claim: its erasure marker, and its statistics if it adapts. */
type SpeakerRead = { marker: Record<string, unknown> | undefined; known?: KnownStatistics };

/**
 * Reads a claimed clip's speaker, after its claim (`erasedWithSpeaker`): its erasure marker (one
 * consistent GetItem), or, when the model adapts, the marker and the statistics in one BatchGetItem, so
 * an adapted clip pays one read request, not two (the statistics' conditional write still catches a
 * clip or an erasure that changed them since). Without a speaker, nothing.
 */
async function readSpeaker(
  deps: ObjectProcessorDeps,
  speaker: SpeakerRef | undefined,
): Promise<SpeakerRead | undefined> {
  if (!speaker) return undefined;
  const adaptation = deps.predictor.metadata?.speakerAdaptation;
  if (!deps.speakers || !adaptation) return { marker: await deps.repository.erasureMarker(speaker) };
  const { stored, marker } = await deps.speakers.getWithMarker(speaker, adaptationKey(adaptation));
  return { marker, known: { stored } };
}

/**
 * A drop-folder speaker's object (the key's current one) that came by the speaker's erasure, whose event
 * comes only now (a retry, a replay, a backlog): it was erased with the speaker, so the object read
 * (`object`) is deleted, and the record just claimed. Asked after the claim, never before: an erasure
 * writes its marker, waits for its index to show what was written before (`INDEX_SETTLE_MS`) and then
 * looks for records, so either it finds this claim (and leaves it to be erased by its next call) or this
 * read finds its marker; asked before, both could miss. The marker is read by `readSpeaker`.
 */
async function erasedWithSpeaker(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  claimed: ObjectClaim,
  object: Pick<GetObjectCommandOutput, 'LastModified' | 'VersionId'>,
  marker: Record<string, unknown> | undefined,
): Promise<ProcessOutcome | undefined> {
  if (!claimed.speaker) return undefined;
  const arrivedAt = ref.eventTime ?? object.LastModified;
  if (!deps.repository.markerCovers(marker, arrivedAt)) return undefined;
  // The record first: if the object's delete then fails, the retry claims, asks and deletes again; the
  // other way round, a failed drop would leave a record whose retry finds the object gone and ends it.
  await deps.repository.dropClaim(claimed.id, claimed.objectVersion);
  const deleted = await deleteErasedObject(deps, ref, claimed.speaker, object);
  return {
    outcome: 'erased',
    reason: deleted
      ? `its speaker was erased after it came; deleted, not recorded: ${ref.key}`
      : `its speaker was erased after it came; not recorded, and the key's bytes, dropped after the erasure, left to their own event: ${ref.key}`,
  };
}

/**
 * An API upload created (`createdAt`) by its speaker's erasure, whose file comes only now: the erasure's
 * index query may have missed its PENDING record (the `bySpeaker` index lags), so the marker decides, read
 * after the claim as for the drop folder (`readSpeaker`). The record just claimed and the file are
 * deleted, as for an upload whose record the erasure found (`notClaimed`).
 */
async function erasedUpload(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  claimed: ObjectClaim,
  claim: Extract<ClaimResult, { claimed: true }>,
  marker: Record<string, unknown> | undefined,
): Promise<ProcessOutcome | undefined> {
  if (claimed.source !== 'api' || !claim.speaker) return undefined;
  if (!deps.repository.markerCovers(marker, claim.prediction.createdAt)) return undefined;
  await deps.repository.dropClaim(claimed.id, claimed.objectVersion);
  await deps.s3.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
  return {
    outcome: 'erased',
    reason: `its upload was created before its speaker's erasure; its file is deleted, not recorded: ${ref.key}`,
  };
}

/**
 * Deletes an erased speaker's object that was judged (`judged`: the key's object as read), never bytes
 * that came after the erasure. On the versioned bucket that is exactly its version: a DeleteObject by key
 * would put a delete marker over a version dropped since (the same file name again, right after the
 * erasure), whose own event would then find the key gone and leave no record and no result file. Without
 * versions (the local stack's s3rver has none: docs/dependencies.md) the bytes cannot be named, so they are
 * deleted only if they too came before the erasure (their LastModified, to the second). Whether it deleted.
 */
export async function deleteErasedObject(
  deps: { s3: Pick<S3Client, 'send'>; repository: Pick<PredictionRepository, 'erasedAfter'> },
  ref: S3ObjectRef,
  speaker: SpeakerRef,
  judged: Pick<GetObjectCommandOutput, 'LastModified' | 'VersionId'>,
): Promise<boolean> {
  const versionId = judged.VersionId ?? ref.versionId;
  if (!versionId && !(await deps.repository.erasedAfter(speaker, judged.LastModified))) return false;
  await deps.s3.send(
    new DeleteObjectCommand({
      Bucket: ref.bucket,
      Key: ref.key,
      ...(versionId ? { VersionId: versionId } : {}),
    }),
  );
  return true;
}

/**
 * Deletes the event's object if the key still holds those bytes (not newer ones, which have their own
 * event), as `deleteErasedObject` does: for the dead-letter recorder, which finds an erased speaker's
 * object whose event it gets.
 */
export async function deleteErasedIfCurrent(
  deps: { s3: Pick<S3Client, 'send'>; repository: Pick<PredictionRepository, 'erasedAfter'> },
  ref: S3ObjectRef,
  speaker: SpeakerRef,
): Promise<void> {
  let current: HeadObjectCommandOutput;
  try {
    current = await deps.s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    if (isSuperseded(ref, current)) return;
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  await deleteErasedObject(deps, ref, speaker, current);
}

/**
 * Why a claim was refused: a duplicate of a finished record, an upload whose file came too late or whose
 * record is gone (erased by DELETE /speakers/{id}, or expired: it is not brought back, and the file, which
 * no record names any more, is deleted), or another attempt holding it (thrown, so that Lambda retries
 * later).
 */
async function notClaimed(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  origin: ObjectOrigin,
  id: string,
  status: string | undefined,
): Promise<ProcessOutcome> {
  // A PENDING upload refuses only a file that came after its deadline: it ends UPLOAD_EXPIRED.
  if (status === 'PENDING')
    return { outcome: 'ignored', reason: `came after its upload's deadline: ${ref.key}` };
  if (status === undefined && origin.source === 'api') {
    // Its presigned URL outlives an erasure by minutes: audio sent then must not stay.
    await deps.s3.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    return {
      outcome: 'ignored',
      reason: `the upload's record is gone (erased or expired); its file is deleted: ${ref.key}`,
    };
  }
  if (!isTerminalStatus(status)) {
    throw new ClaimHeldError(`${ref.key} is being processed by another attempt (${status ?? 'no record'})`);
  }
  return { outcome: 'duplicate', id, status };
}

/** The event's object, opened by `openObject`, and its ETag without quotes. */
type OpenedObject = { response: GetObjectCommandOutput; eTag: string };

/** What became of a claimed object: a result, or the error its record ends with. */
type Evaluation = { result: SpeakerPrediction } | { error: RecordError };

async function evaluate(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  origin: ObjectOrigin,
  object: OpenedObject,
  speaker: SpeakerRef | undefined,
  known: KnownStatistics | undefined,
): Promise<Evaluation> {
  const keyProblem = origin.source === 'drop-folder' ? dropFolderKeyProblem(origin.relativePath) : undefined;
  if (keyProblem) return { error: keyProblem };
  try {
    return { result: await predictObject(deps, ref, object.response, speaker, known) };
  } catch (error) {
    if (!isInputError(error)) throw error;
    return { error: error.toJSON() };
  }
}

/**
 * Computes, writes (drop folder: the result file first) and commits the claimed object's outcome; a
 * result file whose record was deleted before the commit (erased past its lease) is deleted again.
 */
async function finish(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  origin: ObjectOrigin,
  claimed: {
    prediction: Prediction;
    callback?: CallbackTarget | undefined;
    speaker?: SpeakerRef | undefined;
    known?: KnownStatistics | undefined;
  },
  objectVersion: string,
  object: OpenedObject,
): Promise<Processed> {
  const evaluation = await evaluate(deps, ref, origin, object, claimed.speaker, claimed.known);
  const finished = deps.repository.finished(claimed.prediction, evaluation);
  // The result file goes first: if committing the record then fails, the retry writes it again. None
  // for a key that cannot hold one, nor for replaced/deleted bytes (the newer object's event owns it).
  const written = resultFileKey(origin, 'error' in evaluation ? evaluation.error : undefined);
  if (written) await writeResultFile(deps.s3, ref, written, finished, object.eTag);
  // The event goes out before the commit, like the result file: a failure in between is retried, and
  // the retry publishes the same event id again (at least once; receivers deduplicate on it).
  await deps.events?.publish(
    predictionEvent(finished, {
      bucket: ref.bucket,
      key: ref.key,
      objectVersion,
      callback: claimed.callback,
    }),
  );
  await commitOrRemoveResult(deps, ref, finished, objectVersion, written);
  return {
    outcome: finished.status === 'SUCCEEDED' ? 'succeeded' : 'failed',
    id: finished.id,
    prediction: finished,
    ...(written ? { resultKey: written } : {}),
  };
}

/**
 * Commits the record; if its commit fails its condition and the record is gone (a processor past its
 * lease, whose record a speaker erasure deleted), the result file just written is deleted: no record
 * names it. The failure is thrown either way (the retry finds the record gone and writes nothing).
 */
async function commitOrRemoveResult(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  finished: Prediction,
  objectVersion: string,
  written: string | undefined,
): Promise<void> {
  try {
    await deps.repository.commit(finished, objectVersion);
  } catch (error) {
    if (written && isConditionalCheckFailed(error) && !(await deps.repository.get(finished.id))) {
      await deps.s3.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: written }));
    }
    throw error;
  }
}

const NO_RESULT_FILE = new Set(['INVALID_KEY', 'KEY_TOO_LONG', 'OBJECT_REPLACED', 'OBJECT_DELETED']);

/** Where a drop-folder object's result goes, or undefined: API uploads and keys that cannot hold one. */
export function resultFileKey(origin: ObjectOrigin, error: RecordError | undefined): string | undefined {
  if (origin.source !== 'drop-folder') return undefined;
  if (error && NO_RESULT_FILE.has(error.code)) return undefined;
  return resultKey(origin.relativePath);
}

/**
 * The result file: the record, and which bytes it is about (a key written again gets a new result, and a
 * reader waiting for its own upload's result compares the ETag or version it was given with these).
 */
export async function writeResultFile(
  s3: Pick<S3Client, 'send'>,
  ref: S3ObjectRef,
  key: string,
  prediction: Prediction,
  eTag: string,
): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: ref.bucket,
      Key: key,
      Body: JSON.stringify({ ...prediction, object: resultObject(ref, eTag) }, null, 2),
      ContentType: 'application/json',
    }),
  );
}

/** Reads the opened object (if its size allows) and predicts. */
async function predictObject(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  object: GetObjectCommandOutput,
  speaker: SpeakerRef | undefined,
  known: KnownStatistics | undefined,
): Promise<SpeakerPrediction> {
  // Re-checked here because a presigned POST without a declared size, or any drop-folder client, is
  // limited by nothing else; checked from the headers, before the body is read, so an oversized object
  // costs nothing (its body is discarded unread).
  const sizeProblem = fileSizeProblem(object.ContentLength, deps.maxUploadBytes);
  if (sizeProblem) throw sizeProblem;
  if (!object.Body) throw new Error(`S3 returned no body for ${ref.key}`);
  const bytes = await object.Body.transformToByteArray();
  const options = { maxDurationSec: deps.maxDurationSec };
  return predictForSpeaker(deps.predictor, deps.speakers, bytes, options, speaker, known);
}
