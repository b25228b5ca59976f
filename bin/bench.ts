/**
 * `npm run bench [-- --json] [-- --rounds N] [-- --no-python] [-- --scaling-files N] [-- --memory]`: speed
 * of the inference path on the clip set of bin/bench-clips.ts (16/24.4/44.1/48 kHz; WAV, FLAC, MP3, Ogg
 * Opus, M4A/AAC, WebM/Opus; 3 s clips and a 30 s recording), side by side with the Python reference
 * pipeline (bench/reference.py) when a python3 with torch, torchaudio and soundfile is found: both run clip
 * by clip, interleaved, in this run, one thread each (not on M4A/WebM, which it cannot read), and again
 * with each tool's pass over the clip set in a row, the two protocols alternating round by round. Also: stages,
 * cold starts and peak RSS of the inference Lambda's bundle per format (bin/bench-cold.ts), `ser predict --jobs`
 * scaling, the local stack's per-event time and the AWS Lambda cost estimate made from them.
 * `--memory` runs the memory bench instead (bin/bench-memory.ts).
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { resample } from '../lambdas/core/audio/resample.ts';
import { createFeatureExtractor } from '../lambdas/core/features/extract.ts';
import { createPredictor, type Predictor, type Stage, type StageTimings } from '../lambdas/core/predict.ts';
import { defaultModelDir } from '../lib/paths.ts';
import { extractWithMeyda } from '../test/helpers/meyda-reference.ts';
import { type BenchClip, CLIP_GROUPS, loadBenchClips } from './bench-clips.ts';
import { type ColdStarts, measureColdStarts } from './bench-cold.ts';
import { estimateLambdaCost, type LambdaCost } from './bench-cost.ts';
import { measureEventTimes } from './bench-events.ts';
import { runMemoryBench } from './bench-memory.ts';
import { findPython, type PythonReference, pythonColdStart, startPythonReference } from './bench-python.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STAGES: Stage[] = ['decode', 'resample', 'vad', 'features', 'inference'];

interface Summary {
  median: number;
  p95: number;
}

const summarize = (values: number[]): Summary => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))] ?? 0;
  return { median: round(at(0.5)), p95: round(at(0.95)) };
};
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (values: number[]) => summarize(values).median;

interface BenchOptions {
  json?: boolean;
  rounds: number;
  model: string;
  python: boolean;
  events: boolean;
  scalingFiles: number;
}

// `--memory`: the worst-case memory table (bin/bench-memory.ts), a separate run.
if (process.argv.includes('--memory')) {
  await runMemoryBench(process.argv.includes('--json'));
  process.exit(0);
}

const options = new Command()
  .option('--json', 'print one JSON object')
  .option('--rounds <n>', 'passes over the clip set', (v) => Number.parseInt(v, 10), 20)
  .option('--model <dir>', 'model package folder', defaultModelDir())
  .option('--no-python', 'skip the Python reference even if it is installed')
  .option('--no-events', 'skip the local stack per-event timing (and the cost estimate made from it)')
  .option(
    '--scaling-files <n>',
    'files for the ser predict --jobs scaling run (0: skip)',
    (v) => Number.parseInt(v, 10),
    600,
  )
  .parse()
  .opts<BenchOptions>();

/**
 * Wall and CPU time (this process's user + system) of one prediction, ms. On a shared machine the wall
 * time also counts the time the process waited for a core; CPU time does not, so medians are compared
 * on CPU time and wall time is shown beside it.
 */
interface Timing {
  wall: number;
  cpu: number;
}

interface Sample {
  node: Timing;
  python?: Timing;
  stages: StageTimings;
}

/** Why the Python reference does not run on this clip's row, if it does not. */
const noPythonReason = (clip: BenchClip): string | undefined =>
  CLIP_GROUPS.find((g) => g.group === clip.group)?.noPython;

/** Our CPU time for one clip through the predictor (its stages into `stages`). */
async function timeOurs(predictor: Predictor, clip: BenchClip, stages: StageTimings = {}): Promise<Timing> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await predictor.predict(clip.bytes, { timings: stages });
  const used = process.cpuUsage(cpu);
  return { wall: performance.now() - started, cpu: (used.user + used.system) / 1000 };
}

type Tools = { predictor: Predictor; python: PythonReference | undefined };
const timeReference = (tools: Tools, clip: BenchClip, i: number) =>
  tools.python && !noPythonReason(clip) ? tools.python.run(i) : Promise.resolve(undefined);

