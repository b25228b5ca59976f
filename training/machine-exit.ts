/**
 * Run by the EC2 training machine's EXIT trap (lib/constructs/training.ts) when its user data ended with
 * an error — the download, `npm ci`, or the supervisor itself killed — so that a job the supervisor could
 * not end is FAILED now, naming the machine's log, and the one-job lock is free, instead of RUNNING
 * until its deadline. A job that recorded its end is left as it is (`markFailed`). The trap runs this only
 * when node_modules exists; without it (or when this fails), the trap sends the same two writes itself
 * (`failureRequestDocuments`).
 *
 * Usage: TRAINING_JOB_ID=<id> MACHINE_EXIT_CODE=<n> BUCKET_NAME=… TABLE_NAME=… npx tsx training/machine-exit.ts
 */
import * as z from 'zod';
import { loadConfig } from '../lambdas/app/config.ts';
import { trainingLogKey } from '../lambdas/app/object-keys.ts';
import { JobIdSchema, machineExitMessage } from '../lambdas/training/job-repository.ts';
import { s3Location } from '../lambdas/training/model-registry.ts';
import { markFailed } from './job-supervisor.ts';

const MachineExitEnvSchema = z.object({
  TRAINING_JOB_ID: JobIdSchema,
  MACHINE_EXIT_CODE: z.coerce.number().int(),
});

if (import.meta.url === `file://${process.argv[1]}`) {
  const { TRAINING_JOB_ID: jobId, MACHINE_EXIT_CODE: code } = MachineExitEnvSchema.parse(process.env);
  const machineLog = s3Location(loadConfig(process.env).bucketName, trainingLogKey(jobId));
  await markFailed(jobId, process.env, machineExitMessage(code, machineLog));
}
