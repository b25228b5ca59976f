/**
 * Cold starts as a Lambda sees them: a fresh Node process runs an esbuild bundle of a one-shot
 * prediction (import → `createPredictor` → first `predict`) and reports each phase. The WAV cold start is
 * measured twice, on the real bundle and on the same bundle with the MP4/WebM decoders left out: the
 * decoders load on first use (`lambdas/core/audio/decode.ts`), so the two should not differ beyond noise.
 * A first M4A prediction in a fresh process shows where the decoders' cost goes instead.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Milliseconds, medians over the runs. */
export interface ColdStart {
  /** Spawn → exit, as the parent sees it. */
  totalMs: number;
  /** Process start → the bundle evaluated (Node's own start-up included). */
  importMs: number;
  /** `createPredictor`: model metadata, ONNX session, VAD. */
  sessionMs: number;
  /** The first `predict` of the clip (its decoder's first load included). */
  firstPredictionMs: number;
  bundleKb: number;
}

export interface ColdStarts {
  wav: ColdStart;
  /** The same WAV through a bundle without the MP4/WebM decoders (what the lazy loading must preserve). */
  wavWithoutLazyDecoders: ColdStart;
  m4a: ColdStart;
}

const ENTRY = (modelDir: string) => `import { readFileSync } from 'node:fs';
import { createPredictor } from ${JSON.stringify(join(ROOT, 'lambdas/core/predict.ts'))};
const imported = performance.now();
const predictor = await createPredictor({ modelDir: ${JSON.stringify(modelDir)} });
const created = performance.now();
const result = await predictor.predict(readFileSync(process.argv[2]));
const predicted = performance.now();
process.stdout.write(JSON.stringify({ imported, created, predicted, emotion: result.emotion }) + '\\n');
process.exit(0);
`;

/** Replaces the lazily imported MP4/WebM decoder modules by stubs: the bundle a WAV-only product would ship. */
const withoutLazyDecoders: Plugin = {
  name: 'without-lazy-decoders',
  setup(b) {
    b.onResolve({ filter: /^\.\/(mp4|webm)\.ts$/ }, (args) => ({ path: args.path, namespace: 'left-out' }));
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({
      contents:
        "const leftOut = () => { throw new Error('left out of this bundle'); };\nexport const decodeMp4 = leftOut;\nexport const decodeWebm = leftOut;\n",
      loader: 'js',
    }));
  },
};

async function bundle(dir: string, name: string, modelDir: string, plugins: Plugin[]): Promise<string> {
  const entry = join(dir, `${name}.ts`);
  await writeFile(entry, ENTRY(modelDir));
  const outfile = join(dir, `${name}.mjs`);
  // As the inference function's bundle (lib/constructs/ser-function.ts), minified, without source maps.
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    external: ['onnxruntime-node', '@echogarden/fvad-wasm'],
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    nodePaths: [join(ROOT, 'node_modules')],
    plugins,
    logLevel: 'silent',
  });
  return outfile;
}

interface Run {
  total: number;
  imported: number;
  created: number;
  predicted: number;
}

function runOnce(outfile: string, clipPath: string): Promise<Run> {
  const started = performance.now();
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [outfile, clipPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`cold-start run exit ${code}`));
      resolve({ total: performance.now() - started, ...JSON.parse(out) });
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]! * 10) / 10;
};

async function summarize(outfile: string, runs: Run[]): Promise<ColdStart> {
  return {
    totalMs: median(runs.map((r) => r.total)),
    importMs: median(runs.map((r) => r.imported)),
    sessionMs: median(runs.map((r) => r.created - r.imported)),
    firstPredictionMs: median(runs.map((r) => r.predicted - r.created)),
    bundleKb: Math.round((await stat(outfile)).size / 1024),
  };
}

/** Cold starts of `wav` (with and without the lazy decoders in the bundle) and of `m4a`, `runs` each, interleaved. */
export async function measureColdStarts(
  clips: { wav: Uint8Array; m4a: Uint8Array },
  modelDir: string,
  runs = 5,
): Promise<ColdStarts> {
  const dir = await mkdtemp(join(tmpdir(), 'ser-cold-'));
  try {
    await writeFile(join(dir, 'clip.wav'), clips.wav);
    await writeFile(join(dir, 'clip.m4a'), clips.m4a);
    const full = await bundle(dir, 'full', modelDir, []);
    const lean = await bundle(dir, 'lean', modelDir, [withoutLazyDecoders]);
    // Resolve the external packages from the repository's node_modules.
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const wav: Run[] = [];
    const wavLean: Run[] = [];
    const m4a: Run[] = [];
    // Interleaved, so that a change in the machine's load hits all three alike.
    for (let i = 0; i < runs; i++) {
      wav.push(await runOnce(full, join(dir, 'clip.wav')));
      wavLean.push(await runOnce(lean, join(dir, 'clip.wav')));
      m4a.push(await runOnce(full, join(dir, 'clip.m4a')));
    }
    return {
      wav: await summarize(full, wav),
      wavWithoutLazyDecoders: await summarize(lean, wavLean),
      m4a: await summarize(full, m4a),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
