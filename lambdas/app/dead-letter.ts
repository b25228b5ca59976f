import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { classifyKey, type ObjectOrigin } from './object-keys.ts';
import {
  announceEnded,
  deleteErasedIfCurrent,
  objectClaim,
  plainETag,
  resultFileKey,
  writeResultFile,
} from './object-processor.ts';
import type { PredictionEventPublisher } from './prediction-events.ts';
import type { PredictionRepository } from './prediction-repository.ts';
import type { ObjectClaim } from './prediction-updates.ts';
import type { RecordError } from './processing-errors.ts';
import { parseS3Event, type S3ObjectRef } from './s3-event.ts';
import type { SpeakerRef } from './speaker-repository.ts';

/** What Lambda's on-failure destination sends after the last retry (the original event is `requestPayload`). */
interface DestinationRecord {
  requestPayload?: unknown;
  responsePayload?: { errorType?: string; errorMessage?: string } | null;
}

/** What the recorder did: the records it ended FAILED, and the keys of erased speakers' objects it dropped. */
export interface DeadLetterOutcome {
  marked: string[];
  /** Objects of a speaker erased since they came: no record written, the object deleted (if still there). */
  erased: string[];
}

/**
 * Ends the records of a dead-lettered S3 event FAILED with PROCESSING_FAILED, so no upload stays
 * PENDING/PROCESSING whatever killed the function (out of memory, timeout, a crash). The message itself
 * stays in the dead-letter queue: `ser replay` re-runs it, and the claim lets a replay finish a
 * PROCESSING_FAILED record (SUCCEEDED, or FAILED with the audio's own code). A record already finished
 * is left alone. A drop-folder speaker's object that came by the speaker's erasure gets no record (a
 * GetItem before and one after the write, for those objects only: `undoIfErasedMeanwhile`): it was
 * erased, and its object is deleted if the key still holds it.
 */
export async function recordDeadLetter(
  repository: Pick<PredictionRepository, 'markFailed' | 'erasedAfter' | 'deleteSpeakerRecord'>,
  record: DestinationRecord,
  events?: PredictionEventPublisher,
  s3?: Pick<S3Client, 'send'>,
  speakerFolders?: readonly string[],
): Promise<DeadLetterOutcome> {
  const reason = record.responsePayload?.errorMessage ?? record.responsePayload?.errorType ?? 'unknown error';
  const error: RecordError = {
    code: 'PROCESSING_FAILED',
    message: `Processing failed after every retry (${reason.slice(0, 300)}); the event is kept for replay`,
  };
  const outcome: DeadLetterOutcome = { marked: [], erased: [] };
  for (const ref of parseS3Event(record.requestPayload ?? record)) {
    const origin = classifyKey(ref.key);
    // A drop-folder record's id depends on the object's version, which the event must carry.
    if (!origin || (origin.source === 'drop-folder' && !ref.versionId && !ref.eTag)) continue;
    // With its speaker, as the processor writes it: listed and erased with the speaker's other records.
    const claim = objectClaim(ref, origin, plainETag(ref.eTag), { speakerFolders });
    const recorded = await recordOne({ repository, events, s3 }, ref, origin, claim, error);
    if (recorded === 'erased') outcome.erased.push(ref.key);
    if (recorded === 'marked') outcome.marked.push(claim.id);
  }
  return outcome;
}

/**
 * One dead-lettered object: its record ended FAILED, announced, and its result file written — unless its
 * speaker was erased after it came, before the record's write (nothing written) or just after (the record
 * is deleted again, before anything is announced). Undefined: a record already finished otherwise.
 */
