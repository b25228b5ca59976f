import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isSerError, SerError } from '../core/errors.ts';
import { classifyKey, dropFolderId, resultKey } from './object-keys.ts';
import { type PredictionEventPublisher, predictionEvent } from './prediction-events.ts';
import type { Prediction, PredictionRepository } from './prediction-repository.ts';
import type { S3ObjectRef } from './s3-event.ts';
import {
  type AdaptingPredictor,
  dropFolderSpeaker,
  predictForSpeaker,
  type SpeakerPrediction,
} from './speaker-context.ts';
import type { SpeakerRef, SpeakerRepository } from './speaker-repository.ts';

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
  | { outcome: 'duplicate'; id: string; status: string | undefined }
  | { outcome: 'succeeded' | 'failed'; id: string; prediction: Prediction; resultKey?: string };

const isNotFound = (error: unknown): boolean =>
  error instanceof Error && (error.name === 'NotFound' || error.name === 'NoSuchKey');

const unquote = (eTag: string | undefined): string => (eTag ?? '').replaceAll('"', '');

/**
 * Another attempt holds a live claim on this object (a concurrent duplicate event, or a crashed attempt
 * whose lease has not run out). Thrown so that Lambda retries the event later, and after the last retry
 * the DLQ keeps it: returning would drop the event while nothing guarantees the holder ever finishes.
 */
export class ClaimHeldError extends Error {
  override readonly name = 'ClaimHeldError';
}

/** The bytes under the key are no longer those the event is about: a later upload replaced them. */
const superseded = (key: string): ProcessOutcome => ({
  outcome: 'ignored',
  reason: `superseded by a newer object: ${key}`,
});

/** The model, not the audio, is at fault: retried like any infrastructure fault, never stored as FAILED. */
const isInputError = (error: unknown): error is SerError =>
  isSerError(error) && error.code !== 'MODEL_INVALID';

/**
 * Turns one created S3 object into a finished prediction. Bad audio (a `SerError` from the core, or
 * a size over the limit) ends as a FAILED record with its code and is not retried; anything else is
 * an infrastructure fault: the claim is released and the error rethrown, so Lambda's retries and then
 * the on-failure destination take the event. The object itself is never deleted or moved.
 */
export async function processObject(deps: ObjectProcessorDeps, ref: S3ObjectRef): Promise<ProcessOutcome> {
  const origin = classifyKey(ref.key);
  if (!origin) return { outcome: 'ignored', reason: `key outside uploads/ and incoming/: ${ref.key}` };

  let head: { ContentLength?: number | undefined; ETag?: string | undefined; VersionId?: string | undefined };
  try {
    head = await deps.s3.send(
      new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
    );
  } catch (error) {
    // Deleted before we got to it: there is nothing left to predict, and retrying will not change that.
    if (isNotFound(error)) return { outcome: 'ignored', reason: `object is gone: ${ref.key}` };
    throw error;
  }
  // Without versioning a key holds only its latest bytes: an event for older ones (late or out of
  // order) must not attach the newer bytes' prediction to the old version's record.
  if (!ref.versionId && ref.eTag && unquote(ref.eTag) !== unquote(head.ETag)) return superseded(ref.key);
  const eTag = unquote(ref.eTag ?? head.ETag);
  const objectVersion = ref.versionId ?? head.VersionId ?? eTag;
  const id = origin.source === 'api' ? origin.id : dropFolderId(ref.bucket, ref.key, objectVersion);

  const claim = await deps.repository.claim({
    id,
    source: origin.source,
    fileName: origin.fileName,
    bucket: ref.bucket,
    key: ref.key,
    objectVersion,
  });
  if (!claim.claimed) {
    const status = claim.existing?.status;
    if (status !== 'SUCCEEDED' && status !== 'FAILED') {
      throw new ClaimHeldError(`${ref.key} is being processed by another attempt (${status ?? 'no record'})`);
    }
    return { outcome: 'duplicate', id, status };
  }

  const speaker =
    origin.source === 'api' ? claim.speaker : dropFolderSpeaker(origin.relativePath, deps.speakerFolders);
  const current = speaker ? { ...claim.prediction, speakerId: speaker.speakerId } : claim.prediction;
  try {
    let finished: Prediction;
    try {
      const result = await predictObject(deps, ref, head.ContentLength, eTag, speaker);
      if (!result) {
        await deps.repository.release(id, objectVersion);
        return superseded(ref.key);
      }
      finished = deps.repository.finished(current, { result });
    } catch (error) {
      if (!isInputError(error)) throw error;
      finished = deps.repository.finished(current, { error: error.toJSON() });
    }
    // The result file goes first: if committing the record then fails, the retry writes it again.
    const written = origin.source === 'drop-folder' ? resultKey(origin.relativePath) : undefined;
    if (written) {
      await deps.s3.send(
        new PutObjectCommand({
          Bucket: ref.bucket,
          Key: written,
          Body: JSON.stringify(finished, null, 2),
          ContentType: 'application/json',
        }),
      );
    }
    // The event goes out before the commit, like the result file: a failure in between is retried, and
    // the retry publishes the same event id again (at least once; receivers deduplicate on it).
    await deps.events?.publish(
      predictionEvent(finished, {
        bucket: ref.bucket,
        key: ref.key,
        objectVersion,
        callback: claim.callback,
      }),
    );
    await deps.repository.commit(finished, objectVersion);
    return {
      outcome: finished.status === 'SUCCEEDED' ? 'succeeded' : 'failed',
      id,
      prediction: finished,
      ...(written ? { resultKey: written } : {}),
    };
  } catch (error) {
    await deps.repository.release(id, objectVersion);
    throw error;
  }
}

/** The prediction, or `undefined` when the object was replaced between HeadObject and GetObject. */
async function predictObject(
  deps: ObjectProcessorDeps,
  ref: S3ObjectRef,
  size: number | undefined,
  eTag: string,
  speaker: SpeakerRef | undefined,
): Promise<SpeakerPrediction | undefined> {
  // Re-checked here because a presigned POST without a declared size, or any drop-folder client, is
  // limited by nothing else; checked before downloading so an oversized object costs nothing.
  if (size !== undefined && size > deps.maxUploadBytes) {
    throw new SerError('TOO_LARGE', `The file is ${size} bytes; the limit is ${deps.maxUploadBytes} bytes`);
  }
  if (size === 0) throw new SerError('EMPTY_AUDIO', 'The file is empty');
  const object = await deps.s3.send(
    new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
  );
  if (!object.Body) throw new Error(`S3 returned no body for ${ref.key}`);
  if (!ref.versionId && eTag && unquote(object.ETag) !== eTag) {
    await object.Body.transformToByteArray();
    return undefined;
  }
  const bytes = await object.Body.transformToByteArray();
  const options = { maxDurationSec: deps.maxDurationSec };
  return predictForSpeaker(deps.predictor, deps.speakers, bytes, options, speaker);
}
