import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { TrainingLauncher } from '../../lambdas/training/launcher.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LocalTrainingRunner extends TrainingLauncher {
  /** Resolves when the running job's process (if any) has exited. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The local stand-in for the EC2 training instance: the same `training/job.ts` as a child process, with
 * the local stack's endpoints and credentials in its environment. One at a time (the job lock already
 * says so; this is the belt to its braces).
 */
export function createLocalTrainingRunner(options: {
  env: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}): LocalTrainingRunner {
  const log = options.log ?? (() => {});
  let running: { child: ChildProcess; exited: Promise<unknown> } | undefined;

  return {
    async launch(jobId) {
      if (running) throw new Error('A training process is already running');
      const child = spawn(process.execPath, ['--import', 'tsx', 'training/job.ts'], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...options.env, TRAINING_JOB_ID: jobId },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = once(child, 'exit').then(([code]) => {
        running = undefined;
        log(`training job ${jobId}: process exited (${code})`);
      });
      running = { child, exited };
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          for (const line of chunk.split('\n'))
            if (line.trim()) log(`training ${jobId.slice(0, 8)}: ${line}`);
        });
      }
      log(`training job ${jobId}: started process ${child.pid}`);
      return { launchedAs: `pid ${child.pid}` };
    },
    async idle() {
      await running?.exited;
    },
    async close() {
      if (running) {
        running.child.kill('SIGTERM');
        await running.exited;
      }
    },
  };
}
