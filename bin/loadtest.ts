/**
 * `npm run loadtest [-- --uploads 1000 --concurrency 50 --drop-folder 500]`: the whole path under load
 * on the local stack (loopback only): POST /uploads → presigned PUT → S3 event → inference → DynamoDB,
 * then a burst of drop-folder objects under incoming/. Afterwards every id is checked: it reached a
 * terminal state, it was processed exactly once, and its result is the one the model gives for those
 * bytes (or the error code the bad file must get). A share of the S3 events is delivered twice, and
 * concurrently, as S3 may do. Prints throughput, upload→result latency percentiles, errors,
 * duplicates and lost ids; exits 1 when anything was lost, duplicated or wrong.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Command, InvalidArgumentError } from 'commander';
import { isTerminalStatus } from '../lambdas/app/api-schemas.ts';
import { createS3Client } from '../lambdas/app/aws-clients.ts';
import { dropFolderId, INCOMING_PREFIX, resultKey } from '../lambdas/app/object-keys.ts';
import type { ProcessOutcome } from '../lambdas/app/object-processor.ts';
import { objectVersionOf } from '../lambdas/app/object-processor.ts';
import { isSerError } from '../lambdas/core/errors.ts';
import { createPredictor } from '../lambdas/core/predict.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from './local/local-aws.ts';
import { encodeS3EventKey, latestSequencer } from './local/s3-event-bridge.ts';
import { type LocalStack, startLocalStack } from './local/stack.ts';

const FIXTURES = new URL('../test/fixtures/', import.meta.url);
/** Bad files mixed into the load, each with the code its record must end with. */
const BAD_SAMPLES = ['truncated.flac', 'random-bytes.wav', 'silence.wav'];
/** Caps that keep a mistyped argument from turning a load test into a denial of service on this machine. */
const MAX_OBJECTS = 10_000;
const MAX_CONCURRENCY = 200;

export interface LoadTestOptions {
  /** API uploads (POST /uploads + presigned PUT). */
  uploads: number;
  /** Objects put straight under incoming/ (the drop folder), as one burst. */
  dropFolder: number;
  /** Clients uploading at once. */
  concurrency: number;
  /** Share of objects whose S3 event is delivered a second time, concurrently with the first. */
  duplicateRate: number;
  /** Share of objects that are bad audio and must end FAILED with their code. */
  badRate: number;
  /** Gives up waiting for terminal states after this long (the unfinished ids are reported lost). */
  timeoutSec: number;
  log?: (line: string) => void;
}

export const DEFAULT_LOAD_TEST: LoadTestOptions = {
  uploads: 1000,
  dropFolder: 500,
  concurrency: 50,
  duplicateRate: 0.1,
  badRate: 0.05,
  timeoutSec: 1200,
};

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface PhaseReport {
  phase: 'uploads' | 'drop-folder';
  requested: number;
  /** Ids that reached SUCCEEDED or FAILED. */
  terminal: number;
  succeeded: number;
  failed: number;
  /** Ids that were processed more than once (a terminal write after the first). */
  duplicates: number;
  /** Ids that never reached a terminal state (or whose upload was refused). */
  lost: number;
  /** Terminal ids whose result differs from the model's answer for those bytes. */
  wrong: number;
  /** Second deliveries of the same event (all must be skipped as duplicates). */
  redelivered: number;
  /** Client-side failures (refused requests, thrown calls), dead letters and other stack errors. */
  errors: number;
  errorSamples: string[];
  /**
   * Processing attempts that threw and were retried (as Lambda retries an async event): by design, not
   * a loss — the object still ends in one terminal state, which `terminal`/`duplicates` check.
   */
  retries: number;
  retrySamples: string[];
  /** From the first request to the last terminal state. */
  durationSec: number;
  /** Terminal ids per second over `durationSec`. */
  throughputPerSec: number;
  /** From the start of the object's upload to its terminal record being committed. */
  latencyMs: LatencySummary;
}

export interface LoadTestReport {
  modelVersion: string;
  options: Omit<LoadTestOptions, 'log'>;
  uploads: PhaseReport;
  dropFolder: PhaseReport;
}

interface Sample {
  fileName: string;
  bytes: Buffer;
  expected: { emotion: string; confidence: number } | { code: string };
}

interface Tracked {
  sample: Sample;
  startedAt: number;
  key?: string;
  eTag?: string;
}

const percentile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

function summarizeLatency(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x);
  return {
    p50: r(percentile(sorted, 0.5)),
    p95: r(percentile(sorted, 0.95)),
    p99: r(percentile(sorted, 0.99)),
    max: r(sorted.at(-1) ?? 0),
  };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The clips and bad files, each with the answer the model (or the decoder) gives for its bytes. */