/** One round of the first protocol: each clip through our predictor, then through the reference. */
async function interleavedRound(clips: BenchClip[], tools: Tools): Promise<Sample[]> {
  const round: Sample[] = [];
  for (const [i, clip] of clips.entries()) {
    const stages: StageTimings = {};
    const node = await timeOurs(tools.predictor, clip, stages);
    round.push({ node, python: await timeReference(tools, clip, i), stages });
  }
  return round;
}

/**
 * One round of the second protocol: our pass over the whole clip set, then the reference's. Each tool
 * then meets its own caches from its previous clip (as `ser predict` over a folder does), not the other
 * process's. Clip by clip, V8's background work for one clip (concurrent GC, compilation) can finish
 * while the reference runs and count in no clip; in a row it counts in the next one (README, "Honest
 * reading").
 */
async function inARowRound(clips: BenchClip[], tools: Tools): Promise<Sample[]> {
  const ours: Timing[] = [];
  for (const clip of clips) ours.push(await timeOurs(tools.predictor, clip));
  const round: Sample[] = [];
  for (const [i, clip] of clips.entries())
    round.push({ node: ours[i]!, python: await timeReference(tools, clip, i), stages: {} });
  return round;
}

/**
 * Both protocols, one round of each per round, the first going first in even rounds and second in odd
 * ones, so that neither gains from coming later (JIT, caches) and a change in the machine's load hits
 * both alike. Round -1 warms everything up and is not kept.
 */
async function measureBoth(clips: BenchClip[], tools: Tools, rounds: number) {
  const interleaved: Sample[][] = clips.map(() => []);
  const inARow: Sample[][] = clips.map(() => []);
  for (let r = -1; r < rounds; r++) {
    const order = r % 2 === 0 ? (['interleaved', 'inARow'] as const) : (['inARow', 'interleaved'] as const);
    for (const protocol of order) {
      const round = await (protocol === 'interleaved' ? interleavedRound : inARowRound)(clips, tools);
      const into = protocol === 'interleaved' ? interleaved : inARow;
      if (r >= 0) for (const [i, sample] of round.entries()) into[i]!.push(sample);
    }
  }
  return { interleaved, inARow };
}

interface GroupRow {
  group: string;
  clips: number;
  seconds: number;
  /** CPU time. */
  node: Summary;
  nodeWall: Summary;
  python?: Summary;
  pythonWall?: Summary;
  /** Python's median ÷ ours: how many times faster we are. */
  speedup?: number;
  target?: number;
  /** Why there is no Python figure for this row (a format the reference cannot read). */
  noPython?: string;
}

function groupRows(clips: BenchClip[], samples: Sample[][]): GroupRow[] {
  return CLIP_GROUPS.flatMap(({ group, target, noPython }) => {
    const members = clips.flatMap((c, i) => (c.group === group ? [i] : []));
    if (members.length === 0) return [];
    const all = members.flatMap((i) => samples[i]!);
    const hasPython = all.every((s) => s.python !== undefined);
    const python = hasPython ? summarize(all.map((s) => s.python!.cpu)) : undefined;
    const pythonWall = hasPython ? summarize(all.map((s) => s.python!.wall)) : undefined;
    const node = summarize(all.map((s) => s.node.cpu));
    const nodeWall = summarize(all.map((s) => s.node.wall));
    const seconds = round(members.reduce((sum, i) => sum + clips[i]!.durationSec, 0) / members.length, 2);
    const speedup = python ? round(python.median / node.median, 2) : undefined;
    return [
      {
        group,
        clips: members.length,
        seconds,
        node,
        nodeWall,
        python,
        pythonWall,
        speedup,
        target,
        noPython,
      },
    ];
  });
}

function stageSummary(clips: BenchClip[], samples: Sample[][], group: string): Record<Stage, Summary> {
  const all = clips.flatMap((c, i) => (c.group === group ? samples[i]! : []));
  return Object.fromEntries(STAGES.map((s) => [s, summarize(all.map((x) => x.stages[s] ?? 0))])) as Record<
    Stage,
    Summary
  >;
}

