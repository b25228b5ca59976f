import { setTimeout as sleep } from 'node:timers/promises';
import { Presets, SingleBar } from 'cli-progress';
import type { SerClient, TrainingJob } from '../../client/ser-client.ts';
import { messageWithCause } from '../../lambdas/app/domain-error.ts';
import { isTerminalJobStatus, measuredValAccuracy } from '../../lambdas/app/training-schemas.ts';
import { printable } from '../printable.ts';
import { withRetries } from '../upload/retry.ts';
import { answerOf, RequestFailed } from './admin-client.ts';

/** `--wait`, `--poll` and `--timeout` of `ser admin train` and `ser admin job`. */
export interface WaitOptions {
  wait?: boolean;
  /** Seconds between polls. */
  poll: number;
  /** Longest wait, in minutes; none: until the job ends. */
  timeout?: number;
}

/** Retries of a poll that failed on the way (a dropped connection, not an answer): `ser upload`'s default. */
const POLL_RETRIES = 4;

/** How the job's progress is shown on stderr while waiting. */
interface ProgressView {
  update(job: TrainingJob): void;
  stop(): void;
}

/** The accuracy measured so far; before the first epoch, what the job is doing instead of a 0. */
function accuracyText(progress: NonNullable<TrainingJob['progress']>): string {
  const accuracy = measuredValAccuracy(progress);
  if (accuracy !== undefined) return `validation accuracy ${accuracy.toFixed(3)}`;
  return progress.epoch === 0
    ? 'preparing the dataset, no validation accuracy yet'
    : 'no validation accuracy';
}

/** One line a change of status or progress: what a log or a CI run keeps. */
function progressLine(job: TrainingJob): string {
  const p = job.progress;
  if (!p) return `${job.id}: ${job.status}`;
  const member =
    p.member !== undefined && p.members !== undefined ? ` (member ${p.member}/${p.members})` : '';
  return `${job.id}: ${job.status} epoch ${p.epoch}/${p.epochs}${member}, ${accuracyText(p)}`;
}

function linesView(): ProgressView {
  let last = '';
  return {
    update(job) {
      const line = progressLine(job);
      if (line !== last) console.error(printable(line));
      last = line;
    },
    stop() {},
  };
}

/** On a terminal: `ser upload`'s bar, over the epochs of the member being trained. */
function barView(): ProgressView {
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: 'training [{bar}] epoch {value}/{total} {member}| {status} | validation accuracy {accuracy}',
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(job) {
      const p = job.progress;
      const member = p?.member !== undefined && p.members !== undefined ? `of ${p.member}/${p.members} ` : '';
      const accuracy = measuredValAccuracy(p);
      const payload = { status: job.status, member, accuracy: accuracy?.toFixed(3) ?? '-' };
      if (!started) bar.start(p?.epochs ?? job.epochs, p?.epoch ?? 0, payload);
      else {
        if (p) bar.setTotal(p.epochs);
        bar.update(p?.epoch ?? 0, payload);
      }
      started = true;
    },
    stop: () => bar.stop(),
  };
}

/**
 * GET /training-jobs/{id} every `poll` seconds until the job is terminal, or `--timeout` passed (then its
 * last state, `timedOut`); `signal` (Ctrl-C) ends the wait with its reason.
 */
async function pollUntilTerminal(
  client: SerClient,
  id: string,
  options: WaitOptions,
  view: ProgressView,
  signal: AbortSignal,
): Promise<{ job: TrainingJob; timedOut: boolean }> {
  const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout * 60_000;
  for (;;) {
    const job = await withRetries(
      () =>
        answerOf(
          `GET /training-jobs/${id}`,
          client.GET('/training-jobs/{id}', { params: { path: { id } }, signal }),
        ),
      POLL_RETRIES,
    );
    view.update(job);
    if (isTerminalJobStatus(job.status)) return { job, timedOut: false };
    if (Date.now() >= deadline) return { job, timedOut: true };
    await sleep(options.poll * 1000, undefined, { signal });
  }
}

const resumeHint = (id: string) => `the job goes on; follow it again with ser admin job ${id} --wait`;

/**
 * Follows job `id` until it ends, its progress on stderr, then prints the job as one JSON object on
 * stdout. Exit code 0 when it SUCCEEDED, 1 when it FAILED or the wait timed out (its last state printed),
 * 130 on Ctrl-C (the job is not stopped). A failed request throws, with how to resume in its message.
 */
export async function waitForJob(command: string, client: SerClient, id: string, options: WaitOptions) {
  const shown = process.stderr.isTTY ? barView() : linesView();
  let seen = false; // a job never read (a wrong id) goes on nowhere: no resume hint then
  const view: ProgressView = {
    update(job) {
      seen = true;
      shown.update(job);
    },
    stop: () => shown.stop(),
  };
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  const ended = await pollUntilTerminal(client, id, options, view, interrupt.signal)
    .finally(() => {
      view.stop();
      process.removeListener('SIGINT', onSigint);
    })
    .catch((error: Error) => {
      if (interrupt.signal.aborted) return undefined;
      if (!seen) throw error;
      throw new RequestFailed(`${messageWithCause(error)} (${resumeHint(id)})`, { cause: error });
    });
  if (!ended) {
    console.error(printable(`ser admin ${command}: stopped waiting for job ${id}; ${resumeHint(id)}`));
    return 130;
  }
  const { job, timedOut } = ended;
  if (timedOut)
    console.error(
      printable(
        `ser admin ${command}: job ${id} is still ${job.status} after ${options.timeout} min; ${resumeHint(id)}`,
      ),
    );
  const code = job.status === 'SUCCEEDED' ? 0 : 1;
  process.exitCode = code; // before printing: a reader that closes early ends the run (ser.ts)
  process.stdout.write(`${JSON.stringify(job)}\n`);
  if (job.status === 'FAILED')
    console.error(printable(`ser admin ${command}: job ${id} FAILED${job.error ? `: ${job.error}` : ''}`));
  return code;
}
