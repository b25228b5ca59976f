import { setTimeout } from 'node:timers/promises';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { classifyKey, dropFolderKeyProblem, resultKey } from './object-keys.ts';
import type { PredictionRepository, SpeakerRecord } from './prediction-repository.ts';
import type { SpeakerRef, SpeakerRepository } from './speaker-repository.ts';

/**
 * Records one erasure call handles at most. Each record costs one conditional DeleteItem and one or two
 * DeleteObject requests (its audio; a drop-folder object's result file too), so a call makes at most
 * 1 Query + 25 DeleteItem + 50 DeleteObject requests, 5 records at a time: about 10 sequential round
 * trips of 10–50 ms on AWS, well under a second; each call adds its markers and the
 * index wait (`INDEX_SETTLE_MS`, 2 s). That stays below the API function's 10 s timeout (and API
 * Gateway's 29 s) unless many S3 answers take seconds; a call cut off by the timeout has deleted what it
 * deleted, and the next call goes on (each step is idempotent). A speaker with more records is erased over
 * several calls (`more`).
 */
export const ERASE_BATCH = 25;
const CONCURRENT_RECORDS = 5;

/**
 * How long a call waits between writing a speaker's markers and looking for its records. A
 * processor or the dead-letter recorder writes a record (or claims an upload's) and then reads the marker; if that read came just
 * before the marker, the record was written before it too, and the erasure must find it. It looks through
 * the `bySpeaker` index, which DynamoDB keeps eventually consistent (updates show well within a second
 * under normal load): two seconds for it to catch up, once a call, inside the API function's 10 s.
 */
export const INDEX_SETTLE_MS = 2000;

/** What one call erased: the statistics (as before), how many records, and whether to call again. */
export interface SpeakerErasure {
  erased: boolean;
  recordsDeleted: number;
  more: boolean;
}

/**
 * Deletes bucket objects: with `versionId`, that version (S3 DeleteObject with its VersionId: the bytes
 * are gone, no delete marker); without, the key (on the versioned bucket, a delete marker over whatever
 * the key holds then).
 */
export interface ObjectDeleter {
  delete(bucket: string, key: string, versionId?: string): Promise<void>;
}

export const s3ObjectDeleter = (s3: Pick<S3Client, 'send'>): ObjectDeleter => ({
  async delete(bucket, key, versionId) {
    await s3.send(
      new DeleteObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
    );
  },
});

export interface SpeakerErasureDeps {
  statistics: Pick<SpeakerRepository, 'delete'>;
  records: Pick<PredictionRepository, 'markErased' | 'speakerRecords' | 'deleteSpeakerRecord'>;
  objects: ObjectDeleter;
  /** @default ERASE_BATCH */
  batchSize?: number;
  /** A record that could not be erased (left for a later call, which answers `more: true`): for the log. */
  onRecordError?: (recordId: string, error: unknown) => void;
  /** @default INDEX_SETTLE_MS */
  indexSettleMs?: number;
}

/** An object to delete: by its key, or (`versionId`) exactly that version. */
interface ObjectToDelete {
  key: string;
  versionId?: string | undefined;
}

/**
 * The objects a record names: the uploaded audio (`uploads/…`, or the drop folder's `incoming/…`) and, for
 * a drop-folder object, its result file (`results/….json`), unless its key cannot have one (INVALID_KEY,
 * KEY_TOO_LONG: the processor never writes it, and S3 refuses a key over 1024 bytes). A result file that
 * was never written (another failure code, a record not finished) costs a DeleteObject S3 answers 204 to.
 * Keys outside those prefixes: none.
 *
 * Drop-folder audio is deleted by the record's version (`objectVersionId`) when it has one: the same file
 * name dropped again after the erasure's marker is a new version with its own record, which the erasure
 * leaves (`writtenAfter`), and a delete by key would put a delete marker over it, so that its event finds
 * the key gone and it gets neither record nor result (as `deleteErasedObject` avoids for the processor).
 * Without one (s3rver, a record written before versions were stored) the key, as before. An upload's
 * audio (`uploads/<id>/…`, a key of its own record) and the result file (whose version no record knows)
 * are deleted by key: a same-name clip dropped after the marker whose result file was written before
 * this delete loses that file (its record stays, and `GET /predictions/{id}` still answers).
 */
function objectsOf(record: SpeakerRecord): ObjectToDelete[] {
  const origin = classifyKey(record.key);
  if (!origin) return [];
  if (origin.source === 'api') return [{ key: record.key }];
  const audio = { key: record.key, versionId: record.objectVersionId };
  if (dropFolderKeyProblem(origin.relativePath)) return [audio];
  return [audio, { key: resultKey(origin.relativePath) }];
}