/** Runs `ser predict --json --jobs <jobs>` over `paths` given on stdin; every file must succeed. */
function runCli(paths: string[], jobs: number): Promise<void> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/ser.js'), 'predict', '--json', '--jobs', String(jobs), '--files-from', '-'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  child.stdin.end(`${paths.join('\n')}\n`);
  let failed = '';
  child.stdout.on('data', (chunk: Buffer) => {
    if (!failed)
      failed =
        chunk
          .toString()
          .split('\n')
          .find((line) => line.includes('"error"')) ?? '';
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ser predict exit ${code}: ${failed}`)),
    );
  });
}

/** Wall time of `ser predict --jobs <jobs>` over all `paths`. */
async function timeCli(paths: string[], jobs: number): Promise<number> {
  const started = performance.now();
  await runCli(paths, jobs);
  return performance.now() - started;
}

/**
 * Wall time of `processes` independent `ser predict --jobs 1` runs side by side, each on its share of
 * `paths`: what the machine itself gives when its cores share nothing (the ceiling for `--jobs`).
 */
async function timeIndependent(paths: string[], processes: number): Promise<number> {
  const started = performance.now();
  const share = Math.ceil(paths.length / processes);
  const shares = Array.from({ length: processes }, (_, p) => paths.slice(p * share, (p + 1) * share));
  await Promise.all(shares.filter((part) => part.length > 0).map((part) => runCli(part, 1)));
  return performance.now() - started;
}

/** Runs of each `--jobs` value in the scaling measurement (medians of wall time are compared). */
const SCALING_REPEATS = 3;

async function measureScaling(clips: BenchClip[], files: number) {
  const threeSecond = clips.filter((c) => !c.group.includes('30 s'));
  const paths = Array.from({ length: files }, (_, i) => threeSecond[i % threeSecond.length]!.path);
  const cores = availableParallelism();
  const runs = [1, ...(cores > 1 ? [cores] : [])];
  const walls: Record<number, number[]> = Object.fromEntries(runs.map((jobs) => [jobs, []]));
  const independent: number[] = [];
  // Interleaved and repeated: one run of each on a shared machine varied by ±20 %.
  for (let repeat = 0; repeat < SCALING_REPEATS; repeat++) {
    for (const jobs of runs) walls[jobs]!.push(await timeCli(paths, jobs));
    if (cores > 1) independent.push(await timeIndependent(paths, cores));
  }
  const wall = Object.fromEntries(runs.map((jobs) => [jobs, median(walls[jobs]!)]));
  return {
    files,
    cores,
    repeats: SCALING_REPEATS,
    clipsPerSecond: Object.fromEntries(runs.map((j) => [j, round((files / wall[j]!) * 1000, 1)])),
    speedup: round(wall[1]! / wall[cores]!, 2),
    independentSpeedup: cores > 1 ? round(wall[1]! / median(independent), 2) : undefined,
  };
}

/** One cold start per format (the first clip of these groups), WAV first. */
const COLD_START_GROUPS = [
  'WAV 24.4 kHz, 3 s (TESS)',
  'FLAC 24.4 kHz, 3 s (TESS)',
  'MP3 44.1 kHz, 3 s',
  'Ogg Opus, 3 s',
  'M4A (AAC) 44.1 kHz, 3 s',
  'WebM Opus, 3 s',
];

const coldStartClips = (clips: BenchClip[]) =>
  COLD_START_GROUPS.map((group) => {
    const clip = clips.find((c) => c.group === group)!;
    return { format: group, extension: clip.path.split('.').at(-1)!, bytes: clip.bytes };
  });

function featuresAlone(predictor: Predictor, samples: Float32Array, sampleRate: number) {
  const config = predictor.metadata.featureConfig;
  const input = resample(samples, sampleRate, config.sampleRate);
  const extractor = createFeatureExtractor(config);
  const time = (fn: () => void, n: number) => {
    fn();
    const started = performance.now();
    for (let i = 0; i < n; i++) fn();
    return (performance.now() - started) / n;
  };
  const meydaMs = time(() => extractWithMeyda(input, config), 10);
  const oursMs = time(() => extractor.extract(input), 100);
  return { meydaMs: round(meydaMs), oursMs: round(oursMs), speedup: round(meydaMs / oursMs, 1) };
}

const loadAtStart = loadavg()[0]!;
const { clips, dir } = await loadBenchClips();
const predictor = await createPredictor({ modelDir: options.model });
const found = options.python ? findPython() : { missing: 'skipped (--no-python)' };
const python =
  'python' in found
    ? await startPythonReference(
        found.python,
        clips.map((c) => c.path),
        dir,
      )
    : undefined;
const { interleaved: samples, inARow: passSamples } = await measureBoth(
  clips,
  { predictor, python },
  options.rounds,
);
const pythonRssMb = python ? await python.stop() : undefined;
const rows = groupRows(clips, samples);
const firstTess = clips.find((c) => c.group === 'WAV 24.4 kHz, 3 s (TESS)')!;
const decodedTess = await decodeAudio(firstTess.bytes);
const features3s = featuresAlone(predictor, decodedTess.samples, decodedTess.sampleRate);
const nodePeakRssMb = round(process.resourceUsage().maxRSS / 1024, 1);

const cold = await measureColdStarts(coldStartClips(clips), options.model);
const pythonCold =
  'python' in found ? median([0, 1, 2].map(() => pythonColdStart(found.python, firstTess.path))) : undefined;

// Cost: the 3 s clips' mean prediction time + the local stack's per-event overhead (see bench-cost.ts).
const threeSecondIdx = clips.flatMap((c, i) => (c.group.includes('30 s') ? [] : [i]));
const computeMs =
  threeSecondIdx.reduce((sum, i) => sum + median(samples[i]!.map((s) => s.node.cpu)), 0) /
  threeSecondIdx.length;
const eventClips = threeSecondIdx.map((i) => clips[i]!);
const eventMs = options.events ? median(await measureEventTimes(eventClips, 2)) : undefined;
const cost: LambdaCost[] =
  eventMs === undefined ? [] : estimateLambdaCost(computeMs, Math.max(0, eventMs - computeMs));

const scaling = options.scalingFiles > 0 ? await measureScaling(clips, options.scalingFiles) : undefined;
await predictor.release();
await rm(dir, { recursive: true, force: true });

const result = {
  modelVersion: predictor.modelVersion,
  rounds: options.rounds,
  python: 'python' in found ? found.versions : `not run: ${found.missing}`,
  machine: { cores: availableParallelism(), loadAverage: [round(loadAtStart, 1), round(loadavg()[0]!, 1)] },
  rows,
  rowsPassByPass: groupRows(clips, passSamples),
  stagesWav24k: stageSummary(clips, samples, 'WAV 24.4 kHz, 3 s (TESS)'),
  stagesWav16k: stageSummary(clips, samples, 'WAV 16 kHz, 3 s (RAVDESS)'),
  features3s,
  coldStart: { node: cold, pythonMs: pythonCold === undefined ? undefined : round(pythonCold, 1) },
  peakRssMb: { benchProcess: nodePeakRssMb, python: pythonRssMb },
  eventMs: {
    median: eventMs === undefined ? undefined : round(eventMs, 2),
    predictionMs: round(computeMs, 2),
  },
  cost,
  scaling,
};

if (options.json) console.log(JSON.stringify(result));
else printReport(result);
process.exit();

type BenchResult = typeof result;

// Function declarations, not consts: the script's top level calls printReport before this point.
function ms(x: number | undefined): string {
  return x === undefined ? '—' : `${x.toFixed(2)} ms`;
}

/** A row's target cell: met, or missed by how much (empty without a target). */
function targetCell(row: GroupRow): string {
  if (row.target === undefined) return '';
  const median = row.node.median;
  return `≤ ${row.target} ms: ${median <= row.target ? 'met' : `missed by ${(median - row.target).toFixed(2)} ms`}`;
}

/** A row's ratio cell, or why the reference has none. */
function speedupCell(row: GroupRow): string {
  if (row.speedup !== undefined) return `${row.speedup.toFixed(2)}×`;
  return row.noPython ? `— (${row.noPython})` : '—';
}

/** Markdown tables, so that the README can carry the bench's own output. */
function printReport(r: BenchResult): void {
  console.log(
    `SER benchmark — model ${r.modelVersion}, ${r.rounds} rounds of each protocol (clip by clip interleaved; each tool's pass in a row), one thread each`,
  );
  console.log(`Python reference (bench/reference.py): ${r.python}`);
  const [before, after] = r.machine.loadAverage;
  console.log(
    `machine: ${r.machine.cores} cores, 1-minute load average ${before} at the start, ${after} at the end\n`,
  );
  console.log(
    '| clips | n | length | ours: CPU median / p95 | ours: wall median | Python: CPU median / p95 | Python: wall median | ours × faster (CPU) | target (CPU median) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const row of r.rows)
    console.log(
      `| ${row.group} | ${row.clips} | ${row.seconds.toFixed(2)} s | ${ms(row.node.median)} / ${ms(row.node.p95)} | ${ms(row.nodeWall.median)} | ${ms(row.python?.median)} / ${ms(row.python?.p95)} | ${ms(row.pythonWall?.median)} | ${speedupCell(row)} | ${targetCell(row)} |`,
    );
  printPassByPass(r.rowsPassByPass);
  console.log('\n| stage (ours, median / p95) | WAV 24.4 kHz, 3 s | WAV 16 kHz, 3 s |');
  console.log('|---|---:|---:|');
  for (const s of STAGES)
    console.log(
      `| ${s} | ${ms(r.stagesWav24k[s].median)} / ${ms(r.stagesWav24k[s].p95)} | ${ms(r.stagesWav16k[s].median)} / ${ms(r.stagesWav16k[s].p95)} |`,
    );
  const f = r.features3s;
  console.log(
    `\nfeatures alone, 3 s: meyda frame by frame ${ms(f.meydaMs)}, ours ${ms(f.oursMs)} (${f.speedup}×), same values`,
  );
  printColdStarts(r.coldStart.node, r.coldStart.pythonMs);
  console.log(
    `peak RSS of the processes that predict all clips: Python reference ${r.peakRssMb.python ?? '—'} MB; this bench process ${r.peakRssMb.benchProcess} MB (it also holds the meyda reference, the clip set and the Python client)`,
  );
  if (r.scaling) printScaling(r.scaling);
  if (r.eventMs.median === undefined) return;
  console.log(
    `\nlocal stack, per S3 event (PUT → processed): ${ms(r.eventMs.median)} median; prediction alone ${ms(r.eventMs.predictionMs)}`,
  );
  console.log('\nAWS Lambda estimate (bin/bench-cost.ts; CPU share ∝ memory, 1 vCPU at 1769 MB):\n');
  console.log('| memory | est. duration per event | GB-s per 1000 predictions | USD per 1000 (list price) |');
  console.log('|---:|---:|---:|---:|');
  for (const c of r.cost)
    console.log(
      `| ${c.memoryMb} MB | ${c.durationMs} ms | ${c.gbSecondsPer1000.toFixed(3)} | ${c.usdPer1000.toFixed(6)} |`,
    );
}

/** The second protocol's table (CPU medians): each tool's pass over the clip set in a row. */
function printPassByPass(rows: GroupRow[]): void {
  console.log(
    "\nsame clips, same run, each round our pass over the whole clip set, then the reference's (each tool after its own previous clip, not the other process):\n",
  );
  console.log(
    '| clips | ours: CPU median | Python: CPU median | ours × faster (CPU) | target (CPU median) |',
  );
  console.log('|---|---:|---:|---:|---|');
  for (const row of rows)
    console.log(
      `| ${row.group} | ${ms(row.node.median)} | ${ms(row.python?.median)} | ${speedupCell(row)} | ${targetCell(row)} |`,
    );
}

/** The `--jobs` scaling line, with the machine's own ceiling measured beside it. */
function printScaling(scaling: Awaited<ReturnType<typeof measureScaling>>): void {
  const per = Object.entries(scaling.clipsPerSecond).map(([j, c]) => `--jobs ${j}: ${c} clips/s`);
  console.log(
    `ser predict, ${scaling.files} files, ${scaling.cores} cores, median of ${scaling.repeats} interleaved runs: ${per.join(', ')} (${scaling.speedup}×)`,
  );
  if (scaling.independentSpeedup !== undefined)
    console.log(
      `  the machine's own ceiling, in the same runs: ${scaling.cores} independent \`--jobs 1\` processes side by side, each on its share of the files: ${scaling.independentSpeedup}× one process`,
    );
}

/** The cold-start table: the inference Lambda's bundle in a fresh process, one S3 event per format. */
function printColdStarts(c: ColdStarts, pythonMs: number | undefined): void {
  console.log(
    `\ncold start of the inference Lambda's bundle (${c.bundleKb} KB, bin/bench-cold.ts), fresh process → first S3 event handled, median of ${c.runs}:\n`,
  );
  console.log(
    '| first file | total (spawn → exit) | process start → bundle running | init (modules, ONNX session, registry) | first event | CPU: init / through first event | peak RSS |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const x of c.formats)
    console.log(
      `| ${x.format} | ${x.totalMs} ms | ${x.bundleStartMs} ms | ${x.initMs} ms | ${x.firstEventMs} ms | ${x.initCpuMs} / ${x.cpuMs} ms | ${x.peakRssMb.toFixed(1)} MB |`,
    );
  console.log(`\nPython reference, WAV, fresh process → prediction: ${pythonMs ?? '—'} ms`);
}
