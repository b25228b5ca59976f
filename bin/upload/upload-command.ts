import { open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, relative } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { createSerClient, type Prediction } from '../../client/ser-client.ts';
import { SpeakerIdSchema } from '../../lambdas/app/api-schemas.ts';
import { createS3Client } from '../../lambdas/app/aws-clients.ts';
import { messageWithCause } from '../../lambdas/app/domain-error.ts';
import { UNREADABLE_FILE, walkAudioFiles } from '../predict-files.ts';
import { mapBounded, withRetries } from './retry.ts';
import {
  apiTransport,
  dropKey,
  dropTransport,
  parseDropTarget,
  RequestRefused,
  type Transport,
  type UploadFile,
} from './transports.ts';

export interface UploadOptions {
  api?: string;
  key?: string;
  drop?: string;
  s3Endpoint?: string;
  region: string;
  out?: string;
  format?: 'jsonl' | 'csv';
  concurrency: number;
  retries: number;
  /** Longest wait for one file's result, in seconds. */
  timeout: number;
  /** Sent as every upload's `speakerId` (API only: the drop folder's speakers are folders). */
  speaker?: string;
}

/** What a row carries of the prediction (the API's record, or the drop folder's result file), when present. */
const RESULT_FIELDS = [
  'emotion',
  'confidence',
  'lowConfidence',
  'probabilities',
  'durationSec',
  'segments',
  'modelVersion',
  'speakerId',
  'adaptation',
] as const;

/** One line of the output: the file and how it ended. */
export interface UploadRow extends Pick<Prediction, (typeof RESULT_FIELDS)[number]> {
  file: string;
  id?: string;
  /**
   * The prediction's terminal status, or ERROR when there is none to report: the file could not be read,
   * a request was refused (e.g. TOO_LARGE at POST /uploads) or kept failing, or no result came in time.
   */
  status: 'SUCCEEDED' | 'FAILED' | 'ERROR';
  error?: { code: string; message: string };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `ser upload`: every file through the API (or the drop folder), results as JSON lines or CSV. Exit code. */
export async function uploadFromCommandLine(paths: string[], options: UploadOptions): Promise<number> {
  const transport = createTransport(options);
  const files = await collectFiles(paths);
  if (options.drop) assertDistinctDropKeys(files);
  if (files.length === 0) {
    console.error('ser upload: no audio files found');
    return 2;
  }
  await checkOut(options.out);
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: 'upload [{bar}] {value}/{total} files | {failed} not succeeded | {duration}s',
    },
    Presets.shades_classic,
  );
  bar.start(files.length, 0, { failed: 0 });
  let failed = 0;
  const rows = await mapBounded(files, options.concurrency, async (file) => {
    const row = await uploadOne(transport, file, options);
    if (row.status !== 'SUCCEEDED') failed++;
    bar.increment({ failed });
    return row;
  });
  bar.stop();
  process.exitCode = failed > 0 ? 1 : 0; // before writing: a reader that closes early ends the run (ser.ts)
  const written = await writeRows(rows, options);
  console.error(
    `${rows.length} ${rows.length === 1 ? 'file' : 'files'}: ${rows.length - failed} succeeded, ${failed} did not`,
  );
  return failed > 0 || !written ? 1 : 0;
}

/**
 * `--out` checked before any upload: a path that cannot be written is a usage error (exit 2) before the
 * batch runs, not a batch whose results are lost at the end. Opened for appending, so an earlier run's
 * file is left as it is until this run's results replace it (`writeRows`).
 */
async function checkOut(out: string | undefined): Promise<void> {
  if (out === undefined) return;
  try {
    await (await open(out, 'a')).close();
  } catch (error) {
    throw new Error(`cannot write --out ${out}: ${messageWithCause(error as Error)}`);
  }
}

/**
 * Drop-folder keys come from each file's path relative to what was named: two files of the same relative
 * path (a/clip.flac and b/clip.flac named apart) would overwrite each other and read one result.
 */
function assertDistinctDropKeys(files: UploadFile[]): void {
  const seen = new Map<string, string>();
  for (const file of files) {
    const key = dropKey('', file.relativePath);
    const other = seen.get(key);
    if (other)
      throw new Error(
        `--drop: ${other} and ${file.path} would both be uploaded as ${key}; name their common folder instead`,
      );
    seen.set(key, file.path);
  }
}

function createTransport(options: UploadOptions): Transport {
  if (options.drop) {
    if (options.speaker !== undefined)
      throw new Error(
        "--speaker goes with --api only: the drop folder takes a file's speaker from its folder " +
          "(incoming/<prefix>/<speaker id>/… under a prefix in the deployment's DROP_FOLDER_SPEAKER_PREFIXES); " +
          'name that folder in --drop instead, e.g. --drop s3://<bucket>/incoming/calls/agent-7/',
      );
    const s3 = createS3Client({ region: options.region, s3Endpoint: options.s3Endpoint });
    return dropTransport(s3, parseDropTarget(options.drop));
  }
  if (!options.api || !options.key) throw new Error('ser upload needs --api and --key (or --drop)');
  const client = createSerClient({ baseUrl: options.api, apiKey: options.key });
  return apiTransport(client, options.speaker === undefined ? undefined : checkedSpeakerId(options.speaker));
}

/** `--speaker` checked as POST /uploads checks `speakerId`, once, instead of a 400 for every file. */
function checkedSpeakerId(speaker: string): string {
  const parsed = SpeakerIdSchema.safeParse(speaker);
  if (parsed.success) return parsed.data;
  const why = parsed.error.issues.map((issue) => issue.message).join('; ');
  throw new Error(`--speaker ${JSON.stringify(speaker)} is not a valid speakerId: ${why}`);
}

