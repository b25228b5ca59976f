/**
 * `npm run bench [-- --json] [-- --rounds N]` (`-- --memory`: worst-case memory, bin/bench-memory.ts): speed and memory of the inference path on a fixed set of
 * clips (the committed TESS fixtures, each as 16-bit WAV like the reference Python pipeline reads, and
 * as the FLAC it is stored as). Prints median/p95 per stage and end to end, clips per second on one
 * core, the cold start of a fresh process (start → first prediction) and peak RSS.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { build } from 'esbuild';
import wavefile from 'wavefile';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { resample } from '../lambdas/core/audio/resample.ts';
import { createFeatureExtractor } from '../lambdas/core/features/extract.ts';
import {
  BUNDLED_MODEL_DIR,
  createPredictor,
  type Stage,
  type StageTimings,
} from '../lambdas/core/predict.ts';
import { extractWithMeyda } from '../test/helpers/meyda-reference.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLIP_DIR = join(ROOT, 'test/fixtures/tess');
/** Reference: soundfile + torchaudio MFCC + PyTorch LSTM, one thread, measured when the README's table was made. */
const PYTHON_REFERENCE = { endToEndMedianMs: 23.8, coldStartMs: 2100, peakRssMb: 275 };
const STAGES: Stage[] = ['decode', 'resample', 'vad', 'features', 'inference'];

interface Summary {
  median: number;
  p95: number;
}

const summarize = (values: number[]): Summary => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]!;
  return { median: round(at(0.5)), p95: round(at(0.95)) };
};
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

async function loadClips(): Promise<{ name: string; flac: Uint8Array; wav: Uint8Array }[]> {
  const names = (await readdir(CLIP_DIR)).filter((n) => n.endsWith('.flac')).sort();
  if (names.length === 0) throw new Error(`no .flac clips in ${CLIP_DIR}`);
  return Promise.all(
    names.map(async (name) => {
      const flac = new Uint8Array(await readFile(join(CLIP_DIR, name)));
      const decoded = await decodeAudio(flac);
      const pcm = Int16Array.from(decoded.samples, (s) =>
        Math.max(-32768, Math.min(32767, Math.round(s * 32768))),
      );
      const wav = new wavefile.WaveFile();
      wav.fromScratch(1, decoded.sampleRate, '16', pcm);
      return { name, flac, wav: wav.toBuffer() };
    }),
  );
}