async function loadSamples(): Promise<{ good: Sample[]; bad: Sample[]; modelVersion: string }> {
  const predictor = await createPredictor({ modelDir: DEFAULT_MODEL_DIR });
  const outcome = async (bytes: Buffer): Promise<Sample['expected']> => {
    try {
      const { emotion, confidence } = await predictor.predict(bytes);
      return { emotion, confidence };
    } catch (error) {
      if (!isSerError(error)) throw error;
      return { code: error.code };
    }
  };
  const tessDir = new URL('tess/', FIXTURES);
  const names = (await readdir(tessDir)).filter((n) => n.endsWith('.flac')).sort();
  const good: Sample[] = [];
  for (const fileName of names) {
    const bytes = await readFile(new URL(fileName, tessDir));
    good.push({ fileName, bytes, expected: await outcome(bytes) });
  }
  const bad: Sample[] = [];
  for (const fileName of BAD_SAMPLES) {
    const bytes = await readFile(new URL(`bad/${fileName}`, FIXTURES));
    bad.push({ fileName, bytes, expected: await outcome(bytes) });
  }
  const modelVersion = predictor.modelVersion;
  await predictor.release();
  return { good, bad, modelVersion };
}

function checkOptions(options: LoadTestOptions): void {
  const within = (name: string, value: number, min: number, max: number) => {
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new RangeError(`${name} must be from ${min} to ${max}, got ${value}`);
    }
  };
  within('uploads', options.uploads, 0, MAX_OBJECTS);
  within('dropFolder', options.dropFolder, 0, MAX_OBJECTS);
  within('concurrency', options.concurrency, 1, MAX_CONCURRENCY);
  within('duplicateRate', options.duplicateRate, 0, 1);
  within('badRate', options.badRate, 0, 1);
  within('timeoutSec', options.timeoutSec, 1, 3600);
}

/** What a phase's `start(i)` does for object i: upload it and note it in `tracked` (or in `errors`). */
type StartObject = (i: number, tracked: Map<string, Tracked>, errors: string[]) => Promise<void>;

/** The stack under load and what was seen of it: terminal commits, stack errors, retries, redeliveries. */
interface LoadTestRun {
  options: LoadTestOptions;
  stack: LocalStack;
  s3: S3Client;
  /** performance.now() past which waiting for terminal states stops. */
  deadline: number;
  /** Terminal commits per id, with the time of the first. */
  commits: Map<string, { count: number; at: number }>;
  stackErrors: string[];
  stackRetries: string[];
  redeliveries: Promise<void>[];
  /** Delivers the object's S3 event a second time, concurrently with the stack's own delivery. */
  redeliver: (key: string, eTag: string, size: number, errors: string[]) => void;
  /** Whether object i's event is also redelivered. */
  redelivers: (i: number) => boolean;
  pick: (i: number) => Sample;
}

