import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import cliProgress from 'cli-progress';
import stringWidth from 'string-width';
import { UPLOAD_EXTENSIONS } from '../lambdas/core/audio/formats.ts';
import type { Predictor } from '../lambdas/core/predict.ts';
import { defaultModelDir } from '../lib/paths.ts';
import { type FileOutcome, predictFile, unreadable, walkAudioFiles } from './predict-files.ts';
import type { WorkerSetup, WorkerTask } from './predict-worker.ts';
import { printable } from './printable.ts';
import {
  createSpeakerContexts,
  type SpeakerContextOptions,
  type SpeakerContexts,
} from './speaker-contexts.ts';
import { stdoutClosedSignal } from './stdout-closed.ts';
import { predictWorkerUrl } from './worker-bundle.ts';

export interface PredictOptions extends SpeakerContextOptions {
  json?: boolean;
  model?: string;
  maxDuration: number;
  jobs: number;
  filesFrom?: string;
}

/**
 * Above this many bytes of arguments the CLI re-runs itself with the paths on stdin: onnxruntime-node
 * 1.30 overflows the main thread's stack while creating a session when the command line is long (it
 * matches a regular expression over /proc/self/cmdline; docs/dependencies.md). 8 KB is far below the
 * ~29 KB where it crashes with the usual 8 MB stack.
 */
const ARGV_BYTES_LIMIT = 8 * 1024;
/** A progress bar is worth drawing from this many files on (table output only; stdout stays clean). */
const PROGRESS_MIN_FILES = 5;

/**
 * One path per line (`-` reads stdin), or, when the list holds a NUL, NUL-separated (`find -print0`; the
 * long-command-line hand-over below): a path may contain a newline. Empty entries are skipped.
 */
async function readPathList(source: string): Promise<string[]> {
  let text = '';
  if (source === '-') {
    for await (const chunk of process.stdin) text += chunk;
  } else text = await readFile(source, 'utf8');
  return text.split(text.includes('\0') ? '\0' : /\r?\n/).filter((path) => path.length > 0);
}

/** Runs this CLI again with the same Node flags and options but the paths on stdin; returns its exit code. */
function rerunWithPathsOnStdin(paths: string[], options: PredictOptions): Promise<number> {
  const args = ['predict', '--files-from', '-', '--max-duration', String(options.maxDuration)];
  // A speaker context runs in one thread and refuses --jobs beside it.
  if (!options.speaker && !options.groupBy) args.push('--jobs', String(options.jobs));
  if (options.json) args.push('--json');
  if (options.model) args.push('--model', options.model);
  if (options.speaker) args.push('--speaker', options.speaker);
  if (options.groupBy) args.push('--group-by', options.groupBy);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  child.stdin.end(`${paths.join('\0')}\0`);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(signal ? 1 : (code ?? 1)));
  });
}

type Item = { file: string; name: string } | { outcome: FileOutcome };

/**
 * Expands folders (in the order given); a path that cannot be walked becomes an error outcome in its place.
 * Files are named as the user gave them (a folder's files: the folder as given joined with the path inside
 * it), whatever the working directory, as `ser upload` names them.
 */