/** Files named, and audio files under folders named; each with its path relative to what was named. */
async function collectFiles(paths: string[]): Promise<UploadFile[]> {
  const files: UploadFile[] = [];
  for (const path of paths) {
    const isFolder = await stat(path).then(
      (info) => info.isDirectory(),
      () => false,
    );
    // A path that cannot be read is that file's row (its upload fails), as `ser predict` reports it,
    // not the end of the whole batch.
    if (!isFolder) {
      files.push({ path, relativePath: relative(dirname(path), path) });
      continue;
    }
    for await (const file of walkAudioFiles(path))
      files.push({ path: file, relativePath: relative(path, file) });
  }
  return files;
}

/** The file itself could not be read (missing, a folder, no permission): `ser predict`'s code for it. */
const isFileError = (error: unknown): boolean =>
  error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string' && 'path' in error;

/** Sends one file and waits for its result; never throws (a failure is that file's row). */
async function uploadOne(transport: Transport, file: UploadFile, options: UploadOptions): Promise<UploadRow> {
  let ref: string | undefined;
  try {
    ref = await withRetries(() => transport.send(file), options.retries);
    const prediction = await waitForResult(transport, ref, options);
    return toRow(file.path, prediction);
  } catch (error) {
    const code =
      error instanceof RequestRefused
        ? error.code
        : (error as Error).name === 'TimeoutError'
          ? 'TIMEOUT'
          : isFileError(error)
            ? UNREADABLE_FILE
            : 'UPLOAD_FAILED';
    return {
      file: file.path,
      ...(ref ? { id: ref } : {}),
      status: 'ERROR',
      error: { code, message: messageWithCause(error as Error) },
    };
  }
}

/** Polls until the result is terminal: every 250 ms at first, backing off to 2 s. */
async function waitForResult(transport: Transport, ref: string, options: UploadOptions): Promise<Prediction> {
  const deadline = Date.now() + options.timeout * 1000;
  for (let interval = 250; Date.now() < deadline; interval = Math.min(interval * 1.5, 2000)) {
    const prediction = await withRetries(() => transport.poll(ref), options.retries);
    if (prediction) return prediction;
    await sleep(interval);
  }
  throw Object.assign(new Error(`no result for ${ref} after ${options.timeout} s`), { name: 'TimeoutError' });
}

function toRow(file: string, p: Prediction): UploadRow {
  const status = p.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED';
  const known = RESULT_FIELDS.filter((field) => p[field] !== undefined).map((field) => [field, p[field]]);
  return { file, id: p.id, status, ...Object.fromEntries(known), ...(p.error ? { error: p.error } : {}) };
}

/**
 * CSV stays flat: the row's scalar fields (no probabilities, segments or speaker context). New columns go
 * at the end, so that a reader that takes columns by position keeps working.
 */
const CSV_COLUMNS: [string, (row: UploadRow) => unknown][] = [
  ['file', (r) => r.file],
  ['id', (r) => r.id],
  ['status', (r) => r.status],
  ['emotion', (r) => r.emotion],
  ['confidence', (r) => r.confidence],
  ['modelVersion', (r) => r.modelVersion],
  ['errorCode', (r) => r.error?.code],
  ['errorMessage', (r) => r.error?.message],
  ['lowConfidence', (r) => r.lowConfidence],
  ['durationSec', (r) => r.durationSec],
];
/**
 * One RFC 4180 cell. Text that a spreadsheet would run as a formula (a file named `=HYPERLINK(…)`,
 * `+1`, `-2`, `@SUM(…)`) gets a leading apostrophe, which spreadsheets show as text (OWASP's advice for
 * CSV injection); numbers are written as they are.
 */
const csvCell = (value: unknown): string => {
  const text =
    value === undefined
      ? ''
      : typeof value === 'string' && /^[=+\-@\t\r]/.test(value)
        ? `'${value}`
        : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export function formatRows(rows: UploadRow[], format: 'jsonl' | 'csv'): string {
  if (format === 'jsonl') return rows.map((row) => `${JSON.stringify(row)}\n`).join('');
  const header = CSV_COLUMNS.map(([name]) => name).join(',');
  const lines = rows.map((row) => CSV_COLUMNS.map(([, cell]) => csvCell(cell(row))).join(','));
  return `${[header, ...lines].join('\r\n')}\r\n`;
}

/**
 * To `--out` (format from `--format`, else its extension: .csv or JSON lines), or stdout. `--out` is
 * written whole beside it and renamed over it, so it holds an earlier run's results or this run's, never
 * part of either; if that fails (a full disk) the results go to stdout instead, so they are not lost:
 * whether they reached `--out`.
 */
async function writeRows(rows: UploadRow[], options: UploadOptions): Promise<boolean> {
  const format = options.format ?? (options.out && extname(options.out) === '.csv' ? 'csv' : 'jsonl');
  const text = formatRows(rows, format);
  if (!options.out) {
    process.stdout.write(text);
    return true;
  }
  const partial = `${options.out}.${process.pid}.partial`;
  try {
    await writeFile(partial, text);
    await rename(partial, options.out);
    return true;
  } catch (error) {
    await rm(partial, { force: true });
    console.error(
      `ser upload: could not write ${options.out} (${messageWithCause(error as Error)}); the results follow on stdout`,
    );
    process.exitCode = 1;
    process.stdout.write(text);
    return false;
  }
}