/** Starts a local stack in a temp folder, runs both phases against it, and checks every id. */
export async function runLoadTest(given: Partial<LoadTestOptions> = {}): Promise<LoadTestReport> {
  const options: LoadTestOptions = { ...DEFAULT_LOAD_TEST, ...given };
  checkOptions(options);
  const log = options.log ?? (() => {});
  const { good, bad, modelVersion } = await loadSamples();
  const dataDir = await mkdtemp(join(tmpdir(), 'ser-loadtest-'));
  const run = await startRun(options, dataDir, sampleMix(good, bad, options.badRate));
  try {
    log(`local stack at ${run.stack.apiUrl}, model ${modelVersion}; ${options.uploads} uploads…`);
    const uploads = await runPhase(run, 'uploads', options.uploads, uploadThroughApi(run));
    log(`${options.dropFolder} drop-folder objects…`);
    const dropFolder = await runPhase(run, 'drop-folder', options.dropFolder, dropIntoFolder(run));
    return {
      modelVersion,
      options: { ...options, log: undefined } as LoadTestReport['options'],
      uploads,
      dropFolder,
    };
  } finally {
    run.s3.destroy();
    await run.stack.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Deterministic mix: every 1/badRate-th object is bad, the rest cycle through the clips. */
function sampleMix(good: Sample[], bad: Sample[], badRate: number): (i: number) => Sample {
  const badEvery = badRate > 0 ? Math.round(1 / badRate) : 0;
  return (i) =>
    badEvery > 0 && i % badEvery === badEvery - 1
      ? bad[Math.floor(i / badEvery) % bad.length]!
      : good[i % good.length]!;
}

/** The local stack, observed: its log lines sorted into errors and retries, every terminal commit counted. */
async function startRun(options: LoadTestOptions, dataDir: string, pick: (i: number) => Sample) {
  const commits: LoadTestRun['commits'] = new Map();
  const stackErrors: string[] = [];
  const stackRetries: string[] = [];
  const onProcessed = (outcome: ProcessOutcome) => {
    if (outcome.outcome !== 'succeeded' && outcome.outcome !== 'failed') return;
    const seen = commits.get(outcome.id);
    commits.set(outcome.id, { count: (seen?.count ?? 0) + 1, at: seen?.at ?? performance.now() });
  };
  const stack = await startLocalStack({
    host: '127.0.0.1',
    port: 0,
    s3Port: 0,
    dynamoDbPort: 0,
    bucket: 'ser-load',
    apiKey: randomBytes(16).toString('hex'),
    adminKey: randomBytes(16).toString('hex'),
    dataDir,
    log: (line) => {
      if (/^processing failed \(attempt \d+\/\d+\)/.test(line)) stackRetries.push(line);
      else if (/failed|dead-lettered|error/i.test(line) && !/→ FAILED/.test(line)) stackErrors.push(line);
    },
    onProcessed,
  });
  const redeliveries: Promise<void>[] = [];
  const redeliverEvery = options.duplicateRate > 0 ? Math.round(1 / options.duplicateRate) : 0;
  const run: LoadTestRun = {
    options,
    stack,
    s3: createS3Client({
      region: LOCAL_REGION,
      credentials: LOCAL_S3_CREDENTIALS,
      s3Endpoint: stack.s3Endpoint,
    }),
    deadline: performance.now() + options.timeoutSec * 1000,
    commits,
    stackErrors,
    stackRetries,
    redeliveries,
    redeliver: await createRedeliverer(stack.bucket, onProcessed, redeliveries),
    redelivers: (i) => redeliverEvery > 0 && i % redeliverEvery === 0,
    pick,
  };
  return run;
}

/**
 * A second delivery of an object's event to the very handler module the stack delivers to (ES modules
 * are cached), running concurrently with the queue's, as with a duplicate S3 notification in AWS.
 */
async function createRedeliverer(
  bucket: string,
  onProcessed: (outcome: ProcessOutcome) => void,
  redeliveries: Promise<void>[],
): Promise<LoadTestRun['redeliver']> {
  const { handler } = await import('../lambdas/handlers/process-object.ts');
  const { lambdaContext } = await import('./local/lambda-context.ts');
  const deliver = async (key: string, eTag: string, size: number, errors: string[]) => {
    // A duplicate S3 notification is the same event: same object, same sequencer.
    const sequencer = await sequencerOf(key);
    const object = { key: encodeS3EventKey(key), eTag, size, sequencer };
    const event = {
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: bucket }, object },
        },
      ],
    };
    // Retried as Lambda retries an asynchronous invocation (a live claim of the first delivery throws).
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const outcomes = (await handler(event, lambdaContext('process-object'))) as ProcessOutcome[];
        for (const outcome of outcomes) onProcessed(outcome);
        return;
      } catch (error) {
        if (attempt === 3) errors.push(`redelivery of ${key}: ${(error as Error).message}`);
        await sleep(200 * attempt);
      }
    }
  };
  return (key, eTag, size, errors) => {
    redeliveries.push(deliver(key, eTag, size, errors));
  };
}

/** The sequencer of the local bridge's notification for `key` (it is sent as the PUT completes). */
async function sequencerOf(key: string): Promise<string | undefined> {
  for (let waited = 0; waited < 5_000; waited += 10) {
    const sequencer = latestSequencer(key);
    if (sequencer) return sequencer;
    await sleep(10);
  }
  return undefined;
}

/** Phase 1, one object: POST /uploads, then PUT the bytes to the presigned URL. */
function uploadThroughApi(run: LoadTestRun): StartObject {
  const { stack } = run;
  return async (i, tracked, errors) => {
    const sample = run.pick(i);
    const created = await fetch(`${stack.apiUrl}/uploads`, {
      method: 'POST',
      headers: { 'x-api-key': stack.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ fileName: sample.fileName, sizeBytes: sample.bytes.length }),
    });
    if (created.status !== 201) {
      errors.push(`POST /uploads ${created.status}: ${await created.text()}`);
      return;
    }
    const { id, upload } = (await created.json()) as {
      id: string;
      upload: { url: string; headers: Record<string, string> };
    };
    const entry: Tracked = { sample, startedAt: performance.now() };
    tracked.set(id, entry);
    const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: sample.bytes });
    if (put.status !== 200) {
      errors.push(`PUT ${put.status}: ${await put.text()}`);
      return;
    }
    entry.key = decodeURIComponent(new URL(upload.url).pathname.split('/').slice(2).join('/'));
    entry.eTag = (put.headers.get('etag') ?? '').replaceAll('"', '');
    if (run.redelivers(i)) run.redeliver(entry.key, entry.eTag, sample.bytes.length, errors);
  };
}

