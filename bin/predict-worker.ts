/**
 * A `ser predict --jobs N` worker thread: loads its own predictor (ONNX session, WASM decoders), then
 * predicts the files the main thread sends, one at a time, and answers each with its outcome.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPredictor } from '../lambdas/core/predict.ts';
import { predictFile } from './predict-files.ts';

export interface WorkerSetup {
  modelDir?: string;
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
port.on('message', async (task: WorkerTask) => {
  try {
    const outcome = await predictFile(predictor, task.file, task.name, setup.maxDurationSec);
    port.postMessage({ index: task.index, outcome });
  } catch (error) {
    // Not bad input but a bug: the main thread stops the run with it.
    port.postMessage({ index: task.index, fatal: error instanceof Error ? error.stack : String(error) });
  }
});
port.postMessage({ ready: true });
