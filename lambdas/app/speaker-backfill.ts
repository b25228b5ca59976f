import { classifyKey } from './object-keys.ts';
import type { PredictionRepository, UnindexedSpeakerRecord } from './prediction-repository.ts';
import { dropFolderSpeaker } from './speaker-context.ts';
import type { SpeakerRef } from './speaker-repository.ts';

/** What one backfill did (with `dryRun`, `updated` counts what it would have updated). */
export interface SpeakerBackfillSummary {
  /** Items the Scan read: every item of the table, prediction or not. */
  scanned: number;
  /** Prediction records naming a speaker without `speakerKey`. */
  unindexed: number;
  /** With `assignDropFolderSpeakers`: drop-folder records without a speaker whose folder a prefix now names. */
  unnamed: number;
  updated: number;
  /** Refused by the update's condition: indexed, changed or deleted since the Scan read it. */
  alreadyDone: number;
  /** Records whose scope cannot be known (a drop-folder folder under no prefix given): left as they are. */
  withoutScope: number;
}

export interface SpeakerBackfillOptions {
  /** The deployment's `DROP_FOLDER_SPEAKER_PREFIXES`: which folder names an older drop-folder record's speaker. */
  dropFolderSpeakerPrefixes: readonly string[];
  /**
   * Also give drop-folder records without a `speakerId` (made before their folder's prefix was configured)
   * the speaker the prefixes now name, so that its listing and erasure reach them.
   */
  assignDropFolderSpeakers?: boolean;
  /** Count, write nothing. */
  dryRun?: boolean;
  /** Items read per Scan page. @default DynamoDB's: up to 1 MB */
  scanPageSize?: number;
  /** Called after each Scan page with the counts so far. */
  onPage?: (summary: Readonly<SpeakerBackfillSummary>) => void;
}

/**
 * The speaker of a record written before the `bySpeaker` index: an API upload's stored scope, or for a
 * drop-folder record, the speaker its object's folder names now, as the processor derives it
 * (`dropFolderSpeaker`), only when that is the id the record carries, or when it carries none (assigned).
 * Undefined when it cannot be known.
 */
export function backfillSpeakerRef(
  record: UnindexedSpeakerRecord,
  dropFolderSpeakerPrefixes: readonly string[],
): SpeakerRef | undefined {
  if (record.speakerScope !== undefined && record.speakerId !== undefined)
    return { scope: record.speakerScope, speakerId: record.speakerId };
  const origin = record.source === 'drop-folder' ? classifyKey(record.key) : undefined;
  if (origin?.source !== 'drop-folder') return undefined;
  const speaker = dropFolderSpeaker(origin.relativePath, dropFolderSpeakerPrefixes);
  return record.speakerId === undefined || speaker?.speakerId === record.speakerId ? speaker : undefined;
}

/**
 * Puts the prediction records an older deployment wrote into the `bySpeaker` index (one-off, after an
 * upgrade: `ser backfill-speakers`), so that a speaker's listing and erasure see them: the whole table
 * scanned page by page, each such record given the speaker attributes a new record gets by a conditional
 * update (`indexSpeakerRecord`), so that a second run, or one beside live traffic, changes nothing twice.
 */
export async function backfillSpeakerKeys(
  predictions: Pick<PredictionRepository, 'unindexedSpeakerRecords' | 'indexSpeakerRecord'>,
  options: SpeakerBackfillOptions,
): Promise<SpeakerBackfillSummary> {
  const summary: SpeakerBackfillSummary = {
    scanned: 0,
    unindexed: 0,
    unnamed: 0,
    updated: 0,
    alreadyDone: 0,
    withoutScope: 0,
  };
  let startKey: Record<string, unknown> | undefined;
  do {
    const assign = options.assignDropFolderSpeakers ?? false;
    const page = await predictions.unindexedSpeakerRecords(startKey, options.scanPageSize, assign);
    summary.scanned += page.scanned;
    for (const record of page.records) {
      const unnamed = record.speakerId === undefined;
      const ref = backfillSpeakerRef(record, options.dropFolderSpeakerPrefixes);
      // A drop-folder record under no prefix has no speaker to get: not this backfill's.
      if (unnamed && !ref) continue;
      summary[unnamed ? 'unnamed' : 'unindexed']++;
      if (!ref) summary.withoutScope++;
      else if (options.dryRun || (await predictions.indexSpeakerRecord(record.id, ref, unnamed)))
        summary.updated++;
      else summary.alreadyDone++;
    }
    options.onPage?.({ ...summary });
    startKey = page.nextKey;
  } while (startKey);
  return summary;
}