/** Phase 2, one object: a PutObject straight under incoming/, all in one burst folder. */
function dropIntoFolder(run: LoadTestRun): StartObject {
  const { stack, s3 } = run;
  const burst = `burst-${Date.now()}`;
  return async (i, tracked, errors) => {
    const sample = run.pick(i);
    const key = `${INCOMING_PREFIX}${burst}/${String(i).padStart(5, '0')}-${sample.fileName}`;
    const startedAt = performance.now();
    const put = await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: sample.bytes }));
    const eTag = (put.ETag ?? '').replaceAll('"', '');
    // The record's id follows the object's version: its ETag and its notification's sequencer.
    const objectVersion = objectVersionOf(
      { bucket: stack.bucket, key, sequencer: await sequencerOf(key) },
      eTag,
    );
    tracked.set(dropFolderId(stack.bucket, key, objectVersion), { sample, startedAt, key, eTag });
    if (run.redelivers(i)) run.redeliver(key, eTag, sample.bytes.length, errors);
  };
}

/** Starts `count` objects with bounded concurrency, waits for the stack to settle, and checks every id. */
async function runPhase(
  run: LoadTestRun,
  phase: PhaseReport['phase'],
  count: number,
  start: StartObject,
): Promise<PhaseReport> {
  const tracked = new Map<string, Tracked>();
  const errors: string[] = [];
  const before = {
    errors: run.stackErrors.length,
    retries: run.stackRetries.length,
    redeliveries: run.redeliveries.length,
  };
  const startedAt = performance.now();
  await pool(count, run.options.concurrency, async (i) => {
    try {
      await start(i, tracked, errors);
    } catch (error) {
      errors.push(`${phase} #${i}: ${(error as Error).message}`);
    }
  });
  // Every event delivered (or dead-lettered) and every second delivery settled, within the deadline.
  await Promise.race([
    Promise.all([run.stack.idle(), Promise.all(run.redeliveries)]),
    sleep(Math.max(0, run.deadline - performance.now())),
  ]);
  const finishedAt = Math.max(
    ...[...tracked.keys()].map((id) => run.commits.get(id)?.at ?? 0),
    performance.now() - 1,
  );
  const verified = await verifyPhase(run, phase, tracked, errors);
  const allErrors = [...errors, ...run.stackErrors.slice(before.errors)];
  const retried = run.stackRetries.slice(before.retries);
  const durationSec = (finishedAt - startedAt) / 1000;
  return {
    phase,
    requested: count,
    ...verified.counts,
    lost: count - verified.counts.terminal,
    redelivered: run.redeliveries.length - before.redeliveries,
    errors: allErrors.length,
    errorSamples: allErrors.slice(0, 5),
    retries: retried.length,
    retrySamples: retried.slice(0, 5),
    durationSec: Math.round(durationSec * 10) / 10,
    throughputPerSec: Math.round((verified.counts.terminal / durationSec) * 10) / 10,
    latencyMs: summarizeLatency(verified.latencies),
  };
}

/** Every tracked id through the public API (GET /predictions/{id}), and the results/ file for the drop folder. */
async function verifyPhase(
  run: LoadTestRun,
  phase: PhaseReport['phase'],
  tracked: Map<string, Tracked>,
  errors: string[],
) {
  const counts = { terminal: 0, succeeded: 0, failed: 0, wrong: 0, duplicates: 0 };
  const latencies: number[] = [];
  const ids = [...tracked.keys()];
  await pool(ids.length, run.options.concurrency, async (n) => {
    const id = ids[n]!;
    const entry = tracked.get(id)!;
    const record = await readPrediction(run.stack, id);
    if (!isTerminalStatus(record.status)) return;
    counts.terminal++;
    if (record.status === 'SUCCEEDED') counts.succeeded++;
    else counts.failed++;
    const commit = run.commits.get(id);
    if (commit) {
      latencies.push(commit.at - entry.startedAt);
      if (commit.count > 1) counts.duplicates++;
    }
    if (!isExpected(record, entry.sample.expected)) {
      counts.wrong++;
      errors.push(`${id} (${entry.sample.fileName}): got ${JSON.stringify(record).slice(0, 200)}`);
    }
    if (phase === 'drop-folder' && entry.key) {
      const resultFile = resultKey(entry.key.slice(INCOMING_PREFIX.length));
      const file = await run.s3.send(new GetObjectCommand({ Bucket: run.stack.bucket, Key: resultFile }));
      const result = JSON.parse(await file.Body!.transformToString()) as { status: string };
      if (result.status !== record.status) {
        counts.wrong++;
        errors.push(`${resultFile} says ${result.status}, the record ${record.status}`);
      }
    }
  });
  return { counts, latencies };
}

