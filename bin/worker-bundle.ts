/**
 * The `ser predict --jobs N` worker as plain JavaScript (bin/bundle-cache.mjs). A worker thread does not
 * inherit the loader of the main thread: registering tsx again cost each worker a loader thread and a
 * TypeScript transform of the whole core (~0.4 s of CPU per worker, measured with process.cpuUsage). One
 * esbuild bundle of our modules and the packages they use (resolving and loading a few hundred package
 * files cost each worker another third of its start) leaves each worker only its own work. What the
 * inference Lambda keeps out of its bundle stays out here too (lib/lambda-bundling.ts), and fvad-wasm,
 * which reads its .wasm beside it.
 */
import { fileURLToPath } from 'node:url';
import { INFERENCE_NODE_MODULES, LAMBDA_BUNDLING } from '../lib/lambda-bundling.ts';
import { freshBundle } from './bundle-cache.mjs';

/** The `ser predict` worker's JavaScript entry (bin/predict-worker.ts, bundled). */
export const predictWorkerUrl = (): Promise<URL> =>
  freshBundle({
    entry: fileURLToPath(new URL('./predict-worker.ts', import.meta.url)),
    root: fileURLToPath(new URL('..', import.meta.url)),
    name: 'predict-worker',
    external: [...INFERENCE_NODE_MODULES, '@echogarden/fvad-wasm'],
    banner: LAMBDA_BUNDLING.banner,
  });
