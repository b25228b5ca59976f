/**
 * The one wrapper that owns a training job's end, on EC2 and locally: it runs `training/job.ts` as a
 * child process (so a crash, an out-of-memory kill or a `kill -9` of the training is seen), and when
 * the child exits without having recorded SUCCEEDED or FAILED, it records FAILED with the reason and
 * frees the one-job lock. Past `deadlineMs` it stops the child and records FAILED the same way, before
 * the EC2 instance's own hard limit (`shutdown -h`) takes the machine away.
 *
 * EC2 user data: TRAINING_JOB_ID=<id> TRAINING_DEADLINE_MINUTES=<n> BUCKET_NAME=… TABLE_NAME=…
 *   npx tsx training/job-supervisor.ts        (the shell only installs, runs this and shuts down)
 * Locally, `bin/local/training-runner.ts` calls `superviseTrainingJob` in the API's process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { createDocumentClient } from '../lambdas/app/aws-clients.ts';
import { loadConfig } from '../lambdas/app/config.ts';
import { JobIdSchema, TrainingJobRepository } from '../lambdas/training/job-repository.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
/** After SIGTERM, the child gets this long to record its own end before SIGKILL. */
const STOP_GRACE_MS = 5_000;

export interface SupervisedRun {
  /** The training process, once started (tests kill it to prove the failure path). */
  readonly child: ChildProcess;
  /** Resolves once the child has exited and the job's end is recorded. */
  readonly finished: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the child (SIGTERM, then SIGKILL); the job ends FAILED with `reason`. */
  stop(reason: string): void;
}

/**
 * Records FAILED with `error` (unless the job already recorded its end: then nothing changes) and frees
 * the one-job lock if this job holds it. The supervisor's path, and the EC2 machine's exit trap's
 * (`training/machine-exit.ts`).
 */
export async function markFailed(jobId: string, env: NodeJS.ProcessEnv, error: string): Promise<void> {
  const config = loadConfig(env);
  const jobs = new TrainingJobRepository(createDocumentClient(config), config);
  await jobs.recordFailure(jobId, error);
  await jobs.releaseLock(jobId);
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed (${signal})` : `exited with code ${code}`;
}

/** Starts `training/job.ts` for `jobId` and records FAILED (and frees the lock) if it ends abnormally. */
export function superviseTrainingJob(options: {
  jobId: string;
  env: NodeJS.ProcessEnv;
  deadlineMs?: number;
  log?: (line: string) => void;
}): SupervisedRun {
  const { jobId, env } = options;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const child = spawn(process.execPath, ['--import', 'tsx', 'training/job.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...env, TRAINING_JOB_ID: jobId },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim()) log(line);
    });
  }
  let stopReason: string | undefined;
  const stop = (reason: string) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    stopReason ??= reason;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS).unref();
  };
  const deadline = options.deadlineMs
    ? setTimeout(
        () => stop(`it reached its time limit (${Math.round(options.deadlineMs! / 60_000)} min)`),
        options.deadlineMs,
      )
    : undefined;
  const finished = (async () => {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(deadline);
    if (code !== 0 || stopReason) {
      const why = stopReason ?? `the training process ${describeExit(code, signal)}`;
      await markFailed(jobId, env, `Training stopped: ${why} before the job recorded its end`);
    }
    log(`training job ${jobId}: process ${describeExit(code, signal)}`);
    return { code, signal };
  })();
  return { child, finished, stop };
}

const SupervisorEnvSchema = z.object({
  TRAINING_JOB_ID: JobIdSchema,
  TRAINING_DEADLINE_MINUTES: z.coerce.number().positive().optional(),
});

if (import.meta.url === `file://${process.argv[1]}`) {
  const settings = SupervisorEnvSchema.parse(process.env);
  const run = superviseTrainingJob({
    jobId: settings.TRAINING_JOB_ID,
    env: process.env,
    ...(settings.TRAINING_DEADLINE_MINUTES
      ? { deadlineMs: settings.TRAINING_DEADLINE_MINUTES * 60_000 }
      : {}),
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.on(signal, () => run.stop(`the supervisor received ${signal}`));
  const { code } = await run.finished;
  process.exit(code === 0 ? 0 : 1);
}
