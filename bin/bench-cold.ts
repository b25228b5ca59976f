/**
 * Cold starts as the inference Lambda has them: the handler (lambdas/handlers/process-object.ts) bundled
 * with the function's own esbuild options and asset layout (lib/lambda-bundling.ts: minified ESM, source
 * maps read through NODE_OPTIONS, the MP4/WebM decoders and onnxruntime-node left in node_modules, the
 * model and fvad.wasm beside the bundle), imported by a fresh Node process pointed at a local S3 and
 * DynamoDB, which then handles one S3 event. Each phase is reported, with the process's peak RSS: one
 * run per format shows what the first file of that format costs a fresh function.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { INCOMING_PREFIX } from '../lambdas/app/object-keys.ts';
import { BUNDLED_MODEL_FOLDER } from '../lambdas/core/model/location.ts';
import {
  INFERENCE_NODE_MODULES,
  LAMBDA_ALIASES,
  LAMBDA_BUNDLING,
  LAMBDA_NODE_OPTIONS,
} from '../lib/lambda-bundling.ts';
import { handlerEnvironment, startTestAws, type TestAws } from '../test/helpers/local-aws.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Milliseconds (medians over the runs) and MB. */
export interface ColdStart {
  format: string;
  /** Spawn → exit, as the parent sees it. */
  totalMs: number;
  /** Process start → the bundle's first statement: Node's start-up, the bundle parsed, onnxruntime-node loaded. */
  bundleStartMs: number;
  /** → the handler module imported: the Lambda's init (modules evaluated, ONNX session, registry read). */
  initMs: number;
  /** The first S3 event: GetObject, the prediction, the DynamoDB writes, the result object. */
  firstEventMs: number;
  /**
   * CPU time (user + system, all threads) of the process through its init and through the first event:
   * on a loaded machine wall times include waiting for a core, CPU times hardly do.
   */
  initCpuMs: number;
  cpuMs: number;
  /** The process's peak resident set after the event (`process.resourceUsage().maxRSS`). */
  peakRssMb: number;
}

export interface ColdStarts {
  bundleKb: number;
  runs: number;
  formats: ColdStart[];
}

const BANNER_MARK = 'globalThis.__serBundleStart = performance.now();';

/** The inference bundle in `dir` as the asset lays it out; returns the bundle's size in KB. */
async function buildAsset(dir: string, modelDir: string): Promise<number> {
  const outfile = join(dir, 'index.mjs');
  await build({
    entryPoints: [join(ROOT, 'lambdas/handlers/process-object.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: LAMBDA_BUNDLING.target,
    mainFields: [...LAMBDA_BUNDLING.mainFields],
    minify: LAMBDA_BUNDLING.minify,
    sourcemap: LAMBDA_BUNDLING.sourceMap,
    sourcesContent: LAMBDA_BUNDLING.sourcesContent,
    external: [...LAMBDA_BUNDLING.externalModules, ...INFERENCE_NODE_MODULES],
    alias: LAMBDA_ALIASES,
    banner: { js: `${BANNER_MARK} ${LAMBDA_BUNDLING.banner}` },
    logLevel: 'silent',
  });
  // As inference.ts's afterBundling hook: fvad.wasm and the model beside the bundle. The packages left
  // out of the bundle resolve from the repository's node_modules.
  await copyFile(join(ROOT, 'node_modules/@echogarden/fvad-wasm/fvad.wasm'), join(dir, 'fvad.wasm'));
  await mkdir(dirname(join(dir, BUNDLED_MODEL_FOLDER)), { recursive: true });
  await symlink(resolve(modelDir), join(dir, BUNDLED_MODEL_FOLDER), 'dir');
  await writeFile(join(dir, 'package.json'), '{"type":"module"}');
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return Math.round((await stat(outfile)).size / 1024);
}

/** Imports the bundle, handles one event and prints the marks. */
const RUNNER = `const event = JSON.parse(process.argv[2]);
const { handler } = await import('./index.mjs');
const initialised = performance.now();
const initCpu = process.cpuUsage();
const context = { functionName: 'cold-start', awsRequestId: 'cold-1', getRemainingTimeInMillis: () => 60000 };
const [outcome] = await handler(event, context);
const handled = performance.now();
const cpu = process.cpuUsage();
const cpuMs = (c) => (c.user + c.system) / 1000;
const peakRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write('\\nMARKS ' + JSON.stringify({ bundleStart: globalThis.__serBundleStart, initialised, handled, initCpuMs: cpuMs(initCpu), cpuMs: cpuMs(cpu), peakRssMb, outcome: outcome?.outcome }));
`;

interface Run {
  total: number;
  bundleStart: number;
  initialised: number;
  handled: number;
  initCpuMs: number;
  cpuMs: number;
  peakRssMb: number;
}

function runOnce(dir: string, aws: TestAws, key: string): Promise<Run> {
  const event = {
    Records: [
      {
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: aws.bucket }, object: { key: encodeURIComponent(key), size: 1 } },
      },
    ],
  };
  const started = performance.now();
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, ['runner.mjs', JSON.stringify(event)], {
      cwd: dir,
      env: { PATH: process.env.PATH, NODE_OPTIONS: LAMBDA_NODE_OPTIONS, ...handlerEnvironment(aws) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const marks = out.includes('\nMARKS ') ? JSON.parse(out.slice(out.lastIndexOf('\nMARKS ') + 7)) : {};
      if (code !== 0 || marks.outcome !== 'succeeded')
        return reject(new Error(`cold-start run for ${key}: exit ${code}, outcome ${marks.outcome}`));
      resolve({ total: performance.now() - started, ...marks });
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]! * 10) / 10;
};

const summarize = (format: string, runs: Run[]): ColdStart => ({
  format,
  totalMs: median(runs.map((r) => r.total)),
  bundleStartMs: median(runs.map((r) => r.bundleStart)),
  initMs: median(runs.map((r) => r.initialised - r.bundleStart)),
  firstEventMs: median(runs.map((r) => r.handled - r.initialised)),
  initCpuMs: median(runs.map((r) => r.initCpuMs)),
  cpuMs: median(runs.map((r) => r.cpuMs)),
  peakRssMb: median(runs.map((r) => r.peakRssMb)),
});

/**
 * Cold starts of each clip (`extension` names its format in the S3 key), `runs` each, interleaved so
 * that a change in the machine's load hits every format alike. Each run's object has its own key (a
 * finished object is skipped by the handler's claim).
 */
export async function measureColdStarts(
  clips: { format: string; extension: string; bytes: Uint8Array }[],
  modelDir: string,
  runs = 5,
): Promise<ColdStarts> {
  const dir = await mkdtemp(join(tmpdir(), 'ser-cold-'));
  const aws = await startTestAws({ bucket: 'ser-cold' });
  try {
    const bundleKb = await buildAsset(dir, modelDir);
    await writeFile(join(dir, 'runner.mjs'), RUNNER);
    const results: Run[][] = clips.map(() => []);
    for (let r = 0; r < runs; r++) {
      for (const [i, clip] of clips.entries()) {
        const key = `${INCOMING_PREFIX}cold-start/${r}-${i}.${clip.extension}`;
        await aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: clip.bytes }));
        results[i]!.push(await runOnce(dir, aws, key));
      }
    }
    return { bundleKb, runs, formats: clips.map((clip, i) => summarize(clip.format, results[i]!)) };
  } finally {
    await aws.close();
    await rm(dir, { recursive: true, force: true });
  }
}