/**
 * One record: its objects first, then the record (so that a failure leaves a record to find them by
 * again). A record being processed (PROCESSING, its lease live) is left for a later call: its processor
 * holds the object and will write the outcome; the delete's condition checks that again. One whose lease
 * ran out (a processor that died or was stopped, as `npm start` may be) is erased, or `more` never ends. Whether the record was deleted.
 */
async function eraseRecord(deps: SpeakerErasureDeps, ref: SpeakerRef, record: SpeakerRecord) {
  if (record.beingProcessed) return false;
  await Promise.all(
    objectsOf(record).map(({ key, versionId }) => deps.objects.delete(record.bucket, key, versionId)),
  );
  return deps.records.deleteSpeakerRecord(record.id, ref);
}

/**
 * `eraseRecord`, a failure kept to its record: it is reported and left (not deleted: the call answers
 * `more: true`), and the others of the call are still erased.
 */
async function eraseOrReport(deps: SpeakerErasureDeps, ref: SpeakerRef, record: SpeakerRecord) {
  try {
    return await eraseRecord(deps, ref, record);
  } catch (error) {
    deps.onRecordError?.(record.id, error);
    return false;
  }
}

/**
 * Clocks of two functions may differ by this much: a record is left as written after a marker only when
 * it is later by more (erring toward erasing: a record written just before the marker must not be left).
 */
const CLOCK_MARGIN_MS = 1000;

/**
 * Whether a record was first written after the marker (`erasedAt`), i.e. during this call's
 * wait for the index: its writer reads the marker after writing and keeps or drops it itself (by when its
 * clip came), so a clip dropped after the erasure is not erased with it.
 */
const writtenAfter = (record: SpeakerRecord, erasedAt: string | undefined): boolean =>
  erasedAt !== undefined && Date.parse(record.createdAt) > Date.parse(erasedAt) + CLOCK_MARGIN_MS;

/**
 * Up to `limit` of the speaker's newest records in one scope, but those written after its marker
 * (`erasedAt`); `more` when any remain.
 */
async function eraseRecords(deps: SpeakerErasureDeps, ref: SpeakerRef, limit: number, erasedAt?: string) {
  const { records: page, more } = await deps.records.speakerRecords(ref, limit);
  const records = page.filter((record) => !writtenAfter(record, erasedAt));
  let deleted = 0;
  for (let start = 0; start < records.length; start += CONCURRENT_RECORDS) {
    const batch = records.slice(start, start + CONCURRENT_RECORDS);
    const done = await Promise.all(batch.map((record) => eraseOrReport(deps, ref, record)));
    deleted += done.filter(Boolean).length;
  }
  return { handled: page.length, deleted, more: more || deleted < records.length };
}

/**
 * Marks the speaker erased in each scope (with the time: a clip of it that came before, whose event is
 * still retried, dead-lettered or replayed, or an upload created before whose file comes only now, gets no
 * record: `PredictionRepository.erasedAfter`), then waits `INDEX_SETTLE_MS` for the index to show records
 * written before the markers; each scope's marker time (`erasedAt`). An API key's scope needs it as a drop
 * folder's does: an upload created just before the call may not be in the index yet, and its file may
 * still come.
 */
async function markScopes(
  deps: SpeakerErasureDeps,
  refs: readonly SpeakerRef[],
): Promise<Map<string, string>> {
  const erasedAt = new Map<string, string>();
  if (refs.length === 0) return erasedAt;
  for (const [i, at] of (await Promise.all(refs.map((ref) => deps.records.markErased(ref)))).entries())
    erasedAt.set(refs[i]!.scope, at);
  await setTimeout(deps.indexSettleMs ?? INDEX_SETTLE_MS);
  return erasedAt;
}

/**
 * Erases a speaker in each of `scopes` (an API key's; or the drop folder's speaker prefixes): first the
 * markers (`markScopes`), then at most `batchSize` prediction records with their objects, then its
 * statistics (after the records: a clip that was still being processed may add to them, and the next
 * call erases them again).
 */
export function createSpeakerErasure(deps: SpeakerErasureDeps) {
  return async function eraseSpeaker(scopes: readonly string[], speakerId: string): Promise<SpeakerErasure> {
    let budget = deps.batchSize ?? ERASE_BATCH;
    const result: SpeakerErasure = { erased: false, recordsDeleted: 0, more: false };
    const refs = scopes.map((scope) => ({ scope, speakerId }));
    const erasedAt = await markScopes(deps, refs);
    for (const ref of refs) {
      if (budget === 0) {
        // This call's records are used up: whether this scope has any is for the next call to see.
        result.more = true;
      } else {
        const page = await eraseRecords(deps, ref, budget, erasedAt.get(ref.scope));
        budget -= page.handled;
        result.recordsDeleted += page.deleted;
        result.more ||= page.more;
      }
      if (await deps.statistics.delete(ref)) result.erased = true;
    }
    return result;
  };
}