/** Spawns a fresh Node process running the esbuild bundle of a one-shot prediction of a WAV clip (like a Lambda cold start). */
async function measureColdStart(clip: Uint8Array, modelDir: string): Promise<{ ms: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ser-cold-'));
  try {
    const clipPath = join(dir, 'clip.wav');
    await writeFile(clipPath, clip);
    const entry = join(dir, 'entry.ts');
    await writeFile(
      entry,
      `import { readFileSync } from 'node:fs';
import { createPredictor } from ${JSON.stringify(join(ROOT, 'lambdas/core/predict.ts'))};
const predictor = await createPredictor({ modelDir: ${JSON.stringify(modelDir)} });
const result = await predictor.predict(readFileSync(process.argv[2]));
process.stdout.write(result.emotion + '\\n');
process.exit(0);
`,
    );
    const outfile = join(dir, 'entry.mjs');
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['onnxruntime-node', '@echogarden/fvad-wasm'],
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      nodePaths: [join(ROOT, 'node_modules')],
      logLevel: 'silent',
    });
    // Resolve the external packages from the repository's node_modules.
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const runs: number[] = [];
    let output = '';
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      output = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [outfile, clipPath], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
        });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`))));
      });
      runs.push(performance.now() - started);
    }
    return { ms: summarize(runs).median, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// `--memory`: the worst-case memory table (bin/bench-memory.ts), a separate run.
if (process.argv.includes('--memory')) {
  const { runMemoryBench } = await import('./bench-memory.ts');
  await runMemoryBench(process.argv.includes('--json'));
  process.exit(0);
}

const options = new Command()
  .option('--json', 'print one JSON object')
  .option('--rounds <n>', 'passes over the clip set', (v) => Number.parseInt(v, 10), 30)
  .option('--model <dir>', 'model package folder', process.env.SER_MODEL_DIR ?? BUNDLED_MODEL_DIR)
  .parse()
  .opts<{ json?: boolean; rounds: number; model: string }>();

const clips = await loadClips();
const predictor = await createPredictor({ modelDir: options.model });

// Warm-up: JIT, WASM decoders, ONNX session.
for (const clip of clips) {
  await predictor.predict(clip.wav);
  await predictor.predict(clip.flac);
}

const measure = async (pick: (c: (typeof clips)[number]) => Uint8Array) => {
  const endToEnd: number[] = [];
  const stages: Record<Stage, number[]> = { decode: [], resample: [], vad: [], features: [], inference: [] };
  for (let r = 0; r < options.rounds; r++) {
    for (const clip of clips) {
      const timings: StageTimings = {};
      const started = performance.now();
      await predictor.predict(pick(clip), { timings });
      endToEnd.push(performance.now() - started);
      for (const s of STAGES) stages[s].push(timings[s] ?? 0);
    }
  }
  return {
    endToEnd,
    stages: Object.fromEntries(STAGES.map((s) => [s, summarize(stages[s])])) as Record<Stage, Summary>,
  };
};

const wavRun = await measure((c) => c.wav);
const flacRun = await measure((c) => c.flac);

// The containers phones and browsers write: the committed transcoded TESS clips (fixture script), one each.
const CONTAINER_DIR = join(ROOT, 'test/fixtures/tess-formats');
const containerRuns: Record<string, Summary> = {};
for (const name of (await readdir(CONTAINER_DIR)).sort()) {
  const bytes = new Uint8Array(await readFile(join(CONTAINER_DIR, name)));
  await predictor.predict(bytes); // the decoder's first use loads and compiles it
  const times: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const started = performance.now();
    await predictor.predict(bytes);
    times.push(performance.now() - started);
  }
  containerRuns[name] = summarize(times);
}
const wallPerClip = wavRun.endToEnd.reduce((a, b) => a + b, 0) / wavRun.endToEnd.length;

// Features alone on a 3 s clip: meyda frame by frame vs the planned extractor (same values, tested).
const featureConfig = predictor.metadata.featureConfig;
const firstClip = await decodeAudio(clips[0]!.wav);
const threeSec = resample(firstClip.samples, firstClip.sampleRate, featureConfig.sampleRate);
const extractor = createFeatureExtractor(featureConfig);
const time = (fn: () => void, n: number) => {
  fn();
  const started = performance.now();
  for (let i = 0; i < n; i++) fn();
  return (performance.now() - started) / n;
};
const meydaMs = time(() => extractWithMeyda(threeSec, featureConfig), 10);
const fastMs = time(() => extractor.extract(threeSec), 100);

const cold = await measureColdStart(clips[0]!.wav, options.model);
const peakRssMb = round(process.resourceUsage().maxRSS / 1024, 1);
await predictor.release();

const endToEndMs = summarize(wavRun.endToEnd);
const result = {
  clips: clips.length,
  rounds: options.rounds,
  modelVersion: predictor.modelVersion,
  endToEndMs,
  endToEndFlacMs: summarize(flacRun.endToEnd),
  endToEndContainersMs: containerRuns,
  stages: wavRun.stages,
  stagesFlac: flacRun.stages,
  clipsPerSecond: round(1000 / wallPerClip, 1),
  coldStartMs: round(cold.ms, 1),
  peakRssMb,
  features3s: { meydaMs: round(meydaMs), plannedMs: round(fastMs), speedup: round(meydaMs / fastMs, 1) },
  vsPython: {
    endToEndSpeedup: round(PYTHON_REFERENCE.endToEndMedianMs / endToEndMs.median, 1),
    coldStartSpeedup: round(PYTHON_REFERENCE.coldStartMs / cold.ms, 1),
    peakRssRatio: round(peakRssMb / PYTHON_REFERENCE.peakRssMb, 2),
  },
};

if (options.json) console.log(JSON.stringify(result));
else {
  const ms = (s: Summary) => `${s.median.toFixed(3).padStart(8)} ${s.p95.toFixed(3).padStart(8)}`;
  console.log(
    `SER benchmark — ${clips.length} TESS clips × ${options.rounds} rounds, model ${result.modelVersion}`,
  );
  console.log(`${'stage (ms)'.padEnd(22)}  median      p95   (WAV input)`);
  for (const s of STAGES) console.log(`${s.padEnd(22)}${ms(wavRun.stages[s])}`);
  console.log(`${'end to end (WAV)'.padEnd(22)}${ms(endToEndMs)}`);
  console.log(`${'end to end (FLAC)'.padEnd(22)}${ms(result.endToEndFlacMs)}`);
  for (const [name, summary] of Object.entries(containerRuns))
    console.log(`  ${name.padEnd(20)}${ms(summary)}`);
  console.log(`clips/second, one core : ${result.clipsPerSecond}`);
  console.log(
    `cold start             : ${result.coldStartMs} ms (fresh node process, bundled, to first prediction of a WAV clip)`,
  );
  console.log(`peak RSS               : ${peakRssMb} MB`);
  console.log(
    `features, 3 s clip     : meyda per frame ${result.features3s.meydaMs} ms → planned ${result.features3s.plannedMs} ms (${result.features3s.speedup}×)`,
  );
  console.log(
    `vs Python reference    : ${result.vsPython.endToEndSpeedup}× faster per clip (23.8 ms), ${result.vsPython.coldStartSpeedup}× faster cold start (2.1 s), ${result.vsPython.peakRssRatio}× its peak RSS (275 MB)`,
  );
}
