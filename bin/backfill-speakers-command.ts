import cliProgress from 'cli-progress';
import { createDocumentClient } from '../lambdas/app/aws-clients.ts';
import { DEFAULT_RECORD_TTL_DAYS } from '../lambdas/app/config.ts';
import { messageWithCause } from '../lambdas/app/domain-error.ts';
import { PredictionRepository } from '../lambdas/app/prediction-repository.ts';
import { backfillSpeakerKeys, type SpeakerBackfillSummary } from '../lambdas/app/speaker-backfill.ts';

export interface BackfillSpeakersOptions {
  table: string;
  region: string;
  dynamodbEndpoint?: string;
  /** Parsed by `SpeakerPrefixListSchema` (ser.ts); none: no drop-folder record's scope can be derived. */
  dropFolderSpeakerPrefixes?: readonly string[];
  dryRun?: boolean;
  assignDropFolderSpeakers?: boolean;
}

const counts = (s: Readonly<SpeakerBackfillSummary>, dryRun?: boolean, assigning?: boolean): string =>
  `${s.scanned} items scanned, ${s.unindexed} records without speakerKey` +
  `${assigning ? `, ${s.unnamed} drop-folder records without a speaker under a prefix` : ''}: ` +
  `${s.updated} ${dryRun ? 'would be updated' : 'updated'}, ${s.alreadyDone} already done, ` +
  `${s.withoutScope} left without scope`;

/**
 * `ser backfill-speakers`: prints the summary and returns the exit code (1 when records were left
 * without a scope: they stay out of their speaker's listing and erasure until they expire; 1 also when a
 * request failed — an unreachable endpoint, a missing table, no credentials — which is not a usage error).
 */
export async function backfillSpeakersFromCommandLine(options: BackfillSpeakersOptions): Promise<number> {
  const doc = createDocumentClient({ region: options.region, dynamoDbEndpoint: options.dynamodbEndpoint });
  // Only the two backfill methods are used: the record TTL and lease are never read.
  const predictions = new PredictionRepository(doc, {
    tableName: options.table,
    recordTtlDays: DEFAULT_RECORD_TTL_DAYS,
    processingLeaseSec: 0,
  });
  // The Scan's length is not known beforehand: the bar shows the counts, not a fraction (a terminal only).
  const progress = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'backfill-speakers | {counts}' },
    cliProgress.Presets.shades_classic,
  );
  progress.start(0, 0, { counts: 'scanning' });
  try {
    const summary = await backfillSpeakerKeys(predictions, {
      dropFolderSpeakerPrefixes: options.dropFolderSpeakerPrefixes ?? [],
      ...(options.dryRun ? { dryRun: true } : {}),
      ...(options.assignDropFolderSpeakers ? { assignDropFolderSpeakers: true } : {}),
      onPage: (s) =>
        progress.update(s.scanned, { counts: counts(s, options.dryRun, options.assignDropFolderSpeakers) }),
    });
    progress.stop();
    const code = summary.withoutScope > 0 ? 1 : 0;
    process.exitCode = code; // before printing: a reader that closes early ends the run (ser.ts)
    console.log(
      `${options.dryRun ? 'dry run (nothing written): ' : ''}${counts(summary, options.dryRun, options.assignDropFolderSpeakers)}`,
    );
    return code;
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    progress.stop(); // first: on a terminal the line would join the bar's
    console.error(`ser backfill-speakers: ${messageWithCause(error)} (what was updated stays; run it again)`);
    return 1;
  } finally {
    progress.stop();
    doc.destroy();
  }
}