interface PredictionRecord {
  status?: string;
  emotion?: string;
  confidence?: number;
  error?: { code: string };
}

async function readPrediction(stack: LocalStack, id: string): Promise<PredictionRecord> {
  const response = await fetch(`${stack.apiUrl}/predictions/${id}`, {
    headers: { 'x-api-key': stack.apiKey },
  });
  return (await response.json()) as PredictionRecord;
}

/** The model's answer for those bytes, or the error code the bad file must get. */
const isExpected = (record: PredictionRecord, expected: Sample['expected']): boolean =>
  'code' in expected
    ? record.error?.code === expected.code
    : record.emotion === expected.emotion && Math.abs((record.confidence ?? -1) - expected.confidence) < 1e-6;

export function formatReport(report: LoadTestReport): string {
  const lines = [`model ${report.modelVersion}; concurrency ${report.options.concurrency}`];
  for (const p of [report.uploads, report.dropFolder]) {
    if (p.requested === 0) continue;
    lines.push(
      `${p.phase.padEnd(11)} ${p.terminal}/${p.requested} terminal (${p.succeeded} SUCCEEDED, ${p.failed} FAILED), ` +
        `${p.duplicates} duplicates, ${p.lost} lost, ${p.wrong} wrong, ${p.errors} errors, ${p.retries} retried attempts; ` +
        `${p.redelivered} events delivered twice`,
      `${''.padEnd(11)} ${p.throughputPerSec} objects/s over ${p.durationSec} s; upload→result ms ` +
        `p50 ${p.latencyMs.p50}, p95 ${p.latencyMs.p95}, p99 ${p.latencyMs.p99}, max ${p.latencyMs.max}`,
      ...p.errorSamples.map((e) => `${''.padEnd(11)} ! ${e}`),
      ...p.retrySamples.map((e) => `${''.padEnd(11)} ~ ${e}`),
    );
  }
  return lines.join('\n');
}

export const loadTestPassed = (report: LoadTestReport): boolean =>
  [report.uploads, report.dropFolder].every(
    (p) => p.terminal === p.requested && p.duplicates === 0 && p.wrong === 0,
  );

const count = (name: string, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new InvalidArgumentError(`${name}: an integer from 0 to ${max}`);
  return n;
};
const share = (value: string) => {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('a share from 0 to 1');
  return n;
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = new Command()
    .name('loadtest')
    .description('load test of the local stack (127.0.0.1 only): uploads and a drop-folder burst')
    .option('--uploads <n>', 'API uploads', count('uploads', MAX_OBJECTS), DEFAULT_LOAD_TEST.uploads)
    .option(
      '--drop-folder <n>',
      'drop-folder objects',
      count('drop-folder', MAX_OBJECTS),
      DEFAULT_LOAD_TEST.dropFolder,
    )
    .option(
      '--concurrency <n>',
      'clients at once',
      count('concurrency', MAX_CONCURRENCY),
      DEFAULT_LOAD_TEST.concurrency,
    )
    .option('--duplicate-rate <share>', 'events delivered twice', share, DEFAULT_LOAD_TEST.duplicateRate)
    .option('--bad-rate <share>', 'bad audio files', share, DEFAULT_LOAD_TEST.badRate)
    .option('--timeout <seconds>', 'stop waiting after', count('timeout', 3600), DEFAULT_LOAD_TEST.timeoutSec)
    .option('--json', 'print the report as JSON')
    .parse()
    .opts<Omit<LoadTestOptions, 'timeoutSec' | 'log'> & { timeout: number; json?: boolean }>();
  const started = performance.now();
  const report = await runLoadTest({
    uploads: options.uploads,
    dropFolder: options.dropFolder,
    concurrency: options.concurrency,
    duplicateRate: options.duplicateRate,
    badRate: options.badRate,
    timeoutSec: options.timeout,
    log: (line) => console.error(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`),
  });
  console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
  process.exit(loadTestPassed(report) ? 0 : 1);
}
