import type { Prediction, SerClient, SpeakerErased } from '../../client/ser-client.ts';
import { SpeakerIdSchema } from '../../lambdas/app/api-schemas.ts';
import { messageWithCause } from '../../lambdas/app/domain-error.ts';
import { printable } from '../printable.ts';
import {
  type AdminOptions,
  adminClient,
  answerOf,
  jsonLines,
  RequestFailed,
  reportingFailures,
} from './admin-client.ts';

export interface SpeakerRecordsOptions extends AdminOptions {
  /** Records per request (the API's `limit`); default: the API's. */
  limit?: number;
}

export interface EraseSpeakerOptions extends AdminOptions {
  /** At most this many DELETE calls (each deletes up to 25 records). */
  maxCalls: number;
  /** Seconds between calls while `more` is true (a clip in processing is left until it ends). */
  wait: number;
}

/** The erase's answers added up over every call. */
export interface ErasureTotals extends Omit<SpeakerErased, 'speakerPrefixes'> {
  calls: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The speaker id checked as the API checks it: a usage error (exit 2) here instead of a 400 there. */
function checkedSpeakerId(speakerId: string): string {
  const parsed = SpeakerIdSchema.safeParse(speakerId);
  if (parsed.success) return parsed.data;
  const why = parsed.error.issues.map((issue) => issue.message).join('; ');
  throw new Error(`${JSON.stringify(speakerId)} is not a valid speaker id: ${why}`);
}

/** Every page of the listing, following `nextCursor` to the end. */
async function allRecords(client: SerClient, id: string, limit: number | undefined): Promise<Prediction[]> {
  const records: Prediction[] = [];
  let cursor: string | undefined;
  do {
    const query = { ...(limit === undefined ? {} : { limit }), ...(cursor === undefined ? {} : { cursor }) };
    const page = await answerOf(
      `GET /drop-folder/speakers/${id}/predictions`,
      client.GET('/drop-folder/speakers/{id}/predictions', { params: { path: { id }, query } }),
    );
    records.push(...page.items);
    // A cursor handed back unchanged would page for ever: a fault of the API, said instead of hanging.
    if (page.nextCursor !== undefined && page.nextCursor === cursor)
      throw new RequestFailed(`GET /drop-folder/speakers/${id}/predictions: the same cursor came back twice`);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return records;
}

/**
 * `ser admin speaker-records <id>`: a drop-folder speaker's records, newest first, one JSON object per line
 * (as `ser upload` writes its rows) and their count on stderr. Nothing is printed unless every page came:
 * an access request's answer is whole or missing, never silently short.
 */
export async function speakerRecordsFromCommandLine(
  speakerId: string,
  options: SpeakerRecordsOptions,
): Promise<number> {
  const id = checkedSpeakerId(speakerId);
  const client = adminClient(options);
  return reportingFailures('speaker-records', async () => {
    const records = await allRecords(client, id, options.limit);
    process.exitCode = 0; // before printing: a reader that closes early ends the run (ser.ts)
    process.stdout.write(jsonLines(records));
    console.error(printable(`${records.length} records of drop-folder speaker ${id}`));
    return 0;
  });
}

/** DELETE until `more` is false or `maxCalls` were made, adding each answer into `totals`. */
async function eraseUntilDone(client: SerClient, totals: ErasureTotals, options: EraseSpeakerOptions) {
  const id = totals.speakerId;
  let noPrefixes = false;
  while (totals.more && totals.calls < options.maxCalls) {
    if (totals.calls > 0) await sleep(options.wait * 1000);
    const answer = await answerOf(
      `DELETE /drop-folder/speakers/${id}`,
      client.DELETE('/drop-folder/speakers/{id}', { params: { path: { id } } }),
    );
    totals.calls++;
    totals.erased ||= answer.erased;
    totals.recordsDeleted += answer.recordsDeleted;
    totals.more = answer.more;
    if (answer.speakerPrefixes?.length === 0) noPrefixes = true;
  }
  return { noPrefixes };
}

/**
 * `ser admin erase-speaker <id>`: erases a drop-folder speaker, calling again while records remain, and
 * prints the totals as one JSON object. Exit code 1 when records still remain after `--max-calls`.
 */
export async function eraseSpeakerFromCommandLine(
  speakerId: string,
  options: EraseSpeakerOptions,
): Promise<number> {
  const id = checkedSpeakerId(speakerId);
  const client = adminClient(options);
  return reportingFailures('erase-speaker', async () => {
    const totals: ErasureTotals = { speakerId: id, erased: false, recordsDeleted: 0, more: true, calls: 0 };
    // A call that fails after others succeeded: the message says how far the erasure got.
    const { noPrefixes } = await eraseUntilDone(client, totals, options).catch((error: Error) => {
      const progress = `after ${totals.calls} calls, ${totals.recordsDeleted} records deleted`;
      throw new RequestFailed(`${messageWithCause(error)} (${progress})`, { cause: error });
    });
    const code = totals.more ? 1 : 0;
    process.exitCode = code; // before printing: a reader that closes early ends the run (ser.ts)
    console.log(JSON.stringify(totals));
    if (noPrefixes)
      console.error(
        'ser admin erase-speaker: the deployment has no drop-folder speaker prefix (DROP_FOLDER_SPEAKER_PREFIXES, -c dropFolderSpeakerPrefixes): no drop-folder object has a speaker, so nothing was looked for or erased',
      );
    if (totals.more)
      console.error(
        printable(
          `ser admin erase-speaker: records of ${id} remain after ${totals.calls} calls (some may be in processing); run it again`,
        ),
      );
    return code;
  });
}
