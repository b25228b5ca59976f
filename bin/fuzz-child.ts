/**
 * A `npm run fuzz` child process (bin/fuzz-run.ts forks it): loads the predictor once (the real model,
 * as `ser predict` does), then predicts each mutated file the parent sends and answers with its outcome,
 * its time and the peak RSS of that prediction alone (the kernel's high-water mark is reset before it).
 */
import { writeFileSync } from 'node:fs';
import { isSerError } from '../lambdas/core/errors.ts';
import { createPredictor } from '../lambdas/core/predict.ts';
import { DEFAULT_MODEL_DIR } from '../lib/paths.ts';

export interface ChildTask {
  index: number;
  bytes: Uint8Array;
}

export type ChildOutcome =
  | { result: 'prediction'; emotion: string }
  /** `cause`: the exception a decoder threw that the core wrapped, as "<class> in <where>" (`core` or a package). */
  | { result: 'typed'; code: string; cause?: string; message: string }
  | { result: 'untyped'; name: string; message: string; stack?: string };

export interface ChildReply {
  index: number;
  outcome: ChildOutcome;
  ms: number;
  /** CPU time of the whole process (all threads) during the prediction. */
  cpuMs: number;
  peakRssMb: number;
}

/** Resets the process's peak RSS (Linux ≥ 4.0, /proc/self/clear_refs "5"); false where unavailable. */
const resetPeakRss = (): boolean => {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
};

/** Where an exception was thrown: 'core' (lambdas/core), the npm package, or 'other' (e.g. WASM). */
const originOf = (error: Error): string => {
  const frame = (error.stack ?? '').split('\n').find((line) => line.trimStart().startsWith('at ')) ?? '';
  if (frame.includes('/lambdas/core/')) return 'core';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame);
  return pkg ? pkg[1]! : 'other';
};

const classify = (error: unknown): ChildOutcome => {
  if (isSerError(error)) {
    const cause =
      error.cause instanceof Error
        ? `${error.cause.constructor.name} in ${originOf(error.cause)}`
        : undefined;
    return { result: 'typed', code: error.code, message: error.message, ...(cause ? { cause } : {}) };
  }
  if (error instanceof Error) {
    return { result: 'untyped', name: error.constructor.name, message: error.message, stack: error.stack };
  }
  return { result: 'untyped', name: typeof error, message: String(error) };
};

const send = (message: unknown) => process.send?.(message);
if (!process.send) throw new Error('fuzz-child.ts runs as a forked child of bin/fuzz-run.ts');

const predictor = await createPredictor({ modelDir: DEFAULT_MODEL_DIR });
const peakResets = resetPeakRss();
process.on('message', async ({ index, bytes }: ChildTask) => {
  resetPeakRss();
  const started = performance.now();
  const cpu = process.cpuUsage();
  let outcome: ChildOutcome;
  try {
    outcome = { result: 'prediction', emotion: (await predictor.predict(bytes)).emotion };
  } catch (error) {
    outcome = classify(error);
  }
  const ms = Math.round(performance.now() - started);
  const used = process.cpuUsage(cpu);
  const cpuMs = Math.round((used.user + used.system) / 1000);
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  send({ index, outcome, ms, cpuMs, peakRssMb } satisfies ChildReply);
});
send({ ready: true, peakResets });
