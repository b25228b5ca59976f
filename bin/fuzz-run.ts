/**
 * The fuzzer's engine (`npm run fuzz`, bin/fuzz.ts; test/fuzz.test.ts runs a few hundred cases): seeded
 * mutants of every decodable fixture format, each predicted in a forked child process (bin/fuzz-child.ts)
 * that is killed when it passes the per-file time limit (a hang) or the RSS guard, and replaced when it
 * dies (a crash). A case passes when it ends in a prediction or a `SerError`, within the memory budget.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AudioFormat } from '../lambdas/core/audio/formats.ts';
import { MEMORY_BUDGET_MB } from './bench-memory.ts';
import type { ChildReply } from './fuzz-child.ts';
import { type Layout, layoutOf } from './fuzz-layout.ts';
import { type Mutant, mutate, randomFor } from './fuzz-mutate.ts';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
const CHILD = fileURLToPath(new URL('./fuzz-child.ts', import.meta.url));
/** A child is replaced after this many cases, so what earlier files left in its WASM heaps stays bounded. */
const RECYCLE_AFTER = 300;
/** The parent kills a child whose RSS passes this while it works (the budget is checked on the peak). */
const RSS_GUARD_MB = 2 * MEMORY_BUDGET_MB;
/**
 * The time limit counts the child's CPU time, so a machine busy with other work (training has priority
 * on ours) does not turn a slow case into a hang; a case that waits without computing (a promise that
 * never settles) is caught by wall-clock time at this multiple of the limit.
 */
const WALL_LIMIT_FACTOR = 5;
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

export const DEFAULT_SEED = 20261205;

export interface FuzzOptions {
  seed: number;
  count: number;
  /** Per-file limit in CPU time (wall clock: 5×); a child still working at it is killed: a hang. */
  timeLimitMs: number;
  /** Child processes working in parallel. */
  jobs: number;
  /** Where failing inputs are written (with a JSON note beside each). */
  crashDir: string;
  /** Run only these case indexes (reproducing a report). */
  only?: number[];
}

interface SeedFile {
  path: string;
  format: AudioFormat;
  bytes: Uint8Array;
  layout: Layout;
}

export type Verdict = 'ok' | 'untyped' | 'hang' | 'crash' | 'over-budget';

export interface CaseRecord {
  index: number;
  source: string;
  format: AudioFormat;
  kind: string;
  detail: string;
  /** 'prediction', an error code, or what went wrong: 'untyped <Name>', 'hang', 'crash', 'over-budget'. */
  outcome: string;
  /** For typed errors that wrap a decoder's exception: "<class> in <core or package>". */
  cause?: string;
  verdict: Verdict;
  /** Wall-clock time of the prediction (as seen by the parent for hangs and crashes). */
  ms: number;
  /** CPU time of the child during the prediction (0 for hangs and crashes). */
  cpuMs: number;
  peakRssMb: number;
  message?: string;
}

/** The decodable fixtures of the manifest (not the bad inputs): every format the core decodes. */
export const loadSeedFiles = (): SeedFile[] => {
  const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Array<{
    path: string;
    format: AudioFormat | null;
    expectError?: string;
  }>;
  return manifest
    .filter((entry) => entry.format && !entry.expectError && !entry.path.startsWith('bad/'))
    .map((entry) => {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, entry.path)));
      const format = entry.format as AudioFormat;
      return { path: entry.path, format, bytes, layout: layoutOf(format, bytes) };
    });
};

/** Case `index` of `seed`: a format (uniformly), a fixture of it, and a mutant of that fixture. */
export const makeCase = (
  seeds: SeedFile[],
  seed: number,
  index: number,
): { file: SeedFile; mutant: Mutant } => {
  const random = randomFor(seed, index);
  const formats = [...new Set(seeds.map((s) => s.format))];
  const format = random.pick(formats);
  const file = random.pick(seeds.filter((s) => s.format === format));
  return { file, mutant: mutate(file.bytes, file.layout, random) };
};

const rssOf = (pid: number): number => {
  try {
    const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
};

/** CPU milliseconds a process has used (all its threads), from /proc; 0 when unreadable. */
const cpuMsOf = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ; // utime, stime
  } catch {
    return 0;
  }
};