async function recordOne(
  deps: {
    repository: Pick<PredictionRepository, 'markFailed' | 'erasedAfter' | 'deleteSpeakerRecord'>;
    events: PredictionEventPublisher | undefined;
    s3: Pick<S3Client, 'send'> | undefined;
  },
  ref: S3ObjectRef,
  origin: ObjectOrigin,
  claim: ObjectClaim,
  error: RecordError,
): Promise<'marked' | 'erased' | undefined> {
  const { repository, s3 } = deps;
  if (claim.speaker && (await repository.erasedAfter(claim.speaker, ref.eventTime))) {
    await eraseWritten({ repository, s3 }, ref, claim.speaker, claim.id, undefined);
    return 'erased';
  }
  const ended = await repository.markFailed(claim, error);
  if (!ended) return undefined;
  // A drop folder's readers watch results/: without a file there they would wait for ever. Written before
  // the marker is read again (everything the recorder writes comes before its last read), but a failing S3
  // must not also silence the event: its error waits until the event is out.
  const resultKey = s3 && resultFileKey(origin, ended.prediction.error);
  const writeFailed = resultKey
    ? await writeResultFile(s3, ref, resultKey, ended.prediction, plainETag(ref.eTag)).then(
        () => undefined,
        (failure: unknown) => ({ failure }),
      )
    : undefined;
  if (await undoIfErasedMeanwhile({ repository, s3 }, ref, claim, resultKey)) return 'erased';
  await announceEnded(deps.events, ref, claim, ended);
  if (writeFailed) throw writeFailed.failure;
  return 'marked';
}

/** What finding and deleting an erased speaker's clip takes. */
interface ErasedClipDeps {
  repository: Pick<PredictionRepository, 'erasedAfter' | 'deleteSpeakerRecord'>;
  s3: Pick<S3Client, 'send'> | undefined;
}

/**
 * Asked again once the record and its result file are written: an erasure whose marker the first read
 * missed (it came just after) may look for the speaker's records only after this one exists, or before.
 * It writes its marker, waits for its index to catch up (`INDEX_SETTLE_MS`) and only then looks, so one
 * of the two sees the other: if the marker is there now, what was written is deleted, before anything is
 * announced.
 */
async function undoIfErasedMeanwhile(
  deps: ErasedClipDeps,
  ref: S3ObjectRef,
  claim: ObjectClaim,
  resultKey: string | undefined,
): Promise<boolean> {
  if (!claim.speaker || !(await deps.repository.erasedAfter(claim.speaker, ref.eventTime))) return false;
  await eraseWritten(deps, ref, claim.speaker, claim.id, resultKey);
  return true;
}

/**
 * An erased speaker's clip, as far as the recorder (or an earlier attempt, or a processor that failed
 * after its claim) wrote it: the result file, the object if the key still holds those bytes, then the
 * record (conditional: one a processor holds is left to it, and it reads the marker itself).
 */
async function eraseWritten(
  deps: ErasedClipDeps,
  ref: S3ObjectRef,
  speaker: SpeakerRef,
  id: string,
  resultKey: string | undefined,
): Promise<void> {
  const { repository, s3 } = deps;
  if (s3) {
    if (resultKey) await s3.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: resultKey }));
    await deleteErasedIfCurrent({ s3, repository }, ref, speaker);
  }
  await repository.deleteSpeakerRecord(id, speaker);
}

/**
 * `ser replay` marks the events it re-runs: a replay is a synchronous call that no retry and no
 * dead-letter destination follows, so if it fails the handler itself must end the record FAILED again
 * (with PROCESSING_FAILED, replayable) instead of leaving it PENDING for a retry that never comes.
 */
export const REPLAY_MARK = 'serReplay';

export const markedAsReplay = (event: object): object => ({ ...event, [REPLAY_MARK]: true });

export const isReplay = (event: unknown): boolean =>
  event !== null && typeof event === 'object' && (event as Record<string, unknown>)[REPLAY_MARK] === true;

/** After a failed replay: the event's records end FAILED (PROCESSING_FAILED) again, still replayable. */
export async function recordFailedReplay(
  repository: Pick<PredictionRepository, 'markFailed' | 'erasedAfter' | 'deleteSpeakerRecord'>,
  event: unknown,
  error: unknown,
  events?: PredictionEventPublisher,
  s3?: Pick<S3Client, 'send'>,
  speakerFolders?: readonly string[],
): Promise<DeadLetterOutcome> {
  const message = error instanceof Error ? error.message : String(error);
  return recordDeadLetter(
    repository,
    { requestPayload: event, responsePayload: { errorMessage: `replay: ${message}` } },
    events,
    s3,
    speakerFolders,
  );
}
