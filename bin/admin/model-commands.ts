import type { SerClient } from '../../client/ser-client.ts';
import { CreateTrainingJobSchema } from '../../lambdas/app/training-schemas.ts';
import { type AdminOptions, adminClient, answerOf, jsonLines, reportingFailures } from './admin-client.ts';
import { type WaitOptions, waitForJob } from './job-wait.ts';

export interface TrainOptions extends AdminOptions, WaitOptions {
  dataset?: string;
  epochs?: number;
  augment?: boolean;
  activate?: string;
}

/**
 * POST /training-jobs' body checked and completed by the API's own schema: a bad option is a usage error
 * (exit 2) before any request, and the typed client gets every field (the contract marks defaulted ones
 * as present).
 */
function trainingRequest({ dataset, epochs, augment, activate }: TrainOptions) {
  const given = { dataset, epochs, augment, activate };
  const parsed = CreateTrainingJobSchema.safeParse(
    Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
  );
  if (parsed.success) return parsed.data;
  const why = parsed.error.issues.map((issue) => `--${issue.path.join('.')}: ${issue.message}`).join('; ');
  throw new Error(`not a valid training job: ${why}`);
}

/** One request's answer on stdout, as one JSON object or (`lines`) one per line; exit code 0, else 1. */
async function printAnswer<T>(
  command: string,
  options: AdminOptions,
  request: (client: SerClient) => Promise<T>,
  print: (answer: T) => string = (answer) => `${JSON.stringify(answer)}\n`,
): Promise<number> {
  const client = adminClient(options);
  return reportingFailures(command, async () => {
    const answer = await request(client);
    process.exitCode = 0; // before printing: a reader that closes early ends the run (ser.ts)
    process.stdout.write(print(answer));
    return 0;
  });
}

/**
 * `ser admin train`: queues a training job (POST /training-jobs) and prints `{ id, status }`; with
 * `--wait`, follows it to its end instead and prints the job (job-wait.ts).
 */
export function trainFromCommandLine(options: TrainOptions): Promise<number> {
  const body = trainingRequest(options);
  const queue = (client: SerClient) =>
    answerOf('POST /training-jobs', client.POST('/training-jobs', { body }));
  if (!options.wait) return printAnswer('train', options, queue);
  const client = adminClient(options);
  return reportingFailures('train', async () =>
    waitForJob('train', client, (await queue(client)).id, options),
  );
}

/** `ser admin jobs`: the training jobs, newest first, one JSON object per line. */
export const jobsFromCommandLine = (options: AdminOptions): Promise<number> =>
  printAnswer(
    'jobs',
    options,
    async (client) => (await answerOf('GET /training-jobs', client.GET('/training-jobs'))).items,
    jsonLines,
  );

/**
 * `ser admin job <id>`: one training job (status, progress, scores, activation) as one JSON object; with
 * `--wait`, once it has ended.
 */
export function jobFromCommandLine(id: string, options: AdminOptions & WaitOptions): Promise<number> {
  if (!options.wait)
    return printAnswer('job', options, (client) =>
      answerOf(`GET /training-jobs/${id}`, client.GET('/training-jobs/{id}', { params: { path: { id } } })),
    );
  const client = adminClient(options);
  return reportingFailures('job', () => waitForJob('job', client, id, options));
}

/** `ser admin models`: the registry, one version per line (each says whether it is the active one). */
export const modelsFromCommandLine = (options: AdminOptions): Promise<number> =>
  printAnswer(
    'models',
    options,
    async (client) => (await answerOf('GET /models', client.GET('/models'))).items,
    jsonLines,
  );

/** `ser admin activate <version>`: puts a registered version in service (also the rollback). */
export const activateFromCommandLine = (version: string, options: AdminOptions): Promise<number> =>
  printAnswer('activate', options, (client) =>
    answerOf(
      `POST /models/${version}/activate`,
      client.POST('/models/{version}/activate', { params: { path: { version } } }),
    ),
  );