export type Attempt =
  | { kind: 'reply'; reply: ChildReply }
  | { kind: 'hang' | 'crash' | 'over-budget'; detail: string };

/** One forked predictor process; `run` predicts one file, or reports why the child had to end. */
class FuzzChild {
  #process: ChildProcess | undefined;
  /** The end of the child's stderr since the current case began (a crash's explanation). */
  #stderr = '';
  cases = 0;

  async start(): Promise<void> {
    const child = fork(CHILD, [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.#process = child;
    this.cases = 0;
    // Always drained: the WASM decoders log every damaged frame, and a full pipe would block the child.
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-2000);
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`fuzz child failed to start (exit ${code})`)));
    });
    child.removeAllListeners('exit');
  }

  run(index: number, bytes: Uint8Array, timeLimitMs: number): Promise<Attempt> {
    const child = this.#process!;
    this.cases++;
    this.#stderr = '';
    return new Promise<Attempt>((resolve) => {
      const finish = (attempt: Attempt) => {
        clearTimeout(timer);
        clearInterval(guard);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(attempt);
      };
      const end = (kind: 'hang' | 'over-budget', detail: string) => {
        child.kill('SIGKILL');
        this.#process = undefined;
        finish({ kind, detail });
      };
      const cpuStart = cpuMsOf(child.pid!);
      const wallLimit = timeLimitMs * WALL_LIMIT_FACTOR;
      const timer = setTimeout(
        () => end('hang', `no answer after ${wallLimit} ms (${cpuMsOf(child.pid!) - cpuStart} ms of CPU)`),
        wallLimit,
      );
      const guard = setInterval(() => {
        const rss = rssOf(child.pid!);
        const cpu = cpuMsOf(child.pid!) - cpuStart;
        if (rss > RSS_GUARD_MB) end('over-budget', `RSS reached ${Math.round(rss)} MB while decoding`);
        else if (cpu > timeLimitMs) end('hang', `still running after ${cpu} ms of CPU time`);
      }, 50);
      const onMessage = (reply: ChildReply) => {
        if (reply.index === index) finish({ kind: 'reply', reply });
      };
      const onExit = (code: number | null, signal: string | null) => {
        this.#process = undefined;
        const detail = `child ended with ${signal ?? `exit ${code}`}: ${this.#stderr.trim()}`;
        finish({ kind: 'crash', detail });
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ index, bytes });
    });
  }

  get alive(): boolean {
    return this.#process !== undefined;
  }

  stop(): void {
    this.#process?.kill('SIGKILL');
    this.#process = undefined;
  }
}

const EXTENSIONS: Record<AudioFormat, string> = {
  wav: 'wav',
  aiff: 'aiff',
  flac: 'flac',
  mp3: 'mp3',
  'ogg-vorbis': 'ogg',
  'ogg-opus': 'opus',
  mp4: 'mp4',
  webm: 'webm',
};

/** Judges one attempt: a prediction or typed error is ok unless over budget or an own engine error. */
export const toRecord = (
  base: Omit<CaseRecord, 'outcome' | 'verdict' | 'ms' | 'cpuMs' | 'peakRssMb'>,
  attempt: Attempt,
  ms: number,
): CaseRecord => {
  if (attempt.kind !== 'reply') {
    return {
      ...base,
      outcome: attempt.kind,
      verdict: attempt.kind,
      ms,
      cpuMs: 0,
      peakRssMb: 0,
      message: attempt.detail,
    };
  }
  const { outcome, peakRssMb } = attempt.reply;
  const over = peakRssMb > MEMORY_BUDGET_MB;
  const common = { ...base, ms: attempt.reply.ms, cpuMs: attempt.reply.cpuMs, peakRssMb };
  if (outcome.result === 'untyped') {
    return {
      ...common,
      outcome: `untyped ${outcome.name}`,
      verdict: 'untyped',
      message: outcome.stack ?? outcome.message,
    };
  }
  // The core wraps whatever a decoder throws as CORRUPT_AUDIO: fair for a library refusing a stream, but
  // an engine error thrown by the core's own code is a bug the wrap would hide.
  const ownBug =
    outcome.result === 'typed' && /^(TypeError|RangeError|ReferenceError) in core$/.test(outcome.cause ?? '');
  const verdict: Verdict = ownBug ? 'untyped' : over ? 'over-budget' : 'ok';
  if (outcome.result === 'prediction') return { ...common, outcome: 'prediction', verdict };
  return {
    ...common,
    outcome: outcome.code,
    verdict,
    message: outcome.message,
    ...(outcome.cause ? { cause: outcome.cause } : {}),
  };
};