async function collectItems(paths: string[]): Promise<Item[]> {
  const items: Item[] = [];
  const visited = new Set<string>();
  for (const path of paths) {
    try {
      for await (const file of walkAudioFiles(path, visited)) items.push({ file, name: file });
    } catch (error) {
      items.push({ outcome: unreadable(path, error) });
    }
  }
  return items;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

type Slot = (file: string, name: string) => Promise<FileOutcome>;

/**
 * Files sent ahead to each worker: the next one is already queued there when it finishes one, so it does
 * not wait for this thread (busy printing, or without a core on a loaded machine) to send it.
 */
const TASKS_PER_WORKER = 2;

type Reply = { index: number; outcome?: FileOutcome; fatal?: string };

/** One worker as a slot: tasks are numbered, and each reply settles the task with its number. */
function workerSlot(worker: Worker, nextIndex: () => number): Slot {
  const pending = new Map<number, { resolve(o: FileOutcome): void; reject(e: unknown): void }>();
  worker.on('message', (reply: Reply) => {
    const task = pending.get(reply.index);
    pending.delete(reply.index);
    if (reply.outcome) task?.resolve(reply.outcome);
    else task?.reject(new Error(reply.fatal));
  });
  worker.on('error', (error) => {
    for (const task of pending.values()) task.reject(error);
    pending.clear();
  });
  return (file, name) =>
    new Promise((resolve, reject) => {
      const index = nextIndex();
      pending.set(index, { resolve, reject });
      worker.postMessage({ index, file, name } satisfies WorkerTask);
    });
}

/**
 * `jobs` workers, each with its own predictor, as slots (`TASKS_PER_WORKER` per worker). They run the
 * prebundled JavaScript worker (bin/worker-bundle.ts), not TypeScript through a loader of their own.
 */
async function startWorkers(
  jobs: number,
  setup: WorkerSetup,
): Promise<{ slots: Slot[]; stop(): Promise<void> }> {
  const entry = await predictWorkerUrl();
  const workers = Array.from({ length: jobs }, () => new Worker(entry, { workerData: setup }));
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        }),
    ),
  );
  let next = 0;
  const perWorker = workers.map((worker) => workerSlot(worker, () => next++));
  const slots = Array.from({ length: TASKS_PER_WORKER }, () => perWorker).flat();
  return {
    slots,
    stop: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * Runs every item through the free slots; the outcomes are in input order. Once `stop` is aborted no
 * item is started, and `settled` resolves when the ones already started have ended (the rest of
 * `outcomes` never settle).
 */
function schedule(
  items: Item[],
  slots: Slot[],
  onDone: () => void,
  stop: AbortSignal,
): { outcomes: Promise<FileOutcome>[]; settled: Promise<unknown> } {
  const queue = items.map((item, i) => ({ item, i }));
  const results = items.map(() => deferred<FileOutcome>());
  const next = () => (stop.aborted ? undefined : queue.shift());
  const drain = async (slot: Slot) => {
    for (let task = next(); task; task = next()) {
      const { item, i } = task;
      try {
        results[i]!.resolve('outcome' in item ? item.outcome : await slot(item.file, item.name));
      } catch (error) {
        results[i]!.reject(error);
        queue.length = 0; // a bug stops the run
      }
      onDone();
    }
  };
  const settled = Promise.all(slots.map(drain));
  return { outcomes: results.map((r) => r.promise), settled };
}

const percent = (p: number): string => `${(p * 100).toFixed(1)}%`;

function formatRow(outcome: FileOutcome): string[] {
  const file = printable(outcome.file);
  if ('error' in outcome) return [file, `error ${outcome.error.code}`, '', printable(outcome.error.message)];
  const { result } = outcome;
  const top3 = Object.entries(result.probabilities)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 3)
    .map(([label, p]) => `${label} ${percent(p)}`)
    .join(', ');
  const confidence = `${percent(result.confidence)}${result.lowConfidence ? ' (low)' : ''}`;
  return [file, result.emotion, confidence, top3];
}

function printTable(rows: string[][]): void {
  const header = ['file', 'emotion', 'confidence', 'top 3'];
  const all = [header, ...rows];
  // Columns by what a terminal shows (a CJK character takes two cells, a combining mark none), not UTF-16 length.
  const widths = header.map((_, c) => Math.max(...all.map((r) => stringWidth(r[c]!))));
  for (const row of all)
    console.log(
      row
        .map((cell, c) => cell + ' '.repeat(widths[c]! - stringWidth(cell)))
        .join('  ')
        .trimEnd(),
    );
}

const jsonLine = (outcome: FileOutcome, speakerId: string | undefined): string =>
  JSON.stringify(
    'error' in outcome
      ? outcome
      : {
          file: outcome.file,
          emotion: outcome.result.emotion,
          confidence: outcome.result.confidence,
          ...(outcome.result.lowConfidence === undefined
            ? {}
            : { lowConfidence: outcome.result.lowConfidence }),
          probabilities: outcome.result.probabilities,
          durationSec: outcome.result.durationSec,
          segments: outcome.result.segments,
          ...(speakerId === undefined ? {} : { speakerId }),
          ...(outcome.result.adaptation ? { adaptation: outcome.result.adaptation } : {}),
        },
  );

/**
 * The predictor for this thread, imported only when this thread predicts: with workers, the main thread
 * never loads the core (nor onnxruntime, nor the decoders).
 */
