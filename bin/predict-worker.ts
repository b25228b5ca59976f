/**
 * A `ser predict --jobs N` worker thread: loads its own predictor (ONNX session, WASM decoders), then
 * predicts the files the main thread sends, one at a time, and answers each with its outcome. Runs as the
 * JavaScript bundle bin/worker-bundle.ts builds, so `modelDir` comes resolved from the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPredictor } from '../lambdas/core/predict.ts';
import { predictFile } from './predict-files.ts';

export interface WorkerSetup {
  modelDir: string;
  maxDurationSec: number;
}
export interface WorkerTask {
  index: number;
  file: string;
  name: string;
}

const port = parentPort;
if (!port) throw new Error('predict-worker.ts runs as a worker thread');
const setup = workerData as WorkerSetup;
const predictor = await createPredictor({ modelDir: setup.modelDir });

async function answer(task: WorkerTask): Promise<void> {
  try {
    const outcome = await predictFile(predictor, task.file, task.name, setup.maxDurationSec);
    port!.postMessage({ index: task.index, outcome });
  } catch (error) {
    // Not bad input but a bug: the main thread stops the run with it.
    port!.postMessage({ index: task.index, fatal: error instanceof Error ? error.stack : String(error) });
  }
}

// The main thread keeps more than one task queued here (so this thread never waits for its next file);
// they are predicted one after the other, as the predictor's shared decoders expect.
let queue = Promise.resolve();
port.on('message', (task: WorkerTask) => {
  queue = queue.then(() => answer(task));
});
port.postMessage({ ready: true });