const saveFailure = (options: FuzzOptions, record: CaseRecord, bytes: Uint8Array): void => {
  mkdirSync(options.crashDir, { recursive: true });
  const name = `seed${options.seed}-case${record.index}-${record.format}`;
  writeFileSync(join(options.crashDir, `${name}.${EXTENSIONS[record.format]}`), bytes);
  writeFileSync(
    join(options.crashDir, `${name}.json`),
    `${JSON.stringify({ seed: options.seed, ...record }, null, 2)}\n`,
  );
};

const attempt = async (child: FuzzChild, index: number, bytes: Uint8Array, timeLimitMs: number) => {
  if (!child.alive || child.cases >= RECYCLE_AFTER) {
    child.stop();
    await child.start();
  }
  const started = performance.now();
  const result = await child.run(index, bytes, timeLimitMs);
  return { result, ms: Math.round(performance.now() - started) };
};

const runCase = async (child: FuzzChild, seeds: SeedFile[], options: FuzzOptions, index: number) => {
  const { file, mutant } = makeCase(seeds, options.seed, index);
  const base = { index, source: file.path, format: file.format, kind: mutant.kind, detail: mutant.detail };
  let { result, ms } = await attempt(child, index, mutant.bytes, options.timeLimitMs);
  let record = toRecord(base, result, ms);
  if (record.verdict === 'over-budget' && result.kind === 'reply' && child.cases > 1) {
    // The peak may include what earlier files left in the WASM heaps: the case is judged alone.
    child.stop();
    ({ result, ms } = await attempt(child, index, mutant.bytes, options.timeLimitMs));
    record = toRecord(base, result, ms);
  }
  if (record.verdict !== 'ok') saveFailure(options, record, mutant.bytes);
  return record;
};

/** Runs the cases (all `count`, or `only`) over `jobs` children; records come back in index order. */
export const runFuzz = async (
  options: FuzzOptions,
  onCase?: (record: CaseRecord) => void,
): Promise<CaseRecord[]> => {
  const seeds = loadSeedFiles();
  const queue = options.only ? [...options.only] : Array.from({ length: options.count }, (_, i) => i);
  const records: CaseRecord[] = [];
  const work = async () => {
    const child = new FuzzChild();
    try {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        const record = await runCase(child, seeds, options, index);
        records.push(record);
        onCase?.(record);
      }
    } finally {
      child.stop();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.jobs) }, work));
  return records.sort((a, b) => a.index - b.index);
};

export interface FuzzSummary {
  files: number;
  byFormat: Record<string, number>;
  byKind: Record<string, number>;
  outcomes: Record<string, number>;
  /** Decoder exceptions the core wrapped in a typed error (CORRUPT_AUDIO), by class and origin. */
  wrappedCauses: Record<string, number>;
  failures: CaseRecord[];
  slowest: CaseRecord | undefined;
  mostCpu: CaseRecord | undefined;
  largest: CaseRecord | undefined;
}

const tally = (records: CaseRecord[], key: (r: CaseRecord) => string | undefined): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const record of records) {
    const value = key(record);
    if (value !== undefined) counts[value] = (counts[value] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([, a], [, b]) => b - a));
};

const maxBy = (records: CaseRecord[], value: (r: CaseRecord) => number) =>
  records.reduce<CaseRecord | undefined>(
    (best, r) => (!best || value(r) > value(best) ? r : best),
    undefined,
  );

export const summarize = (records: CaseRecord[]): FuzzSummary => ({
  files: records.length,
  byFormat: tally(records, (r) => r.format),
  byKind: tally(records, (r) => r.kind),
  outcomes: tally(records, (r) => r.outcome),
  wrappedCauses: tally(records, (r) => r.cause),
  failures: records.filter((r) => r.verdict !== 'ok'),
  slowest: maxBy(records, (r) => r.ms),
  mostCpu: maxBy(records, (r) => r.cpuMs),
  largest: maxBy(records, (r) => r.peakRssMb),
});