async function createLocalPredictor(options: PredictOptions): Promise<Predictor> {
  const { createPredictor } = await import('../lambdas/core/predict.ts');
  return createPredictor({ modelDir: modelDirOf(options) });
}

/** `--model`, else the tools' default package (`SER_MODEL_DIR`, else the bundled one). */
const modelDirOf = (options: PredictOptions): string => options.model ?? defaultModelDir();

/**
 * With a speaker context, one slot in this thread: each file is judged against the earlier files of
 * its speaker, so they run in order (`--jobs` does not apply).
 */
async function startSpeakerSlot(
  options: PredictOptions,
  speakers: SpeakerContexts,
): Promise<{ slots: Slot[]; stop(): Promise<void> }> {
  const predictor = await createLocalPredictor(options);
  const slot: Slot = async (file, name) => {
    const outcome = await predictFile(
      predictor,
      file,
      name,
      options.maxDuration,
      speakers.predictOptions(name),
    );
    if ('result' in outcome) speakers.record(name, outcome.result);
    return outcome;
  };
  return { slots: [slot], stop: () => predictor.release() };
}

/** Slots that predict: in this thread for one job, else worker threads. */
async function startSlots(options: PredictOptions): Promise<{ slots: Slot[]; stop(): Promise<void> }> {
  if (options.jobs <= 1) {
    const predictor = await createLocalPredictor(options);
    return {
      slots: [(file, name) => predictFile(predictor, file, name, options.maxDuration)],
      stop: () => predictor.release(),
    };
  }
  const workers = await startWorkers(options.jobs, {
    // Resolved here: the bundled worker's own location says nothing about where the model is.
    modelDir: modelDirOf(options),
    maxDurationSec: options.maxDuration,
  });
  return { slots: workers.slots, stop: async () => workers.stop() };
}

/** `ser predict`: prints one row (or JSON line) per file in input order; returns the exit code. */
export async function predictFromCommandLine(args: string[], options: PredictOptions): Promise<number> {
  const paths = options.filesFrom ? [...(await readPathList(options.filesFrom)), ...args] : args;
  if (paths.length === 0) {
    console.error('Name audio files or folders, or --files-from <file|->');
    return 2;
  }
  if (Buffer.byteLength(process.argv.join(' ')) > ARGV_BYTES_LIMIT)
    return rerunWithPathsOnStdin(paths, options);

  const items = await collectItems(paths);
  if (items.length === 0) {
    // Folders are walked for the accepted extensions only; a file named on the command line is always tried.
    console.error(
      `No audio files found: folders are searched for ${UPLOAD_EXTENSIONS.map((e) => `.${e}`).join(' ')}; name other files directly`,
    );
    return 2;
  }
  const progress =
    !options.json && items.length >= PROGRESS_MIN_FILES
      ? new cliProgress.SingleBar(
          { stream: process.stderr, etaBuffer: 50 },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  progress?.start(items.length, 0);
  const speakers = options.speaker || options.groupBy ? createSpeakerContexts(options) : undefined;
  const { slots, stop } = speakers
    ? await startSpeakerSlot(options, speakers)
    : await startSlots({ ...options, jobs: Math.min(options.jobs, items.length) });
  const rows: string[][] = [];
  let failures = 0;
  const stdoutClosed = stdoutClosedSignal();
  const closing = new Promise<'closed'>((resolve) =>
    stdoutClosed.addEventListener('abort', () => resolve('closed'), { once: true }),
  );
  const run = schedule(items, slots, () => progress?.increment(), stdoutClosed);
  try {
    for (const pending of run.outcomes) {
      // Nobody reads on: the files in flight end (run.settled), no new one starts, none is printed.
      const outcome = await Promise.race([pending, closing]);
      if (outcome === 'closed') break;
      if ('error' in outcome) {
        failures++;
        process.exitCode = 1; // already now: a reader that closes early ends the run with it (ser.ts)
      }
      if (options.json) console.log(jsonLine(outcome, speakers?.speakerOf(outcome.file)));
      else rows.push(formatRow(outcome));
    }
  } finally {
    progress?.stop();
    await run.settled;
    await stop();
  }
  if (!options.json && !stdoutClosed.aborted) printTable(rows);
  return failures > 0 ? 1 : 0;
}
